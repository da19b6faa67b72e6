-- The invoices' date indexes for alerts and the dashboard's totals hold open
-- invoices only. Every query that searches them asks for `status = 'open'`;
-- kept whole, they moved each paid invoice's entry from the open part to
-- the paid part of both indexes (two pages each, anywhere in the index, on
-- every payment). Now paying an invoice removes its two entries, and the
-- indexes stay the size of what is owed, not of every invoice ever issued.
DROP INDEX invoices_company_status;
DROP INDEX invoices_company_status_issue;
CREATE INDEX invoices_open_due ON invoices (company_id, due_date) WHERE status = 'open';
CREATE INDEX invoices_open_issue ON invoices (company_id, issue_date) WHERE status = 'open';
