-- Customers area: the customer page lists the properties a customer lives at
-- as well as those it pays for.
CREATE INDEX properties_resident ON properties (company_id, resident_customer_id);
