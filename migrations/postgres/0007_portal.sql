-- Portal: sign-in links and password sign-in look customers and accounts up
-- by email, case-insensitively, across companies.
CREATE INDEX customers_email_lower ON customers (lower(email));
CREATE INDEX portal_accounts_email_lower ON portal_accounts (lower(email));
-- Tokens of a customer (to list or end them).
CREATE INDEX portal_tokens_customer ON portal_tokens (customer_id, purpose);
