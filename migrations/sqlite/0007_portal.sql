-- Reserved for the portal area; no changes yet.
SELECT 1;
