-- A CHECK that tests a column against a list of more than two values makes
-- SQLite build a temporary B-tree of the list every time a statement
-- checks it: a payment checked eight (a write job's largest cost after its
-- own rows). The same tests written as comparisons joined by OR check
-- exactly the same values without one, so new checks are written that way
-- (two values, as `IN (0, 1)`, SQLite already compares in place).
--
-- SQLite cannot alter a constraint, and rebuilding these tables would mean
-- rebuilding every table that refers to them. Its documented procedure for
-- changing a CHECK edits the table's definition in the schema instead; the
-- rows already satisfy the new text, which accepts the same values.
PRAGMA writable_schema = ON;

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''open'', ''paid'', ''void''))',
    'CHECK (status = ''open'' OR status = ''paid'' OR status = ''void'')')
WHERE type = 'table' AND name = 'invoices';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''pending'', ''succeeded'', ''declined'', ''failed''))',
    'CHECK (status = ''pending'' OR status = ''succeeded'' OR status = ''declined'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'payment_attempts';

UPDATE sqlite_schema SET sql = replace(replace(sql,
    'CHECK (channel IN (''quick_pay'', ''portal'', ''office'', ''autopay'', ''api''))',
    'CHECK (channel = ''quick_pay'' OR channel = ''portal'' OR channel = ''office'' OR channel = ''autopay'' OR channel = ''api'')'),
    'CHECK (method IN (''card'', ''cash'', ''check''))',
    'CHECK (method = ''card'' OR method = ''cash'' OR method = ''check'')')
WHERE type = 'table' AND name = 'payments';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''pending'', ''succeeded'', ''failed''))',
    'CHECK (status = ''pending'' OR status = ''succeeded'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'refunds';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (timing IN (''after_due'', ''before_due'', ''at_creation''))',
    'CHECK (timing = ''after_due'' OR timing = ''before_due'' OR timing = ''at_creation'')')
WHERE type = 'table' AND name = 'invoice_alerts';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''retrying'', ''failed'', ''paid''))',
    'CHECK (status = ''retrying'' OR status = ''failed'' OR status = ''paid'')')
WHERE type = 'table' AND name = 'autopay_items';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (outcome IN (''paid'', ''retry'', ''dropped'', ''not_charged''))',
    'CHECK (outcome = ''paid'' OR outcome = ''retry'' OR outcome = ''dropped'' OR outcome = ''not_charged'')')
WHERE type = 'table' AND name = 'autopay_results';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''pending'', ''failed'', ''succeeded'', ''abandoned''))',
    'CHECK (status = ''pending'' OR status = ''failed'' OR status = ''succeeded'' OR status = ''abandoned'')')
WHERE type = 'table' AND name = 'webhook_deliveries';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''queued'', ''sent'', ''failed''))',
    'CHECK (status = ''queued'' OR status = ''sent'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'office_emails';

UPDATE sqlite_schema SET sql = replace(sql,
    'CHECK (status IN (''queued'', ''sending'', ''sent'', ''failed'', ''suppressed''))',
    'CHECK (status = ''queued'' OR status = ''sending'' OR status = ''sent'' OR status = ''failed'' OR status = ''suppressed'')')
WHERE type = 'table' AND name = 'outbox';

-- Writing off again, and this connection reads the schema anew.
PRAGMA writable_schema = RESET;

-- Other connections read the schema anew when its version changes, which
-- any CREATE or DROP does.
CREATE TABLE check_lists_rewritten (done INTEGER);
DROP TABLE check_lists_rewritten;
