-- Reserved for message templates.
SELECT 1;
