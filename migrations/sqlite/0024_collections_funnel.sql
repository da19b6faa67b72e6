-- The collections funnel: which sent messages carried a payment link, and
-- when customers opened their link. An open row names the customer, never
-- the token (SECURITY.md 1); the pay page writes at most one an hour per link.
ALTER TABLE outbox ADD COLUMN carries_link INTEGER NOT NULL DEFAULT 0
    CHECK (carries_link IN (0, 1));
-- Messages sent before this column existed: their kept copy shows where the
-- link's token was redacted.
UPDATE outbox SET carries_link = 1
    WHERE status = 'sent' AND body_redacted LIKE '%/pay/[link]%';
CREATE INDEX outbox_sent_links ON outbox (company_id, sent_at) WHERE carries_link = 1;

CREATE TABLE link_opens (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    opened_at TIMESTAMP NOT NULL
);
CREATE INDEX link_opens_customer ON link_opens (company_id, customer_id, opened_at);
