//! The collections funnel: which messages with a payment link were followed
//! by an open of that link and by a payment.
//!
//! The rules (also in the README):
//! - A message counts when it was sent in the range and carried the
//!   customer's payment link.
//! - It was **opened** when the customer opened their link at or after it was
//!   sent and before the next message with a link was sent to them.
//! - A payment toward an invoice is attributed to the latest such message
//!   sent before the payment and at most [`ATTRIBUTION_DAYS`] days earlier
//!   that is about that invoice, or about no invoice in particular when the
//!   invoice was already issued when the message went out and is billed to or
//!   paid by the message's customer. Each payment's share of an invoice
//!   counts for one message only, so amounts are never counted twice.
//! - A message was **paid** when at least one payment was attributed to it;
//!   its amount is the sum of what was attributed (refunds not deducted).

use std::collections::{BTreeMap, HashMap};

use time::{Duration, OffsetDateTime};

/// How long after a message a payment is still credited to it.
pub const ATTRIBUTION_DAYS: i64 = 14;

/// A sent message that carried a payment link.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub customer_id: String,
    pub invoice_id: Option<String>,
    pub channel: String,
    pub template_id: String,
    pub sent_at: OffsetDateTime,
}

/// A customer opening their payment link.
#[derive(Debug, Clone)]
pub struct LinkOpen {
    pub customer_id: String,
    pub opened_at: OffsetDateTime,
}

/// One payment's share of one invoice.
#[derive(Debug, Clone)]
pub struct PaidShare {
    pub invoice_id: String,
    /// Who the invoice is billed to.
    pub billed_to: String,
    /// Who paid.
    pub payer: String,
    pub invoice_created_at: OffsetDateTime,
    pub paid_at: OffsetDateTime,
    pub amount: i64,
}

/// One line of the report: a template on a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FunnelLine {
    pub channel: String,
    pub template_id: String,
    pub sent: u64,
    pub opened: u64,
    pub paid: u64,
    /// Minor units.
    pub paid_amount: i64,
}

