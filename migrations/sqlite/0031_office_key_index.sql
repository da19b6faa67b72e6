-- Only a cash or check payment recorded by the office has a form key; the
-- key's unique index held a row for every card payment too (all with no
-- key), written on each. It now holds the payments that have one, and
-- still refuses a key used twice in a company.
DROP INDEX payments_office_key;
CREATE UNIQUE INDEX payments_office_key ON payments (company_id, office_key) WHERE office_key IS NOT NULL;
