-- Reserved for the import area; no changes yet.
SELECT 1;
