-- Reserved for the office_payments area; no changes yet.
SELECT 1;
