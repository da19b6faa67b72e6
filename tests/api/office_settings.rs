//! Tests for the office_settings area.
