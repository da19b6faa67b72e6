-- Spanish messages: an email or SMS template's text in other languages than
-- its main one, as JSON ({"es": {"subject": …, "html_body": …, "text_body": …}}
-- for email, {"es": {"body": …}} for SMS). A message goes out in the
-- customer's language where the template has it.
ALTER TABLE email_templates ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sms_templates ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
