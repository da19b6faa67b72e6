-- Spanish for customers: the language a customer reads (NULL: the browser's,
-- then the company's default), the company's default, and each template's
-- translations as JSON ({"es": {...}}).
ALTER TABLE customers ADD COLUMN language TEXT CHECK (language IN ('en', 'es'));
ALTER TABLE companies ADD COLUMN language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es'));
ALTER TABLE email_templates ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sms_templates ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
