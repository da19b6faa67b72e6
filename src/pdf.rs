//! Invoice and statement PDFs.
