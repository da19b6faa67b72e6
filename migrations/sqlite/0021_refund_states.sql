-- Refunds as a state machine (docs/PAYMENT_STATES.md): a card refund is
-- `pending` from the moment it is recorded until its processor confirms it
-- (`succeeded`) or refuses or fails it (`failed`, its bookkeeping undone and
-- the row kept for history). Pending refunds are sent again, or asked about,
-- by the jobs with backoff, always at the processor account that made them.
ALTER TABLE refunds ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'succeeded', 'failed'));
ALTER TABLE refunds ADD COLUMN processor_kind TEXT;
ALTER TABLE refunds ADD COLUMN processor_account TEXT;
-- Times fieldpay tried to reach the processor about the refund.
ALTER TABLE refunds ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
-- When the jobs may next send it or ask about it (pending refunds only); a
-- send in progress moves it on, so another worker leaves it alone.
ALTER TABLE refunds ADD COLUMN next_attempt_at TIMESTAMP;
-- Why the last try did not settle it, or why it failed.
ALTER TABLE refunds ADD COLUMN last_error TEXT;
ALTER TABLE refunds ADD COLUMN settled_at TIMESTAMP;

-- Refunds recorded before: confirmed at the processor, or cash and check
-- (no processor), are done; a card refund never confirmed is pending and due.
UPDATE refunds SET status = 'succeeded', settled_at = created_at
WHERE processor_refund_id IS NOT NULL
   OR payment_id IN (SELECT id FROM payments WHERE method <> 'card');
UPDATE refunds SET next_attempt_at = created_at WHERE status = 'pending';

CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'pending';

-- Stripe events that cannot be applied yet (a refund of a payment not
-- recorded yet) are tried again with backoff, and flagged to the office
-- after days instead of being tried forever.
ALTER TABLE stripe_events ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stripe_events ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE stripe_events ADD COLUMN last_error TEXT;
ALTER TABLE stripe_events ADD COLUMN flagged_at TIMESTAMP;
