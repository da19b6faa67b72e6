//! Invoice and statement PDFs as a reader sees them.
