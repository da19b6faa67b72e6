-- Reserved for the customers area; no changes yet.
SELECT 1;
