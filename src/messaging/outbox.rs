//! The outbox (SECURITY.md 19): a message is queued in the transaction of its
//! cause, then delivered at least once by `deliver_due` (run by the jobs
//! loop). Its text is rendered at delivery — with the customer's current
//! payment link — and only a copy with the link token redacted is kept
//! (SECURITY.md 1). Temporary failures are retried with exponential backoff
//! and jitter; permanent ones end the message at once. SMS to numbers that
//! opted out (SECURITY.md 20) are suppressed when queued and again when claimed
//! for sending, as are reminders about invoices paid since they were queued.

use time::{Duration, OffsetDateTime};

use super::Channel;
use super::email::{EmailTransport, SmtpTransport, SpoolTransport};
use super::sms::{SmsTransport, SpoolSms, TwilioSms, normalize_phone};
use crate::crypto::new_ids_in_order;
use crate::domain::ids::{CompanyId, MessageId};
use crate::store::messages::{self as store, InsertRow, MessageKey};
use crate::store::{Conn, StoreError, StoreResult};

/// Attempts before a message that keeps failing temporarily is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a worker owns a claimed message before another may take it.
pub const CLAIM: Duration = Duration::minutes(5);
/// Messages one `deliver_due` run sends at most.
pub const MAX_PER_RUN: usize = 500;
/// Messages claimed together and sent concurrently.
pub const BATCH: usize = 16;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub company_id: CompanyId,
    pub customer_id: String,
    pub invoice_id: Option<String>,
    pub channel: Channel,
    /// An email address, or a phone number (normalised to E.164 here).
    pub recipient: String,
    pub template_id: String,
    /// Why it is sent, e.g. `alert:{alert_id}:{invoice_id}`,
    /// `receipt:{payment_id}`, `send_now:{nonce}`.
    pub cause: String,
}

/// What `enqueue` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued for delivery.
    Queued { id: MessageId },
    /// Kept as `suppressed`: the number opted out of SMS.
    Suppressed { id: MessageId },
    /// Kept as `failed`: the recipient cannot be sent to (not an email
    /// address, not a phone number).
    Rejected { id: MessageId, reason: String },
    /// The same cause already queued this channel and recipient for this
    /// customer.
    Duplicate { id: MessageId },
}

impl Enqueued {
    pub fn id(&self) -> &MessageId {
        match self {
            Enqueued::Queued { id }
            | Enqueued::Suppressed { id }
            | Enqueued::Rejected { id, .. }
            | Enqueued::Duplicate { id } => id,
        }
    }
}

/// The recipient as kept, or why it cannot be used.
pub fn normalize_recipient(channel: Channel, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    match channel {
        Channel::Sms => normalize_phone(raw).ok_or_else(|| "not a phone number".to_string()),
        Channel::Email => {
            let ok = raw.len() <= 254
                && !raw.contains(char::is_whitespace)
                && raw
                    .split_once('@')
                    .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.contains('@'));
            if ok {
                Ok(raw.to_ascii_lowercase())
            } else {
                Err("not an email address".to_string())
            }
        }
    }
}

/// Queues a message. Call it inside the transaction of its cause.
pub async fn enqueue(
    conn: &mut Conn,
    m: &NewMessage,
    now: OffsetDateTime,
) -> StoreResult<Enqueued> {
    enqueue_many(conn, std::slice::from_ref(m), now)
        .await?
        .pop()
        .ok_or(StoreError::Conflict)
}

