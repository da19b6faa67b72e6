-- The order a payment's allocations were made in, so a refund reverses them
-- last first.
ALTER TABLE payment_allocations ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
