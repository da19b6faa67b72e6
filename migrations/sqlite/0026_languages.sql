-- Spanish for customers: the language a customer reads (NULL: the browser's,
-- then the company's default) and the company's default.
ALTER TABLE customers ADD COLUMN language TEXT CHECK (language IN ('en', 'es'));
ALTER TABLE companies ADD COLUMN language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es'));
