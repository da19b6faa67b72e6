//! Tests for templates.
