-- Office payments and refunds.

-- The office form's nonce: a double submit of one form records one payment.
ALTER TABLE payments ADD COLUMN office_key TEXT;
CREATE UNIQUE INDEX payments_office_key ON payments (company_id, office_key);
-- The office payments list: newest first within a company.
CREATE INDEX payments_company_created ON payments (company_id, created_at);

-- What refunds gave back to an invoice.
CREATE INDEX refund_allocations_invoice ON refund_allocations (invoice_id);
