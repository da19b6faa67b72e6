-- Instants are stored in one width, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that
-- comparing them as text (as SQLite does) orders them in time. Before, the
-- fraction of a second was written with its trailing zeros dropped
-- ('…:30.4Z', '…:30Z'), and '…:30.4Z' sorted after '…:30.41Z'.

UPDATE api_keys SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE api_keys SET revoked_at = CASE WHEN substr(revoked_at, 20, 1) = '.'
        THEN substr(revoked_at, 1, 20) || substr(substr(revoked_at, 21, length(revoked_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(revoked_at, 1, 19) || '.000000Z' END
    WHERE revoked_at LIKE '____-__-__T__:__:__%Z' AND length(revoked_at) <> 27;
UPDATE audit_log SET at = CASE WHEN substr(at, 20, 1) = '.'
        THEN substr(at, 1, 20) || substr(substr(at, 21, length(at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(at, 1, 19) || '.000000Z' END
    WHERE at LIKE '____-__-__T__:__:__%Z' AND length(at) <> 27;
UPDATE autopay_enrollments SET consent_at = CASE WHEN substr(consent_at, 20, 1) = '.'
        THEN substr(consent_at, 1, 20) || substr(substr(consent_at, 21, length(consent_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(consent_at, 1, 19) || '.000000Z' END
    WHERE consent_at LIKE '____-__-__T__:__:__%Z' AND length(consent_at) <> 27;
UPDATE autopay_enrollments SET cancelled_at = CASE WHEN substr(cancelled_at, 20, 1) = '.'
        THEN substr(cancelled_at, 1, 20) || substr(substr(cancelled_at, 21, length(cancelled_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(cancelled_at, 1, 19) || '.000000Z' END
    WHERE cancelled_at LIKE '____-__-__T__:__:__%Z' AND length(cancelled_at) <> 27;
UPDATE autopay_items SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE autopay_marks SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE autopay_property_methods SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE autopay_results SET settled_at = CASE WHEN substr(settled_at, 20, 1) = '.'
        THEN substr(settled_at, 1, 20) || substr(substr(settled_at, 21, length(settled_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(settled_at, 1, 19) || '.000000Z' END
    WHERE settled_at LIKE '____-__-__T__:__:__%Z' AND length(settled_at) <> 27;
UPDATE autopay_settings SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE companies SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE customers SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE email_templates SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE email_templates SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE invoice_alerts SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE invoice_alerts SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE invoices SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE invoices SET voided_at = CASE WHEN substr(voided_at, 20, 1) = '.'
        THEN substr(voided_at, 1, 20) || substr(substr(voided_at, 21, length(voided_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(voided_at, 1, 19) || '.000000Z' END
    WHERE voided_at LIKE '____-__-__T__:__:__%Z' AND length(voided_at) <> 27;
UPDATE office_users SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE office_users SET disabled_at = CASE WHEN substr(disabled_at, 20, 1) = '.'
        THEN substr(disabled_at, 1, 20) || substr(substr(disabled_at, 21, length(disabled_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(disabled_at, 1, 19) || '.000000Z' END
    WHERE disabled_at LIKE '____-__-__T__:__:__%Z' AND length(disabled_at) <> 27;
UPDATE outbox SET next_attempt_at = CASE WHEN substr(next_attempt_at, 20, 1) = '.'
        THEN substr(next_attempt_at, 1, 20) || substr(substr(next_attempt_at, 21, length(next_attempt_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(next_attempt_at, 1, 19) || '.000000Z' END
    WHERE next_attempt_at LIKE '____-__-__T__:__:__%Z' AND length(next_attempt_at) <> 27;
UPDATE outbox SET claimed_until = CASE WHEN substr(claimed_until, 20, 1) = '.'
        THEN substr(claimed_until, 1, 20) || substr(substr(claimed_until, 21, length(claimed_until) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(claimed_until, 1, 19) || '.000000Z' END
    WHERE claimed_until LIKE '____-__-__T__:__:__%Z' AND length(claimed_until) <> 27;
UPDATE outbox SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE outbox SET sent_at = CASE WHEN substr(sent_at, 20, 1) = '.'
        THEN substr(sent_at, 1, 20) || substr(substr(sent_at, 21, length(sent_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(sent_at, 1, 19) || '.000000Z' END
    WHERE sent_at LIKE '____-__-__T__:__:__%Z' AND length(sent_at) <> 27;
UPDATE payment_attempts SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE payment_attempts SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE payment_links SET expires_at = CASE WHEN substr(expires_at, 20, 1) = '.'
        THEN substr(expires_at, 1, 20) || substr(substr(expires_at, 21, length(expires_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(expires_at, 1, 19) || '.000000Z' END
    WHERE expires_at LIKE '____-__-__T__:__:__%Z' AND length(expires_at) <> 27;
UPDATE payment_links SET revoked_at = CASE WHEN substr(revoked_at, 20, 1) = '.'
        THEN substr(revoked_at, 1, 20) || substr(substr(revoked_at, 21, length(revoked_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(revoked_at, 1, 19) || '.000000Z' END
    WHERE revoked_at LIKE '____-__-__T__:__:__%Z' AND length(revoked_at) <> 27;
UPDATE payment_links SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE payment_links SET rotated_at = CASE WHEN substr(rotated_at, 20, 1) = '.'
        THEN substr(rotated_at, 1, 20) || substr(substr(rotated_at, 21, length(rotated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(rotated_at, 1, 19) || '.000000Z' END
    WHERE rotated_at LIKE '____-__-__T__:__:__%Z' AND length(rotated_at) <> 27;
UPDATE payment_methods SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE payment_methods SET removed_at = CASE WHEN substr(removed_at, 20, 1) = '.'
        THEN substr(removed_at, 1, 20) || substr(substr(removed_at, 21, length(removed_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(removed_at, 1, 19) || '.000000Z' END
    WHERE removed_at LIKE '____-__-__T__:__:__%Z' AND length(removed_at) <> 27;
UPDATE payments SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE portal_accounts SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE portal_tokens SET expires_at = CASE WHEN substr(expires_at, 20, 1) = '.'
        THEN substr(expires_at, 1, 20) || substr(substr(expires_at, 21, length(expires_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(expires_at, 1, 19) || '.000000Z' END
    WHERE expires_at LIKE '____-__-__T__:__:__%Z' AND length(expires_at) <> 27;
UPDATE portal_tokens SET used_at = CASE WHEN substr(used_at, 20, 1) = '.'
        THEN substr(used_at, 1, 20) || substr(substr(used_at, 21, length(used_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(used_at, 1, 19) || '.000000Z' END
    WHERE used_at LIKE '____-__-__T__:__:__%Z' AND length(used_at) <> 27;
UPDATE processor_disputes SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE processor_settings SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE properties SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE receipt_settings SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE refunds SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE sessions SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE sessions SET expires_at = CASE WHEN substr(expires_at, 20, 1) = '.'
        THEN substr(expires_at, 1, 20) || substr(substr(expires_at, 21, length(expires_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(expires_at, 1, 19) || '.000000Z' END
    WHERE expires_at LIKE '____-__-__T__:__:__%Z' AND length(expires_at) <> 27;
UPDATE sms_opt_outs SET opted_out_at = CASE WHEN substr(opted_out_at, 20, 1) = '.'
        THEN substr(opted_out_at, 1, 20) || substr(substr(opted_out_at, 21, length(opted_out_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(opted_out_at, 1, 19) || '.000000Z' END
    WHERE opted_out_at LIKE '____-__-__T__:__:__%Z' AND length(opted_out_at) <> 27;
UPDATE sms_templates SET created_at = CASE WHEN substr(created_at, 20, 1) = '.'
        THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(created_at, 1, 19) || '.000000Z' END
    WHERE created_at LIKE '____-__-__T__:__:__%Z' AND length(created_at) <> 27;
UPDATE sms_templates SET updated_at = CASE WHEN substr(updated_at, 20, 1) = '.'
        THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(updated_at, 1, 19) || '.000000Z' END
    WHERE updated_at LIKE '____-__-__T__:__:__%Z' AND length(updated_at) <> 27;
UPDATE stripe_events SET received_at = CASE WHEN substr(received_at, 20, 1) = '.'
        THEN substr(received_at, 1, 20) || substr(substr(received_at, 21, length(received_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(received_at, 1, 19) || '.000000Z' END
    WHERE received_at LIKE '____-__-__T__:__:__%Z' AND length(received_at) <> 27;
UPDATE stripe_events SET processed_at = CASE WHEN substr(processed_at, 20, 1) = '.'
        THEN substr(processed_at, 1, 20) || substr(substr(processed_at, 21, length(processed_at) - 21) || '000000', 1, 6) || 'Z'
        ELSE substr(processed_at, 1, 19) || '.000000Z' END
    WHERE processed_at LIKE '____-__-__T__:__:__%Z' AND length(processed_at) <> 27;
