//! Tests for messages.
