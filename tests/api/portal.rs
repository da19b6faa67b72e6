//! Tests for the portal area.
