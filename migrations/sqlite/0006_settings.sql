-- Reserved for the settings area; no changes yet.
SELECT 1;
