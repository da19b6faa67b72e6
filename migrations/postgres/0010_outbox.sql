-- The outbox (SECURITY.md 19) and SMS opt-outs (SECURITY.md 20).
-- A message is written here in the transaction of its cause and delivered by
-- the jobs loop. Its body is rendered at delivery; only a copy with the
-- payment-link token redacted is kept (SECURITY.md 1).

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    invoice_id TEXT REFERENCES invoices(id),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient TEXT NOT NULL,
    template_id TEXT NOT NULL,
    cause TEXT NOT NULL,
    -- cause|channel|recipient: a retried cause never queues a second copy.
    dedupe_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    last_error TEXT,
    subject TEXT,
    body_redacted TEXT,
    provider_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_customer ON outbox (company_id, customer_id, created_at);

CREATE TABLE sms_opt_outs (
    company_id TEXT NOT NULL REFERENCES companies(id),
    phone TEXT NOT NULL,
    opted_out_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (company_id, phone)
);
