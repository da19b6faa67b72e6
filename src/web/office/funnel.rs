//! Office dashboard: the collections funnel — per template and channel,
//! messages sent with a payment link, links opened, invoices paid within 14
//! days and the amount collected, for a chosen range (a table and a
//! server-drawn SVG chart).

use serde::Serialize;

use super::dashboard::escape_xml;
use crate::app::reports::{self, DateRange};
use crate::domain::funnel::FunnelLine;
use crate::domain::money::{Currency, Money};
use crate::store::templates;
use crate::web::AppState;
use crate::web::api_reports::RangeQuery;
use crate::web::error::ApiError;

#[derive(Serialize)]
pub(super) struct FunnelRow {
    channel: &'static str,
    template: String,
    sent: u64,
    opened: u64,
    paid: u64,
    amount: String,
}

#[derive(Serialize, Default)]
pub(super) struct FunnelView {
    from: String,
    to: String,
    /// What to fix in the range asked for, if it cannot be used.
    error: Option<String>,
    rows: Vec<FunnelRow>,
    totals: Option<FunnelRow>,
    /// Built from counts and escaped names only.
    chart: String,
}

fn channel_label(channel: &str) -> &'static str {
    if channel == "sms" { "SMS" } else { "Email" }
}

/// The funnel section for the range in the dashboard's query (the last 30
/// days when none): a bad range is shown as a message beside the form,
/// not an error page.
pub(super) async fn section(
    state: &AppState,
    actor: &crate::app::Actor,
    currency: Currency,
    today: time::Date,
    query: &RangeQuery,
) -> Result<FunnelView, ApiError> {
    let shown = |range: DateRange| {
        (
            crate::domain::dates::iso(range.from),
            crate::domain::dates::iso(range.to),
        )
    };
    let range = match query.range(today) {
        Ok(r) => r,
        Err(e) => {
            let (from, to) = shown(RangeQuery::default().range(today)?);
            return Ok(FunnelView {
                from,
                to,
                error: Some(e.message),
                ..FunnelView::default()
            });
        }
    };
    let (from, to) = shown(range);
    let lines = match reports::collections(&state.app, actor, range).await {
        Ok(lines) => lines,
        Err(crate::app::Refusal::Invalid { message, .. }) => {
            return Ok(FunnelView {
                from,
                to,
                error: Some(message),
                ..FunnelView::default()
            });
        }
        Err(e) => return Err(e.into()),
    };
    let company_id = actor.company_id();
    let mut names = std::collections::HashMap::new();
    for t in templates::list_email(&state.app.db, company_id).await? {
        names.insert(t.id.into_string(), t.name);
    }
    for t in templates::list_sms(&state.app.db, company_id).await? {
        names.insert(t.id.into_string(), t.name);
    }
    let money = |minor: i64| Money::new(minor, currency).format();
    let name = |line: &FunnelLine| {
        names
            .get(&line.template_id)
            .cloned()
            .unwrap_or_else(|| "(deleted template)".to_string())
    };
    let rows: Vec<FunnelRow> = lines
        .iter()
        .map(|l| FunnelRow {
            channel: channel_label(&l.channel),
            template: name(l),
            sent: l.sent,
            opened: l.opened,
            paid: l.paid,
            amount: money(l.paid_amount),
        })
        .collect();
    let totals = (!lines.is_empty()).then(|| FunnelRow {
        channel: "",
        template: "All messages".into(),
        sent: lines.iter().map(|l| l.sent).sum(),
        opened: lines.iter().map(|l| l.opened).sum(),
        paid: lines.iter().map(|l| l.paid).sum(),
        amount: money(lines.iter().map(|l| l.paid_amount).sum()),
    });
    let chart = if rows.is_empty() {
        String::new()
    } else {
        funnel_chart_svg(&rows)
    };
    Ok(FunnelView {
        from,
        to,
        error: None,
        rows,
        totals,
        chart,
    })
}

/// Three bars a row (sent, opened, paid), all on the scale of the largest
/// "sent", so each row reads as a funnel. Every text is escaped.
fn funnel_chart_svg(rows: &[FunnelRow]) -> String {
    const WIDTH: u64 = 640;
    // Room right of the longest bar for its figure.
    const ROOM: u64 = 90;
    const BAR: u64 = 14;
    // Each row: its name on a line of its own, then its three bars.
    const NAME: u64 = 18;
    const GROUP: u64 = NAME + 3 * BAR + 16;
    const SHADES: [(&str, &str); 3] = [
        ("sent", "#9db8de"),
        ("opened", "#4f86c9"),
        ("paid", "#1d5fbf"),
    ];
    let max = rows.iter().map(|r| r.sent).max().unwrap_or(0).max(1);
    let span = WIDTH - ROOM;
    let height = GROUP * rows.len() as u64 + 28;
    let described: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}: {} sent, {} opened, {} paid",
                r.channel, r.template, r.sent, r.opened, r.paid
            )
        })
        .collect();
    let title = escape_xml(&format!("Collections funnel: {}", described.join("; ")));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" role=\"img\" aria-label=\"{title}\" \
viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" style=\"max-width:{WIDTH}px\"><title>{title}</title>"
    );
    for (i, r) in rows.iter().enumerate() {
        let top = 4 + GROUP * i as u64;
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{y}\" font-size=\"13\" font-weight=\"600\" fill=\"#1b1f24\">{label}</text>",
            y = top + 13,
            label = escape_xml(&format!("{} · {}", r.channel, r.template)),
        ));
        for (k, ((what, fill), value)) in SHADES.iter().zip([r.sent, r.opened, r.paid]).enumerate()
        {
            let y = top + NAME + BAR * k as u64;
            let w = (value * span / max).max(if value > 0 { 2 } else { 0 });
            svg.push_str(&format!(
                "<rect class=\"bar {what}\" x=\"0\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\"></rect>\
<text x=\"{tx}\" y=\"{ty}\" font-size=\"12\" fill=\"#1b1f24\">{value} {what}</text>",
                h = BAR - 2,
                tx = w + 6,
                ty = y + BAR - 3,
            ));
        }
    }
    let legend_y = GROUP * rows.len() as u64 + 18;
    for (k, (what, fill)) in SHADES.iter().enumerate() {
        let x = 110 * k as u64;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{fill}\"></rect>\
<text x=\"{tx}\" y=\"{legend_y}\" font-size=\"12\" fill=\"#1b1f24\">{what}</text>",
            y = legend_y - 10,
            tx = x + 16,
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_escapes_names_and_scales_to_the_largest_send() {
        let rows = vec![
            FunnelRow {
                channel: "Email",
                template: "<Overdue & due>".into(),
                sent: 10,
                opened: 5,
                paid: 0,
                amount: "$0.00".into(),
            },
            FunnelRow {
                channel: "SMS",
                template: "Reminder".into(),
                sent: 5,
                opened: 5,
                paid: 5,
                amount: "$50.00".into(),
            },
        ];
        let svg = funnel_chart_svg(&rows);
        assert!(svg.contains("&lt;Overdue &amp; due&gt;"), "{svg}");
        assert!(!svg.contains("<Overdue"));
        // 10 sent spans the whole width, 5 half of it, 0 draws nothing.
        assert!(svg.contains("width=\"550\""), "{svg}");
        assert!(svg.contains("width=\"275\""), "{svg}");
        assert!(svg.contains("width=\"0\""), "{svg}");
        assert!(svg.contains("10 sent, 5 opened, 0 paid"));
    }
}
