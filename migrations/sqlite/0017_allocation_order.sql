-- The order a payment's allocations were made in, so a refund reverses them
-- last first on every database (SQLite's rowid has no PostgreSQL twin).
ALTER TABLE payment_allocations ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
UPDATE payment_allocations SET position = rowid;
