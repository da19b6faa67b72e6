//! Messaging: template.
