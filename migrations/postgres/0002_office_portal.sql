-- Office and portal sign-in, company invoice settings, office payments and
-- refunds, voiding, and external ids for imports.

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('office', 'portal')),
    -- An office user's id, or a customer's id for the portal.
    principal_id TEXT NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_principal ON sessions (kind, principal_id);

ALTER TABLE office_users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE office_users ADD COLUMN disabled_at TIMESTAMPTZ;

ALTER TABLE companies ADD COLUMN payment_link_enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE companies ADD COLUMN payment_link_target TEXT NOT NULL DEFAULT 'public'
    CHECK (payment_link_target IN ('public', 'portal'));
ALTER TABLE companies ADD COLUMN logo_type TEXT;
ALTER TABLE companies ADD COLUMN logo BYTEA;

ALTER TABLE payments ADD COLUMN check_number TEXT;
ALTER TABLE payments ADD COLUMN recorded_by TEXT;

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    payment_id TEXT NOT NULL REFERENCES payments(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    processor_refund_id TEXT,
    idempotency_key TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (company_id, idempotency_key)
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- What each refund gave back to each invoice.
CREATE TABLE refund_allocations (
    refund_id TEXT NOT NULL REFERENCES refunds(id),
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (refund_id, invoice_id)
);

ALTER TABLE invoices ADD COLUMN voided_at TIMESTAMPTZ;
ALTER TABLE invoices ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX invoices_external ON invoices (company_id, external_id);
ALTER TABLE customers ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX customers_external ON customers (company_id, external_id);
ALTER TABLE properties ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX properties_external ON properties (company_id, external_id);

ALTER TABLE payment_methods ADD COLUMN is_default BIGINT NOT NULL DEFAULT 0;

-- Customer portal accounts: a password set from an invitation, or one-time
-- sign-in links sent to the email on file.
CREATE TABLE portal_accounts (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    email TEXT NOT NULL,
    password_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX portal_accounts_email ON portal_accounts (company_id, email);

CREATE TABLE portal_tokens (
    token_hash TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'sign_in')),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
