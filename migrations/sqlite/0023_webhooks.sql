-- Outbound webhooks (CONTRACT.md "Outbound webhooks"; SECURITY.md 26).
--
-- An event is written in the transaction of the change it reports, with one
-- delivery per endpoint subscribed to its type (an outbox: no event without
-- its change, no change without its event). The jobs claim due deliveries,
-- send them, and log every try.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    url TEXT NOT NULL,
    -- The subscribed event types, space-separated (`invoice.paid payment.succeeded`).
    events TEXT NOT NULL,
    -- The signing secret, sealed with the server secret (crate::crypto::KeyBox,
    -- as processor keys are); shown in full once, when the endpoint is made.
    secret_sealed TEXT NOT NULL,
    secret_hint TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    -- Since when every try has failed (no 2xx since); NULL while it works.
    failing_since TIMESTAMP,
    disabled_at TIMESTAMP,
    disabled_reason TEXT
);
CREATE INDEX webhook_endpoints_company ON webhook_endpoints (company_id, created_at);

CREATE TABLE webhook_events (
    -- `evt_…`: the `webhook-id` header, the same on every try.
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    type TEXT NOT NULL,
    -- The request body exactly as sent: {id, type, created_at, data}.
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_events_company ON webhook_events (company_id, created_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id TEXT NOT NULL REFERENCES webhook_events(id),
    -- pending: not tried yet (or asked again); failed: the last try failed and
    -- another is due at next_attempt_at; succeeded: a 2xx came back;
    -- abandoned: out of tries, or the endpoint was turned off.
    status TEXT NOT NULL CHECK (status IN ('pending', 'failed', 'succeeded', 'abandoned')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Due when status is pending or failed and this has passed. A worker that
    -- claims the delivery sets it and claimed_until to the claim's end: a
    -- worker that dies leaves it due again then.
    next_attempt_at TIMESTAMP,
    claimed_until TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_response_status INTEGER,
    last_duration_ms INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every try of a delivery, for the endpoint's log.
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    response_status INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

-- Emails to a company's office (its owners), not to customers: plain text
-- written in the transaction of their cause and sent by the jobs, once per
-- cause. The customer outbox cannot carry them (it needs a customer and a
-- template).
CREATE TABLE office_emails (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- cause|recipient, e.g. `webhook_disabled:{endpoint}:{at}|owner@…`.
    dedupe_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX office_emails_due ON office_emails (status, next_attempt_at);
