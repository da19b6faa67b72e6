-- Invoice alerts (automatic reminders about open invoices) and payment
-- receipt settings. Messages themselves go through the outbox (0010); an
-- alert's cause is `alert:{rule_id}:{invoice_id}`, a receipt's
-- `receipt:{payment_id}`, so the outbox's dedupe key sends each once.
CREATE TABLE invoice_alerts (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    email_template_id TEXT REFERENCES email_templates(id),
    sms_template_id TEXT REFERENCES sms_templates(id),
    timing TEXT NOT NULL DEFAULT 'after_due'
        CHECK (timing IN ('after_due', 'before_due', 'at_creation')),
    days BIGINT NOT NULL DEFAULT 0 CHECK (days BETWEEN 0 AND 365),
    enabled BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (email_template_id IS NOT NULL OR sms_template_id IS NOT NULL)
);
CREATE INDEX invoice_alerts_company ON invoice_alerts (company_id, enabled);

CREATE TABLE receipt_settings (
    company_id TEXT PRIMARY KEY REFERENCES companies(id),
    email_template_id TEXT REFERENCES email_templates(id),
    sms_template_id TEXT REFERENCES sms_templates(id),
    updated_at TIMESTAMPTZ NOT NULL
);

-- `at_creation` rules look invoices up by issue date (due-date rules use
-- invoices_company_status).
CREATE INDEX invoices_company_status_issue ON invoices (company_id, status, issue_date);
