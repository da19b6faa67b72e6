-- Reserved for the outbox and SMS opt-outs.
SELECT 1;
