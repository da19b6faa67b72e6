//! Tests for the office_invoices area.
