-- Reserved for the invoices area; no changes yet.
SELECT 1;
