-- An email template may carry the invoice's PDF as an attachment (when the
-- message is about an invoice: alerts, send-now about an invoice, autopay).
ALTER TABLE email_templates ADD COLUMN attach_invoice_pdf BIGINT NOT NULL DEFAULT 0
    CHECK (attach_invoice_pdf IN (0, 1));
