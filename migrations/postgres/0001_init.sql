-- fieldpay schema, PostgreSQL. The same tables as migrations/sqlite; SQLite's
-- INTEGER is BIGINT here, TIMESTAMP is TIMESTAMPTZ, BLOB is BYTEA.

-- SQLite's group_concat(value, separator), which the shared statements use.
CREATE FUNCTION fieldpay_concat_step(acc TEXT, value TEXT, separator TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE WHEN value IS NULL THEN acc WHEN acc IS NULL THEN value
                   ELSE acc || separator || value END $$;
CREATE AGGREGATE group_concat(TEXT, TEXT) (SFUNC = fieldpay_concat_step, STYPE = TEXT);

-- fieldpay schema. Written so the same statements run on PostgreSQL:
-- integer minor units, text ids, UTC timestamps bound from Rust, $N placeholders.

CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL DEFAULT 'usd',
    time_zone TEXT NOT NULL DEFAULT 'America/Chicago',
    base_url TEXT,
    accent_color TEXT NOT NULL DEFAULT '#1d5fbf',
    next_invoice_number BIGINT NOT NULL DEFAULT 1001,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE office_users (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    billing_address TEXT,
    processor_customer_id TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_company ON customers (company_id, name);

CREATE TABLE properties (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    address TEXT NOT NULL,
    resident_customer_id TEXT NOT NULL REFERENCES customers(id),
    bill_to_customer_id TEXT NOT NULL REFERENCES customers(id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX properties_bill_to ON properties (company_id, bill_to_customer_id);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    number TEXT NOT NULL,
    property_id TEXT NOT NULL REFERENCES properties(id),
    bill_to_customer_id TEXT NOT NULL REFERENCES customers(id),
    issue_date DATE NOT NULL,
    due_date DATE NOT NULL,
    currency TEXT NOT NULL,
    total BIGINT NOT NULL CHECK (total >= 0),
    applied BIGINT NOT NULL DEFAULT 0 CHECK (applied >= 0),
    refunded BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    balance BIGINT NOT NULL CHECK (balance >= 0 AND balance = total - applied + refunded),
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    -- The payment attempt that is charging this invoice right now; released when it settles.
    locked_by_attempt TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (company_id, number),
    CHECK (status <> 'paid' OR balance = 0)
);
-- Leads with the customer so the pay page never walks the whole company.
CREATE INDEX invoices_bill_to ON invoices (bill_to_customer_id, company_id, status);
CREATE INDEX invoices_company_status ON invoices (company_id, status, due_date);

CREATE TABLE invoice_lines (
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    position BIGINT NOT NULL,
    description TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    amount BIGINT NOT NULL CHECK (amount = quantity * unit_price),
    PRIMARY KEY (invoice_id, position)
);

CREATE TABLE payment_links (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL UNIQUE REFERENCES customers(id),
    generation BIGINT NOT NULL DEFAULT 1,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ
);

CREATE TABLE payment_methods (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    processor_method_id TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month BIGINT NOT NULL,
    exp_year BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    removed_at TIMESTAMPTZ
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id);

CREATE TABLE autopay_enrollments (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    payment_method_id TEXT NOT NULL REFERENCES payment_methods(id),
    consent_text TEXT NOT NULL,
    consent_at TIMESTAMPTZ NOT NULL,
    consent_ip TEXT NOT NULL,
    consent_user_agent TEXT NOT NULL,
    channel TEXT NOT NULL,
    -- Invoices due on or after this day are charged automatically.
    starts_on DATE NOT NULL,
    cancelled_at TIMESTAMPTZ
);
CREATE INDEX autopay_customer ON autopay_enrollments (customer_id, cancelled_at);

-- Written before the processor is called; its id is the processor's idempotency key.
CREATE TABLE payment_attempts (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    idempotency_key TEXT NOT NULL,
    request_fingerprint TEXT NOT NULL,
    channel TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    -- JSON array of {invoice_id, amount} planned at the time of the attempt.
    plan TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    -- JSON: the enrollment to create if the charge succeeds (consent record), or null.
    enroll TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'failed')),
    processor_charge_id TEXT,
    decline_code TEXT,
    response_status BIGINT,
    response_body TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (company_id, customer_id, idempotency_key)
);
CREATE INDEX payment_attempts_pending ON payment_attempts (status, created_at);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    attempt_id TEXT UNIQUE REFERENCES payment_attempts(id),
    channel TEXT NOT NULL CHECK (channel IN ('quick_pay', 'portal', 'office', 'autopay', 'api')),
    method TEXT NOT NULL CHECK (method IN ('card', 'cash', 'check')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    processor_charge_id TEXT UNIQUE,
    card_brand TEXT,
    card_last4 TEXT,
    refunded BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_customer ON payments (company_id, customer_id, created_at);

CREATE TABLE payment_allocations (
    payment_id TEXT NOT NULL REFERENCES payments(id),
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (payment_id, invoice_id)
);
CREATE INDEX payment_allocations_invoice ON payment_allocations (invoice_id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_company ON audit_log (company_id, at);
