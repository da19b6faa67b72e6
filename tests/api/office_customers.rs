//! Tests for the office_customers area.
