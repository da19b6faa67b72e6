//! Office: the home dashboard — open receivables by age, the last 30 days
//! of payments by channel (a table and a server-drawn SVG chart), and the
//! collections funnel (`funnel.rs`).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use time::Date;

use super::{OfficeUser, page};
use crate::domain::ids::CompanyId;
use crate::domain::money::Money;
use crate::store::companies;
use crate::web::AppState;
use crate::web::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/dashboard", get(dashboard))
        .route("/office/setup/reviewed", axum::routing::post(mark_reviewed))
}

/// Aging buckets, in display order.
pub const BUCKETS: [&str; 5] = [
    "Current (not yet due)",
    "1–30 days past due",
    "31–60 days past due",
    "61–90 days past due",
    "Over 90 days past due",
];

/// Which aging bucket an invoice due on `due` falls in on `today` (both in the
/// company's time zone): 0 = not yet due (or due today), 1 = 1–30 days past
/// due, 2 = 31–60, 3 = 61–90, 4 = more than 90.
pub fn aging_bucket(today: Date, due: Date) -> usize {
    let late = (today - due).whole_days();
    match late {
        i64::MIN..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: i64,
    pub amount: i64,
}

/// Sums open balances grouped by due date, `(due, count, amount)`, into the buckets.
pub fn age_balances(today: Date, rows: &[(Date, i64, i64)]) -> [Tally; 5] {
    let mut out = [Tally::default(); 5];
    for (due, count, amount) in rows {
        let t = &mut out[aging_bucket(today, *due)];
        t.count += count;
        t.amount = t.amount.saturating_add(*amount);
    }
    out
}

/// Payment channels, in display order: (stored name, label).
pub const CHANNELS: [(&str, &str); 5] = [
    ("quick_pay", "Quick pay"),
    ("portal", "Portal"),
    ("office", "Office"),
    ("autopay", "Autopay"),
    ("api", "API"),
];

/// One bar of the chart.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub amount: i64,
    /// The amount as shown, e.g. "$125.00".
    pub text: String,
}