/// The funnel of the messages sent in `[from, until)`. `messages` must hold
/// every message with a link sent to those customers from `from` on (later
/// ones end an earlier one's open window); `opens` and `shares` those from
/// `from` on.
pub fn collections_funnel(
    messages: &[SentMessage],
    opens: &[LinkOpen],
    shares: &[PaidShare],
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Vec<FunnelLine> {
    let mut by_customer: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        by_customer.entry(&m.customer_id).or_default().push(i);
    }
    for list in by_customer.values_mut() {
        list.sort_by_key(|&i| messages[i].sent_at);
    }
    let mut opens_by_customer: HashMap<&str, Vec<OffsetDateTime>> = HashMap::new();
    for o in opens {
        opens_by_customer
            .entry(&o.customer_id)
            .or_default()
            .push(o.opened_at);
    }
    for list in opens_by_customer.values_mut() {
        list.sort();
    }

    let mut opened = vec![false; messages.len()];
    for (customer, list) in &by_customer {
        let Some(times) = opens_by_customer.get(customer) else {
            continue;
        };
        for (k, &i) in list.iter().enumerate() {
            let start = messages[i].sent_at;
            let end = list.get(k + 1).map(|&n| messages[n].sent_at);
            let first = times.partition_point(|t| *t < start);
            opened[i] = times
                .get(first)
                .is_some_and(|t| end.is_none_or(|end| *t < end));
        }
    }

    let mut attributed = vec![0i64; messages.len()];
    let mut paid = vec![false; messages.len()];
    let window = Duration::days(ATTRIBUTION_DAYS);
    for share in shares {
        // The payer and the billed customer are often the same one.
        let mut who = vec![share.billed_to.as_str()];
        if share.payer != share.billed_to {
            who.push(&share.payer);
        }
        let latest = who
            .iter()
            .filter_map(|c| by_customer.get(c))
            .flatten()
            .copied()
            .filter(|&i| {
                let m = &messages[i];
                m.sent_at <= share.paid_at
                    && share.paid_at - m.sent_at <= window
                    && match &m.invoice_id {
                        Some(invoice) => *invoice == share.invoice_id,
                        None => share.invoice_created_at <= m.sent_at,
                    }
            })
            .max_by_key(|&i| messages[i].sent_at);
        if let Some(i) = latest {
            attributed[i] += share.amount;
            paid[i] = true;
        }
    }

    let mut lines: BTreeMap<(String, String), FunnelLine> = BTreeMap::new();
    for (i, m) in messages.iter().enumerate() {
        if m.sent_at < from || m.sent_at >= until {
            continue;
        }
        let line = lines
            .entry((m.channel.clone(), m.template_id.clone()))
            .or_insert_with(|| FunnelLine {
                channel: m.channel.clone(),
                template_id: m.template_id.clone(),
                ..FunnelLine::default()
            });
        line.sent += 1;
        line.opened += u64::from(opened[i]);
        line.paid += u64::from(paid[i]);
        line.paid_amount += attributed[i];
    }
    lines.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn at(hours: i64) -> OffsetDateTime {
        T0 + Duration::hours(hours)
    }

    fn message(customer: &str, invoice: Option<&str>, hours: i64) -> SentMessage {
        SentMessage {
            customer_id: customer.into(),
            invoice_id: invoice.map(Into::into),
            channel: "email".into(),
            template_id: "tpl_reminder".into(),
            sent_at: at(hours),
        }
    }

    fn open(customer: &str, hours: i64) -> LinkOpen {
        LinkOpen {
            customer_id: customer.into(),
            opened_at: at(hours),
        }
    }

    fn share(invoice: &str, customer: &str, hours: i64, amount: i64) -> PaidShare {
        PaidShare {
            invoice_id: invoice.into(),
            billed_to: customer.into(),
            payer: customer.into(),
            invoice_created_at: at(-24 * 30),
            paid_at: at(hours),
            amount,
        }
    }

    fn run(m: &[SentMessage], o: &[LinkOpen], s: &[PaidShare]) -> Vec<FunnelLine> {
        collections_funnel(m, o, s, at(-1000), at(1000))
    }

    #[test]
    fn a_message_opened_and_paid_counts_once_in_each_column() {
        let lines = run(
            &[message("c1", Some("inv1"), 0)],
            &[open("c1", 1), open("c1", 2)],
            &[share("inv1", "c1", 3, 4500)],
        );
        assert_eq!(
            lines,
            vec![FunnelLine {
                channel: "email".into(),
                template_id: "tpl_reminder".into(),
                sent: 1,
                opened: 1,
                paid: 1,
                paid_amount: 4500
            }]
        );
    }

    #[test]
    fn late_payments_opens_before_and_other_customers_do_not_count() {
        let lines = run(
            &[message("c1", Some("inv1"), 0)],
            &[open("c1", -1), open("c2", 1)],
            &[
                share("inv1", "c1", 20 * 24, 4500),
                share("inv2", "c2", 1, 100),
            ],
        );
        assert_eq!((lines[0].sent, lines[0].opened, lines[0].paid), (1, 0, 0));
        assert_eq!(lines[0].paid_amount, 0);
    }

    #[test]
    fn an_open_belongs_to_the_message_before_it_only() {
        let lines = run(
            &[message("c1", None, 0), message("c1", None, 48)],
            &[open("c1", 50)],
            &[],
        );
        assert_eq!((lines[0].sent, lines[0].opened), (2, 1));
    }

    #[test]
    fn a_payment_goes_to_the_latest_message_about_its_invoice() {
        let mut other = message("c1", Some("inv9"), 10);
        other.template_id = "tpl_other".into();
        let mut first = message("c1", Some("inv1"), 0);
        first.channel = "sms".into();
        let lines = run(
            &[first, message("c1", Some("inv1"), 5), other],
            &[],
            &[share("inv1", "c1", 12, 700)],
        );
        let sms = lines.iter().find(|l| l.channel == "sms").unwrap();
        let email = lines
            .iter()
            .find(|l| l.channel == "email" && l.template_id == "tpl_reminder")
            .unwrap();
        let other = lines.iter().find(|l| l.template_id == "tpl_other").unwrap();
        assert_eq!((sms.paid, sms.paid_amount), (0, 0));
        assert_eq!((email.paid, email.paid_amount), (1, 700));
        assert_eq!((other.paid, other.paid_amount), (0, 0));
    }

    #[test]
    fn a_message_without_an_invoice_takes_invoices_open_when_it_went_out() {
        let mut newer = share("inv_new", "c1", 30, 300);
        newer.invoice_created_at = at(20);
        let mut landlord = share("inv_tenant", "tenant", 31, 900);
        landlord.payer = "landlord".into();
        let lines = run(
            &[message("c1", None, 0), message("landlord", None, 0)],
            &[],
            &[share("inv_old", "c1", 30, 200), newer, landlord],
        );
        assert_eq!(lines[0].sent, 2);
        assert_eq!(lines[0].paid, 2);
        assert_eq!(lines[0].paid_amount, 200 + 900);
    }

    #[test]
    fn only_messages_in_the_range_are_reported() {
        let lines = collections_funnel(
            &[message("c1", None, 0), message("c1", None, 100)],
            &[open("c1", 1)],
            &[],
            at(50),
            at(200),
        );
        assert_eq!((lines[0].sent, lines[0].opened), (1, 0));
    }

    proptest! {
        #[test]
        fn money_is_never_counted_twice(
            sends in proptest::collection::vec((0usize..3, 0i64..600), 0..12),
            pays in proptest::collection::vec((0usize..3, 0i64..800, 1i64..10_000), 0..12),
        ) {
            let customers = ["a", "b", "c"];
            let messages: Vec<_> = sends
                .iter()
                .map(|(c, h)| message(customers[*c], if h % 2 == 0 { None } else { Some("inv_a") }, *h))
                .collect();
            let shares: Vec<_> = pays
                .iter()
                .map(|(c, h, amount)| share(if *c == 0 { "inv_a" } else { "inv_x" }, customers[*c], *h, *amount))
                .collect();
            let lines = run(&messages, &[], &shares);
            let credited: i64 = lines.iter().map(|l| l.paid_amount).sum();
            let total: i64 = shares.iter().map(|s| s.amount).sum();
            prop_assert!(credited <= total);
            let sent: u64 = lines.iter().map(|l| l.sent).sum();
            prop_assert_eq!(sent, messages.len() as u64);
            for l in &lines {
                prop_assert!(l.opened <= l.sent && l.paid <= l.sent);
            }
        }
    }
}
