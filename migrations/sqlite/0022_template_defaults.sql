-- A company's default email template and default SMS template: what
-- "send" uses when no template is chosen (the office's Send now,
-- `POST /api/v1/invoices/{id}/send`, `POST /api/v1/customers/{id}/send-link`).
-- At most one of each per company; deleting it leaves no default.
ALTER TABLE email_templates ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0
    CHECK (is_default IN (0, 1));
ALTER TABLE sms_templates ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0
    CHECK (is_default IN (0, 1));
CREATE UNIQUE INDEX email_templates_default ON email_templates (company_id) WHERE is_default = 1;
CREATE UNIQUE INDEX sms_templates_default ON sms_templates (company_id) WHERE is_default = 1;