/// Queues messages in a few statements whatever their number (alerts for
/// thousands of invoices); answers what happened to each, in order. Call it
/// inside the transaction of their cause.
pub async fn enqueue_many(
    conn: &mut Conn,
    messages: &[NewMessage],
    now: OffsetDateTime,
) -> StoreResult<Vec<Enqueued>> {
    struct Planned {
        id: MessageId,
        recipient: String,
        problem: Option<String>,
        opted_out: bool,
    }
    // Inserted in the order of the outbox's unique index (customer, cause,
    // channel), so that index takes them in order, with ids that sort in
    // that order (the id's index appends).
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&messages[a], &messages[b]);
        (&a.customer_id, &a.cause, a.channel.as_str()).cmp(&(
            &b.customer_id,
            &b.cause,
            b.channel.as_str(),
        ))
    });
    let mut ids = vec![MessageId::default(); messages.len()];
    for (i, id) in order
        .iter()
        .zip(new_ids_in_order("msg", now, messages.len()))
    {
        ids[*i] = MessageId::from(id);
    }
    let mut planned: Vec<Planned> = messages
        .iter()
        .zip(ids)
        .map(|(m, id)| {
            let (recipient, problem) = match normalize_recipient(m.channel, &m.recipient) {
                Ok(r) => (r, None),
                Err(reason) => (m.recipient.trim().to_string(), Some(reason)),
            };
            Planned {
                id,
                recipient,
                problem,
                opted_out: false,
            }
        })
        .collect();
    // Opt-outs, one lookup per company among its SMS recipients.
    let mut companies: Vec<&CompanyId> = messages
        .iter()
        .filter(|m| m.channel == Channel::Sms)
        .map(|m| &m.company_id)
        .collect();
    companies.sort_unstable();
    companies.dedup();
    for company in companies {
        let phones: Vec<&str> = messages
            .iter()
            .zip(&planned)
            .filter(|(m, p)| {
                m.channel == Channel::Sms && m.company_id == company && p.problem.is_none()
            })
            .map(|(_, p)| p.recipient.as_str())
            .collect();
        let out = store::opted_out_among(conn, company, &phones).await?;
        for (m, p) in messages.iter().zip(planned.iter_mut()) {
            if m.channel == Channel::Sms && m.company_id == company && p.problem.is_none() {
                p.opted_out = out.contains(&p.recipient);
            }
        }
    }
    let rows: Vec<InsertRow<'_>> = order
        .iter()
        .map(|&i| {
            let (m, p) = (&messages[i], &planned[i]);
            let (status, last_error) = match (&p.problem, p.opted_out) {
                (Some(reason), _) => ("failed", Some(reason.as_str())),
                (None, true) => ("suppressed", Some("the number opted out of SMS (STOP)")),
                (None, false) => ("queued", None),
            };
            InsertRow {
                id: &p.id,
                company_id: &m.company_id,
                customer_id: &m.customer_id,
                invoice_id: m.invoice_id.as_deref(),
                channel: m.channel.as_str(),
                recipient: &p.recipient,
                template_id: &m.template_id,
                cause: &m.cause,
                status,
                last_error,
            }
        })
        .collect();
    let inserted = store::insert_many(conn, &rows, now).await?;
    drop(rows);
    // Those not inserted were queued before (or earlier in this call): the
    // id already queued under their key.
    let taken: Vec<usize> = (0..planned.len())
        .filter(|&i| !inserted.contains(&planned[i].id))
        .collect();
    let mut existing = if taken.is_empty() {
        Vec::new()
    } else {
        let keys: Vec<MessageKey<'_>> = taken
            .iter()
            .map(|&i| MessageKey {
                customer_id: &messages[i].customer_id,
                cause: &messages[i].cause,
                channel: messages[i].channel.as_str(),
                recipient: &planned[i].recipient,
            })
            .collect();
        store::ids_for_keys(conn, &keys).await?
    }
    .into_iter();
    planned
        .into_iter()
        .map(|p| {
            if !inserted.contains(&p.id) {
                let id = existing.next().flatten().ok_or(StoreError::Conflict)?;
                return Ok(Enqueued::Duplicate { id });
            }
            Ok(match (p.problem, p.opted_out) {
                (Some(reason), _) => Enqueued::Rejected { id: p.id, reason },
                (None, true) => Enqueued::Suppressed { id: p.id },
                (None, false) => Enqueued::Queued { id: p.id },
            })
        })
        .collect()
}

/// Delay before the next attempt after `attempts` failed ones:
/// 1 min × 2^(attempts−1), capped at 6 h, times `1 + 0.2 × jitter` with
/// `jitter` in [-1, 1].
pub fn backoff(attempts: i64, jitter: f64) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let base = (60i64 << exp).min(6 * 3600) as f64;
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    Duration::seconds_f64(base * factor)
}

/// When to try again after `attempts` failed attempts; `None` once they are
/// used up.
pub fn retry_at(now: OffsetDateTime, attempts: i64, jitter: f64) -> Option<OffsetDateTime> {
    (attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts, jitter))
}

