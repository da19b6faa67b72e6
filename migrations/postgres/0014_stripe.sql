-- Per-company processor settings (Stripe keys encrypted at rest) and Stripe webhook events.

-- Which processor a company takes cards through. No row: the built-in
-- sandbox. Secret keys are sealed with AES-256-GCM under a key derived from
-- the server secret (crate::crypto::KeyBox); only a masked form is shown.
CREATE TABLE processor_settings (
    company_id TEXT PRIMARY KEY REFERENCES companies(id),
    kind TEXT NOT NULL CHECK (kind IN ('sandbox', 'stripe')),
    secret_key_sealed TEXT,
    secret_key_hint TEXT,
    publishable_key TEXT,
    webhook_secret_sealed TEXT,
    webhook_secret_hint TEXT,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Every Stripe event received, once: a replay of an event id does nothing.
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT,
    received_at TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ,
    result TEXT,
    UNIQUE (company_id, event_id)
);
CREATE INDEX stripe_events_unprocessed ON stripe_events (processed_at, received_at);

-- Disputes (chargebacks) opened at Stripe, for the office to answer there.
CREATE TABLE processor_disputes (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    processor_dispute_id TEXT NOT NULL,
    processor_charge_id TEXT,
    payment_id TEXT REFERENCES payments(id),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (company_id, processor_dispute_id)
);

-- A refund made at the processor (Stripe's dashboard) is recorded once.
CREATE UNIQUE INDEX refunds_processor_refund ON refunds (company_id, processor_refund_id)
    WHERE processor_refund_id IS NOT NULL;
