//! Pure autopay rules: when an invoice is charged, retry schedule, decline kinds.
