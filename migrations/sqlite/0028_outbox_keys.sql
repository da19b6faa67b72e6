-- The outbox without its stored de-duplication key: a retried cause never
-- queues a second copy to the same recipient by a unique index on the
-- columns themselves. A cause names one customer's invoice, payment or send
-- (an invoice's bill-to customer never changes), so the customer leads the
-- key: the same index serves a customer's messages and the "already queued"
-- checks, and the alerts, queued customer by customer, insert into it in
-- order. The company's messages, newest first, have an index of their own
-- that only ever appends.
--
-- SQLite cannot drop a column that has a UNIQUE constraint, so the table is
-- built again with the same columns in the same order. The office's notes
-- refer to it and are kept aside meanwhile; the notes table is made again
-- after it, so that tables stay listed after the tables they refer to.
CREATE TABLE message_notes_kept AS SELECT message_id, company_id, note FROM message_notes;
DROP TABLE message_notes;

ALTER TABLE outbox RENAME TO outbox_before;
DROP INDEX outbox_due;
DROP INDEX outbox_customer;
DROP INDEX outbox_sent_links;

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    invoice_id TEXT REFERENCES invoices(id),
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient TEXT NOT NULL,
    template_id TEXT NOT NULL,
    cause TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    subject TEXT,
    body_redacted TEXT,
    provider_id TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    carries_link INTEGER NOT NULL DEFAULT 0 CHECK (carries_link IN (0, 1))
);
INSERT INTO outbox (id, company_id, customer_id, invoice_id, channel, recipient, template_id,
                    cause, status, attempts, next_attempt_at, claimed_until, last_error,
                    subject, body_redacted, provider_id, created_at, sent_at, carries_link)
SELECT id, company_id, customer_id, invoice_id, channel, recipient, template_id,
       cause, status, attempts, next_attempt_at, claimed_until, last_error,
       subject, body_redacted, provider_id, created_at, sent_at, carries_link
FROM outbox_before ORDER BY rowid;
DROP TABLE outbox_before;

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_sent_links ON outbox (company_id, sent_at) WHERE carries_link = 1;
CREATE UNIQUE INDEX outbox_dedupe ON outbox (customer_id, cause, channel, recipient);
CREATE INDEX outbox_company ON outbox (company_id, created_at);

CREATE TABLE message_notes (
    message_id TEXT PRIMARY KEY REFERENCES outbox(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    note TEXT NOT NULL
);
INSERT INTO message_notes (message_id, company_id, note)
SELECT message_id, company_id, note FROM message_notes_kept;
DROP TABLE message_notes_kept;
