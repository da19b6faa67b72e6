-- The outbox without its stored de-duplication key (see
-- migrations/sqlite/0028_outbox_keys.sql, which SQLite needs to build the
-- table again for): dropping the column drops its unique constraint.
ALTER TABLE outbox DROP COLUMN dedupe_key;
DROP INDEX outbox_customer;
CREATE UNIQUE INDEX outbox_dedupe ON outbox (customer_id, cause, channel, recipient);
CREATE INDEX outbox_company ON outbox (company_id, created_at);
