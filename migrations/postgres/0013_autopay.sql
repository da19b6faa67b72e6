-- Autopay: company settings, office enrollment details, a card per property,
-- the retry state of each invoice, what each settled autopay attempt came to
-- (the office's run results), and markers of notices and card reminders
-- already queued. Charges themselves are payment_attempts with channel
-- 'autopay' (0001): the attempt row is written first and its id is the
-- processor's idempotency key.

-- Office enrollments name who enrolled the customer and how the customer
-- gave consent (for example "by phone, Nov 28").
ALTER TABLE autopay_enrollments ADD COLUMN enrolled_by TEXT;
ALTER TABLE autopay_enrollments ADD COLUMN consent_note TEXT;
-- Active enrollments of a company: where each scheduler run starts.
CREATE INDEX autopay_company_active ON autopay_enrollments (company_id, cancelled_at);

CREATE TABLE autopay_settings (
    company_id TEXT PRIMARY KEY REFERENCES companies(id),
    timing TEXT NOT NULL DEFAULT 'due_date' CHECK (timing IN ('due_date', 'after_issue')),
    days_after_issue BIGINT NOT NULL DEFAULT 0 CHECK (days_after_issue BETWEEN 0 AND 90),
    charge_hour BIGINT NOT NULL DEFAULT 9 CHECK (charge_hour BETWEEN 0 AND 23),
    charge_grouping TEXT NOT NULL DEFAULT 'per_invoice' CHECK (charge_grouping IN ('per_invoice', 'per_customer')),
    -- Days after the first charge day: "3,5,7" (at most 8, each 1..21).
    retry_days TEXT NOT NULL DEFAULT '3,5,7',
    -- A notice this many days before a charge (0: none).
    notice_days BIGINT NOT NULL DEFAULT 0 CHECK (notice_days BETWEEN 0 AND 14),
    notice_email_template_id TEXT REFERENCES email_templates(id),
    notice_sms_template_id TEXT REFERENCES sms_templates(id),
    receipt_email_template_id TEXT REFERENCES email_templates(id),
    receipt_sms_template_id TEXT REFERENCES sms_templates(id),
    decline_email_template_id TEXT REFERENCES email_templates(id),
    decline_sms_template_id TEXT REFERENCES sms_templates(id),
    expiring_email_template_id TEXT REFERENCES email_templates(id),
    expiring_sms_template_id TEXT REFERENCES sms_templates(id),
    updated_at TIMESTAMPTZ NOT NULL
);

-- A different card for one property of an enrolled customer (landlords).
-- Tied to the enrollment: a new enrollment starts without overrides.
CREATE TABLE autopay_property_methods (
    enrollment_id TEXT NOT NULL REFERENCES autopay_enrollments(id),
    property_id TEXT NOT NULL REFERENCES properties(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    payment_method_id TEXT NOT NULL REFERENCES payment_methods(id),
    set_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (enrollment_id, property_id)
);

-- An invoice autopay has tried: retrying (next_try_on), failed (back to
-- manual payment: the office's "Autopay problems"), or paid.
CREATE TABLE autopay_items (
    invoice_id TEXT PRIMARY KEY REFERENCES invoices(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    charge_on DATE NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0 CHECK (failures >= 0),
    status TEXT NOT NULL CHECK (status IN ('retrying', 'failed', 'paid')),
    next_try_on DATE,
    last_code TEXT,
    last_attempt_id TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (status <> 'retrying' OR next_try_on IS NOT NULL)
);
CREATE INDEX autopay_items_company ON autopay_items (company_id, status, next_try_on);

-- What each settled autopay attempt came to, written once in the
-- transaction that settles it (by the run or by reconciliation).
CREATE TABLE autopay_results (
    attempt_id TEXT PRIMARY KEY REFERENCES payment_attempts(id),
    company_id TEXT NOT NULL REFERENCES companies(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('paid', 'retry', 'dropped', 'not_charged')),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    code TEXT,
    payment_id TEXT,
    next_try_on DATE,
    invoice_numbers TEXT NOT NULL,
    settled_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX autopay_results_company ON autopay_results (company_id, settled_at);

-- Notices and card reminders already queued, by their outbox cause
-- (`autopay_notice:{invoice}:{date}`, `card_expiring:{method}:{yyyy-mm}`),
-- so a run reads instead of re-queueing every minute.
CREATE TABLE autopay_marks (
    mark TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    created_at TIMESTAMPTZ NOT NULL
);
