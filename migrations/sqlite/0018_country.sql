-- The company's country (ISO 3166 alpha-2): the region of phone numbers
-- written without a country code. Customer phone numbers are stored in E.164
-- from now on; numbers written before are normalised at start where they
-- parse, and listed in the log where they do not (they are left as they are).
ALTER TABLE companies ADD COLUMN country TEXT NOT NULL DEFAULT 'US';