pub(super) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart as inline SVG: one bar per entry, each labelled with
/// its name and amount; `title` describes every value for screen readers.
/// `fill` must be a `#rrggbb` colour (anything else falls back to a default).
pub fn bar_chart_svg(title: &str, bars: &[Bar], fill: &str) -> String {
    const WIDTH: i64 = 640;
    const LABEL: i64 = 110;
    const AMOUNT_ROOM: i64 = 130;
    const ROW: i64 = 36;
    const BAR: i64 = 24;
    let fill = if super::settings::parse_hex_color(fill).is_some() {
        fill
    } else {
        "#1d5fbf"
    };
    let max = bars.iter().map(|b| b.amount).max().unwrap_or(0).max(1);
    let span = WIDTH - LABEL - AMOUNT_ROOM;
    let height = ROW * bars.len() as i64 + 8;
    let title = escape_xml(title);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" aria-label=\"{title}\" \
viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" style=\"max-width:{WIDTH}px\"><title>{title}</title>"
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4 + ROW * i as i64;
        // At least 2 px so a small amount still shows.
        let w = (i128::from(b.amount.max(0)) * i128::from(span) / i128::from(max)) as i64;
        let w = w.max(2);
        let text_y = y + BAR / 2 + 5;
        svg.push_str(&format!(
            "<text x=\"{lx}\" y=\"{text_y}\" text-anchor=\"end\" font-size=\"14\" fill=\"#1b1f24\">{label}</text>\
<rect class=\"bar\" x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" rx=\"3\" fill=\"{fill}\"></rect>\
<text x=\"{ax}\" y=\"{text_y}\" font-size=\"14\" fill=\"#1b1f24\">{amount}</text>",
            lx = LABEL - 8,
            label = escape_xml(&b.label),
            ax = LABEL + w + 8,
            amount = escape_xml(&b.text),
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[derive(Serialize)]
struct BucketView {
    label: &'static str,
    count: i64,
    amount: String,
}

#[derive(Serialize)]
struct ChannelView {
    label: &'static str,
    count: i64,
    amount: String,
}

async fn dashboard(
    State(state): State<AppState>,
    user: OfficeUser,
    range: Result<Query<crate::web::api_reports::RangeQuery>, QueryRejection>,
) -> Response {
    let db = &state.app.db;
    let company = match companies::get(db, &user.company_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let money = |minor: i64| Money::new(minor, company.currency).format();
    let today = state.app.clock.today_in(&company.time_zone);
    let open = match companies::open_balances_by_due_date(db, &user.company_id).await {
        Ok(rows) => rows,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let aged = age_balances(today, &open);
    let open_total: i64 = aged.iter().map(|t| t.amount).sum();
    let open_count: i64 = aged.iter().map(|t| t.count).sum();
    let overdue_total: i64 = aged[1..].iter().map(|t| t.amount).sum();
    let buckets: Vec<BucketView> = BUCKETS
        .iter()
        .zip(aged.iter())
        .map(|(label, t)| BucketView {
            label,
            count: t.count,
            amount: money(t.amount),
        })
        .collect();

    let since = state.app.clock.now() - time::Duration::days(30);
    let by_channel = match companies::payments_by_channel_since(db, &user.company_id, since).await {
        Ok(rows) => rows,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let tally = |channel: &str| {
        by_channel
            .iter()
            .find(|(c, _, _)| c == channel)
            .map(|(_, count, amount)| Tally {
                count: *count,
                amount: *amount,
            })
            .unwrap_or_default()
    };
    let channels: Vec<ChannelView> = CHANNELS
        .iter()
        .map(|(key, label)| {
            let t = tally(key);
            ChannelView {
                label,
                count: t.count,
                amount: money(t.amount),
            }
        })
        .collect();
    let paid_total: i64 = CHANNELS.iter().map(|(k, _)| tally(k).amount).sum();
    let bars: Vec<Bar> = CHANNELS
        .iter()
        .filter_map(|(key, label)| {
            let t = tally(key);
            (t.amount > 0).then(|| Bar {
                label: label.to_string(),
                amount: t.amount,
                text: money(t.amount),
            })
        })
        .collect();
    let chart = if bars.is_empty() {
        String::new()
    } else {
        let described: Vec<String> = bars
            .iter()
            .map(|b| format!("{} {}", b.label, b.text))
            .collect();
        bar_chart_svg(
            &format!(
                "Payments in the last 30 days by channel: {}",
                described.join(", ")
            ),
            &bars,
            &company.accent_color,
        )
    };
    let attention = match needing_attention(&state, &user.company_id, &company.time_zone).await {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Unknown parameters: the default range, not an error page.
    let range = range.map(|Query(q)| q).unwrap_or_default();
    let funnel =
        match super::funnel::section(&state, &user.as_actor(), company.currency, today, &range)
            .await
        {
            Ok(f) => f,
            Err(e) => return e.into_response(),
        };
    let checklist = match crate::app::setup::checklist(&state.app, &user.as_actor()).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let setup_left = checklist.iter().filter(|i| !i.done).count();
    page(
        &state,
        &user,
        "office/dashboard.html",
        "dashboard",
        minijinja::context! {
            checklist => minijinja::value::Serde(&checklist),
            setup_left => setup_left,
            attention => minijinja::value::Serde(&attention),
            today => crate::domain::dates::display(today),
            open_total => money(open_total),
            open_count => open_count,
            overdue_total => money(overdue_total),
            buckets => minijinja::value::Serde(&buckets),
            channels => minijinja::value::Serde(&channels),
            paid_total => money(paid_total),
            // Built above from fixed labels and formatted amounts, every text escaped.
            chart => minijinja::Value::from_safe_string(chart),
            funnel => minijinja::value::Serde(&funnel),
        },
    )
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// POST /office/setup/reviewed: the checklist's "Mark as reviewed".
async fn mark_reviewed(
    State(state): State<AppState>,
    user: OfficeUser,
    axum::Form(f): axum::Form<CsrfOnly>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    match crate::app::setup::mark_reviewed(&state.app, &user.as_actor()).await {
        Ok(()) => axum::response::Redirect::to("/office/dashboard").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Something about money the office must look at.
#[derive(Serialize)]
struct AttentionView {
    /// Where to look (the payment's page), if anywhere.
    href: Option<String>,
    text: String,
}

/// How long a refund may stay pending before the dashboard mentions it.
const PENDING_NOTICE: time::Duration = time::Duration::days(1);

/// Refunds that failed in the last 30 days (or failed at the processor after
/// succeeding), refunds pending for more than a day, and Stripe notices
/// fieldpay gave up applying.
async fn needing_attention(
    state: &AppState,
    company_id: &CompanyId,
    time_zone: &str,
) -> Result<Vec<AttentionView>, crate::store::StoreError> {
    let now = state.app.clock.now();
    let since = now - time::Duration::days(30);
    let refunds = crate::store::refunds::needing_attention(
        &state.app.db,
        company_id,
        since,
        now - PENDING_NOTICE,
        20,
    )
    .await?;
    let mut out: Vec<AttentionView> = refunds
        .iter()
        .map(|r| {
            let amount = Money::new(r.amount, r.currency).format();
            let when = crate::domain::dates::display_instant(r.created_at, time_zone);
            let reason = r.reason.as_deref().unwrap_or("").trim().trim_end_matches('.');
            let text = match r.status.as_str() {
                crate::store::refunds::FAILED => format!(
                    "Refund failed: {reason} ({amount}, asked {when}). Nothing was refunded; the balances are as before."
                ),
                crate::store::refunds::PENDING => format!(
                    "Refund of {amount} (asked {when}) is still pending at the processor; it will be retried automatically."
                ),
                _ => format!("Refund of {amount} needs attention: {reason}"),
            };
            AttentionView {
                href: Some(format!("/office/payments/{}", r.payment_id)),
                text,
            }
        })
        .collect();
    let events =
        crate::store::processor_settings::flagged_events(&state.app.db, company_id, since, 20)
            .await?;
    out.extend(events.iter().map(|e| AttentionView {
        href: Some("/office/settings/processor".into()),
        text: format!(
            "A Stripe notice ({}, {}) could not be applied for days and is no longer retried: {}. Check that payment and its refunds in Stripe.",
            e.kind,
            e.object_id.as_deref().unwrap_or(&e.event_id),
            e.last_error.as_deref().unwrap_or("unknown reason")
        ),
    }));
    // Card money no invoice took (a charge found after its invoices were
    // paid another way): the office refunds it or keeps it as credit.
    let unapplied = crate::store::payments::unapplied_payments(&state.app.db, company_id).await?;
    out.extend(unapplied.iter().map(|u| AttentionView {
        href: Some(format!("/office/payments/{}", u.payment_id)),
        text: format!(
            "A card payment from {} has {} not applied to any invoice: it was charged after its invoices were paid another way. Refund it, or keep it as credit.",
            u.customer_name,
            Money::new(u.unapplied, u.currency).format()
        ),
    }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn buckets_by_days_past_due() {
        let today = date!(2026 - 11 - 28);
        assert_eq!(aging_bucket(today, date!(2026 - 12 - 15)), 0);
        assert_eq!(aging_bucket(today, today), 0);
        assert_eq!(aging_bucket(today, date!(2026 - 11 - 27)), 1);
        assert_eq!(aging_bucket(today, date!(2026 - 10 - 29)), 1); // 30 days
        assert_eq!(aging_bucket(today, date!(2026 - 10 - 28)), 2); // 31
        assert_eq!(aging_bucket(today, date!(2026 - 09 - 29)), 2); // 60
        assert_eq!(aging_bucket(today, date!(2026 - 09 - 28)), 3); // 61
        assert_eq!(aging_bucket(today, date!(2026 - 08 - 30)), 3); // 90
        assert_eq!(aging_bucket(today, date!(2026 - 08 - 29)), 4); // 91
        assert_eq!(aging_bucket(today, date!(2020 - 01 - 01)), 4);
    }

    #[test]
    fn balances_sum_per_bucket() {
        let today = date!(2026 - 11 - 28);
        let rows = [
            (date!(2026 - 12 - 01), 2, 10_000),
            (date!(2026 - 11 - 28), 1, 500),
            (date!(2026 - 11 - 20), 1, 2_500),
            (date!(2026 - 06 - 01), 3, 9_000),
        ];
        let aged = age_balances(today, &rows);
        assert_eq!(
            aged[0],
            Tally {
                count: 3,
                amount: 10_500
            }
        );
        assert_eq!(
            aged[1],
            Tally {
                count: 1,
                amount: 2_500
            }
        );
        assert_eq!(aged[2], Tally::default());
        assert_eq!(aged[3], Tally::default());
        assert_eq!(
            aged[4],
            Tally {
                count: 3,
                amount: 9_000
            }
        );
    }

    #[test]
    fn chart_has_a_labelled_bar_per_entry() {
        let bars = vec![
            Bar {
                label: "Quick pay".into(),
                amount: 12_500,
                text: "$125.00".into(),
            },
            Bar {
                label: "Office <b>".into(),
                amount: 2_500,
                text: "$25.00".into(),
            },
        ];
        let svg = bar_chart_svg("Payments: Quick pay $125.00", &bars, "#1d5fbf");
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-label=\"Payments: Quick pay $125.00\""));
        assert!(svg.contains("<title>Payments: Quick pay $125.00</title>"));
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert!(svg.contains(">$125.00</text>"));
        assert!(svg.contains(">$25.00</text>"));
        assert!(svg.contains("Office &lt;b&gt;"));
        assert!(!svg.contains("<b>"));
        // The largest bar spans the whole bar area; the smaller one is a fifth of it.
        assert!(svg.contains("width=\"400\""));
        assert!(svg.contains("width=\"80\""));
        // A colour that is not #rrggbb never reaches the markup.
        let odd = bar_chart_svg("t", &bars, "red\" onload=\"x");
        assert!(!odd.contains("onload"));
    }
}
