//! Email and SMS templates.