/// A string with every payment-link token replaced by `[link]`: any run of
/// 32 or more base64url characters (link tokens are 43).
pub fn redact(text: &str) -> String {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 32 {
            out.push_str("[link]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_tok(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// What one `deliver_due` run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Put back in the queue after a temporary failure.
    pub retried: usize,
    pub failed: usize,
    /// Ended unsent when claimed: the number opted out of SMS, or the invoice
    /// a reminder is about was paid or voided after it was queued.
    pub withdrawn: usize,
}

/// The transports chosen by the settings (spool folder by default).
pub struct Transports {
    pub email: Box<dyn EmailTransport>,
    pub sms: Box<dyn SmsTransport>,
}

impl Transports {
    pub fn from_config(
        config: &crate::config::Config,
        clock: &crate::domain::Clock,
    ) -> Result<Transports, String> {
        let d = &config.delivery;
        let email: Box<dyn EmailTransport> = match &d.smtp_url {
            Some(url) => Box::new(smtp_for(url, d.smtp_ca_file.as_deref())?),
            None => Box::new(SpoolTransport::new(&config.spool_dir, clock.clone())),
        };
        let sms: Box<dyn SmsTransport> = match &d.sms_url {
            Some(url) => Box::new(TwilioSms::new(
                url,
                &d.sms_account,
                &d.sms_token,
                &d.sms_from,
            )?),
            None => Box::new(SpoolSms::new(&config.spool_dir)),
        };
        Ok(Transports { email, sms })
    }
}

/// One SMTP transport per URL (and CA file) for the life of the process, so
/// its pooled connections outlive one `deliver_due` run.
fn smtp_for(url: &str, ca_file: Option<&std::path::Path>) -> Result<SmtpTransport, String> {
    type Cached = (String, Option<std::path::PathBuf>, SmtpTransport);
    static CACHE: std::sync::Mutex<Option<Cached>> = std::sync::Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached, cached_ca, t)) = &*cache
        && cached == url
        && cached_ca.as_deref() == ca_file
    {
        return Ok(t.clone());
    }
    let t = SmtpTransport::from_url_trusting(url, ca_file)?;
    *cache = Some((url.to_string(), ca_file.map(Into::into), t.clone()));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        assert_eq!(backoff(1, 0.0), Duration::minutes(1));
        assert_eq!(backoff(2, 0.0), Duration::minutes(2));
        assert_eq!(backoff(4, 0.0), Duration::minutes(8));
        assert_eq!(backoff(20, 0.0), Duration::hours(6));
        assert_eq!(backoff(1, 1.0), Duration::seconds(72));
        assert_eq!(backoff(1, -1.0), Duration::seconds(48));
        assert_eq!(backoff(1, 5.0), Duration::seconds(72));
        assert_eq!(backoff(0, 0.0), Duration::minutes(1));
    }

    #[test]
    fn retries_stop_after_max_attempts() {
        let now = datetime!(2026-11-28 06:00 UTC);
        assert_eq!(retry_at(now, 1, 0.0), Some(now + Duration::minutes(1)));
        assert!(retry_at(now, MAX_ATTEMPTS - 1, 0.0).is_some());
        assert_eq!(retry_at(now, MAX_ATTEMPTS, 0.0), None);
    }

    #[test]
    fn redaction_removes_tokens_only() {
        let token = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
        assert_eq!(token.len(), 43);
        let text = format!("Pay here: https://pay.test/pay/{token}\nThanks, Greenleaf");
        assert_eq!(
            redact(&text),
            "Pay here: https://pay.test/pay/[link]\nThanks, Greenleaf"
        );
        assert_eq!(redact("invoice INV-1001 is due"), "invoice INV-1001 is due");
    }

    #[test]
    fn recipients_are_normalised() {
        assert_eq!(
            normalize_recipient(Channel::Sms, "(512) 555-0142").unwrap(),
            "+15125550142"
        );
        assert!(normalize_recipient(Channel::Sms, "nope").is_err());
        assert_eq!(
            normalize_recipient(Channel::Email, " Lena@Example.com ").unwrap(),
            "lena@example.com"
        );
        assert!(normalize_recipient(Channel::Email, "lena example.com").is_err());
        assert!(normalize_recipient(Channel::Email, "lena@localhost").is_err());
    }
}
