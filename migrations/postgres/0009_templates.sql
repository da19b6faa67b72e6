-- Message templates: a company's email and SMS templates (minijinja sources,
-- checked before they are saved).
CREATE TABLE email_templates (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    subject TEXT NOT NULL,
    html_body TEXT NOT NULL,
    text_body TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX email_templates_company ON email_templates (company_id, name);

CREATE TABLE sms_templates (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sms_templates_company ON sms_templates (company_id, name);
