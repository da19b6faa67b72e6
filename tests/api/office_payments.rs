//! Tests for the office_payments area.
