-- The office invoice list: newest first by issue date within a company, and
-- date ranges on the issue date.
CREATE INDEX invoices_company_issue ON invoices (company_id, issue_date);
