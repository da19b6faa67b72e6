//! The quick payment page as HTML: open invoices by property, saved cards,
//! the processor's card fields; and the receipt after paying.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ClientIp, form_token, load_page, method_label, resolve};
use crate::app::autopay::AutopayState;
use crate::app::payments::ActionNeeded;
use crate::domain::autopay_consent_text;
use crate::domain::i18n::{self, Lang, tr};
use crate::domain::ids::{CompanyId, CustomerId, PaymentId};
use crate::domain::money::Money;
use crate::processor::PageProcessor;
use crate::store::companies;
use crate::store::payments as pay_store;
use crate::store::paypage::PayPage;
use crate::web::AppState;
use crate::web::error::ApiError;

/// What the form showed when it comes back: the choices made and the errors
/// (each the key of a message in `locales/`, or words to show as they are).
#[derive(Default)]
pub(crate) struct FormState {
    pub selected: Option<Vec<String>>,
    pub plan: String,
    pub method: Option<String>,
    pub error: Option<String>,
    pub card_error: Option<String>,
    pub consent_error: Option<String>,
    /// The bank asks the customer to authenticate this attempt first.
    pub action: Option<ActionNeeded>,
}

#[derive(Serialize)]
struct LineView {
    description: String,
    quantity: i64,
    amount: String,
}

#[derive(Serialize)]
struct InvoiceView {
    id: String,
    number: String,
    issue_date: String,
    due_text: String,
    overdue: bool,
    balance: String,
    balance_minor: i64,
    total: String,
    paid_so_far: Option<String>,
    /// Due today or earlier: preselected.
    due_now: bool,
    selected: bool,
    lines: Vec<LineView>,
}

#[derive(Serialize)]
struct PropertyView {
    address: String,
    on_behalf: bool,
    invoices: Vec<InvoiceView>,
}

/// "Due now" or "Upcoming", each with its properties' invoices.
#[derive(Serialize)]
struct GroupView {
    key: &'static str,
    title: String,
    properties: Vec<PropertyView>,
}

#[derive(Serialize)]
struct MethodView {
    id: String,
    label: String,
    checked: bool,
}

fn due_text(lang: Lang, due: time::Date, today: time::Date) -> (String, bool) {
    let days = (due - today).whole_days();
    let date = i18n::date(lang, due);
    match days {
        d if d < 0 => (
            tr(
                lang,
                "pay-overdue",
                &[("days", (-d).into()), ("date", date.into())],
            ),
            true,
        ),
        0 => (i18n::t(lang, "pay-due-today"), false),
        _ => (tr(lang, "pay-due-on", &[("date", date.into())]), false),
    }
}

/// A form message: a key of `locales/` in the page's language, else as it is.
fn words(lang: Lang, message: String) -> String {
    if i18n::has(lang, &message) {
        i18n::t(lang, &message)
    } else {
        message
    }
}

/// The language of a customer's page (see `web::lang`).
pub(crate) fn page_lang(page: &PayPage) -> Lang {
    crate::web::lang::choose(page.customer.language, page.company.language)
}

pub(super) async fn render_page(
    state: &AppState,
    page: &PayPage,
    token: &str,
    status: StatusCode,
    form: FormState,
) -> Response {
    let processor = &page.company.processor;
    // What autopay charges next is read only for an enrolled customer; the
    // page's one query already says whether there is an enrollment.
    let autopay = if page.has_enrollment {
        match crate::app::autopay::state(&state.app, &page.company.id, &page.customer.id).await {
            Ok(a) => a,
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        None
    };
    let ctx = page_context(
        state,
        page,
        processor,
        FormPlace {
            scope: &page.link_id,
            action: &format!("/pay/{token}"),
            token,
        },
        form,
        autopay.as_ref(),
    );
    let resp = state.views.page(status, "pay.html", ctx);
    crate::web::with_processor_csp(resp, processor)
}

/// Where a pay form is shown: `scope` binds its form token, `action` is
/// where it posts, `token` is the quick payment link's (empty in the
/// portal, whose links go to `/portal/...`).
pub(crate) struct FormPlace<'a> {
    pub scope: &'a str,
    pub action: &'a str,
    pub token: &'a str,
}

/// Everything the pay form shows (`pay.html`), for any place that shows it.
/// One map, not merged with another at render time: a merged context is
/// looked up map by map for every variable the template reads.
pub(crate) fn page_context(
    state: &AppState,
    page: &PayPage,
    processor: &PageProcessor,
    place: FormPlace<'_>,
    form: FormState,
    autopay_state: Option<&AutopayState>,
) -> minijinja::Value {
    let today = state.app.clock.today_in(&page.company.time_zone);
    let lang = page_lang(page);
    let currency = page.company.currency;
    let mut total = 0i64;
    let properties: Vec<PropertyView> = page
        .properties
        .iter()
        .map(|p| PropertyView {
            address: p.address.clone(),
            on_behalf: p.billed_on_behalf_of_resident,
            invoices: p
                .invoices
                .iter()
                .map(|inv| {
                    let due_now = inv.due_date <= today;
                    let selected = form
                        .selected
                        .as_ref()
                        .map(|s| s.contains(&inv.id))
                        .unwrap_or(due_now);
                    if selected {
                        total += inv.balance;
                    }
                    let (due_text, overdue) = due_text(lang, inv.due_date, today);
                    let paid = inv.total - inv.balance;
                    InvoiceView {
                        id: inv.id.clone(),
                        number: inv.number.clone(),
                        issue_date: i18n::date(lang, inv.issue_date),
                        due_text,
                        overdue,
                        balance: Money::new(inv.balance, inv.currency).format(),
                        balance_minor: inv.balance,
                        total: Money::new(inv.total, inv.currency).format(),
                        paid_so_far: (paid > 0).then(|| Money::new(paid, inv.currency).format()),
                        due_now,
                        selected,
                        lines: inv
                            .lines
                            .iter()
                            .map(|l| LineView {
                                description: l.description.clone(),
                                quantity: l.quantity,
                                amount: Money::new(l.amount, inv.currency).format(),
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let all_selected = properties
        .iter()
        .flat_map(|p| p.invoices.iter())
        .all(|i| i.selected);
    let groups = group_by_due(lang, properties);
    let chosen = form
        .method
        .clone()
        .or_else(|| page.saved_methods.first().map(|m| m.id.clone()))
        .unwrap_or_else(|| "new_card".into());
    let methods: Vec<MethodView> = page
        .saved_methods
        .iter()
        .map(|m| MethodView {
            id: m.id.clone(),
            label: method_label(lang, &m.brand, &m.last4, m.exp_month, m.exp_year),
            checked: m.id == chosen,
        })
        .collect();
    let autopay = autopay_state.map(|a| autopay_view(lang, a, today));
    let (nonce, sig) = form_token(state, place.scope);
    // The "Turn off autopay" form is its own, with its own one-time token;
    // the page shows it only while autopay is on.
    let off_form = autopay.is_some().then(|| {
        let (nonce, sig) = form_token(state, place.scope);
        minijinja::context! { nonce => nonce, sig => sig }
    });
    minijinja::context! {
        lang => lang.code(),
        accent => page.company.accent_color.as_str(),
        test_mode => page.mode.is_test(),
        company => minijinja::context! {
            name => page.company.name.as_str(),
            phone => page.company.phone.as_str(),
            logo => page.company.has_logo.then(|| format!("/logo/{}", page.company.id)),
        },
        customer_name => page.customer.name.as_str(),
        action => place.action,
        token => place.token,
        groups => minijinja::value::Serde(&groups),
        has_invoices => groups.iter().any(|g| !g.properties.is_empty()),
        total => Money::new(total, currency).format(),
        total_minor => total,
        all_selected => all_selected,
        currency => currency.code(),
        saved_methods => minijinja::value::Serde(&methods),
        new_card_checked => chosen == "new_card",
        autopay => autopay,
        consent_text => autopay_consent_text(lang, &page.company.name, &page.company.phone),
        plan => form.plan,
        form => minijinja::context! { nonce => nonce, sig => sig },
        off_form => off_form,
        error => form.error.map(|m| words(lang, m)),
        card_error => form.card_error.map(|m| words(lang, m)),
        consent_error => form.consent_error.map(|m| words(lang, m)),
        authenticate => form.action.as_ref().map(|a| minijinja::context! {
            attempt_id => a.attempt_id.as_str(),
            client_secret => a.client_secret.as_str(),
            message => i18n::t(lang, "pay-authenticate"),
        }),
        processor => minijinja::value::Serde(processor),
    }
}

/// Splits each property's invoices into "Due now" and "Upcoming", keeping
/// the properties' order; a group without invoices is left out.
fn group_by_due(lang: Lang, properties: Vec<PropertyView>) -> Vec<GroupView> {
    let mut now = Vec::new();
    let mut upcoming = Vec::new();
    for p in properties {
        let (due, later): (Vec<InvoiceView>, Vec<InvoiceView>) =
            p.invoices.into_iter().partition(|i| i.due_now);
        for (list, invoices) in [(&mut now, due), (&mut upcoming, later)] {
            if !invoices.is_empty() {
                list.push(PropertyView {
                    address: p.address.clone(),
                    on_behalf: p.on_behalf,
                    invoices,
                });
            }
        }
    }
    [
        ("due", "pay-group-due", now),
        ("upcoming", "pay-group-upcoming", upcoming),
    ]
    .into_iter()
    .filter(|(_, _, p)| !p.is_empty())
    .map(|(key, title, properties)| GroupView {
        key,
        title: i18n::t(lang, title),
        properties,
    })
    .collect()
}

/// What the page says about autopay while it is on.
fn autopay_view(lang: Lang, a: &AutopayState, today: time::Date) -> minijinja::Value {
    minijinja::context! {
        label => card_ending(lang, &a.brand, &a.last4),
        summary => autopay_summary(lang, a, today),
    }
}

/// "Visa ending 4242" / "Visa terminada en 4242".
pub(crate) fn card_ending(lang: Lang, brand: &str, last4: &str) -> String {
    tr(
        lang,
        "card-ending",
        &[("brand", brand.into()), ("last4", last4.into())],
    )
}

/// "Autopay is on: Visa •4242; invoice 1004, $65.00, will be charged on Dec 31."
pub(crate) fn autopay_summary(lang: Lang, a: &AutopayState, today: time::Date) -> String {
    let card = format!("{} \u{2022}{}", a.brand, a.last4);
    let Some(n) = &a.next else {
        return tr(lang, "autopay-on-future", &[("card", card.into())]);
    };
    let amount = crate::domain::money::Currency::parse(&n.currency)
        .map(|c| i18n::money(lang, Money::new(n.amount, c)))
        .unwrap_or_else(|| format!("{} {}", n.amount, n.currency));
    let mut args = vec![
        ("card", card.into()),
        ("count", n.numbers.len().into()),
        ("numbers", n.numbers.join(", ").into()),
        ("amount", amount.into()),
        ("date", i18n::date_near(lang, n.date, today).into()),
    ];
    if (n.brand.as_str(), n.last4.as_str()) != (a.brand.as_str(), a.last4.as_str()) {
        args.push(("other", format!("{} \u{2022}{}", n.brand, n.last4).into()));
        tr(lang, "autopay-on-next-other", &args)
    } else {
        tr(lang, "autopay-on-next", &args)
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
) -> Response {
    match load_page(&state, ip, &token, "/pay").await {
        Ok(page) => render_page(&state, &page, &token, StatusCode::OK, FormState::default()).await,
        Err(resp) => resp,
    }
}

pub(super) async fn receipt(
    State(state): State<AppState>,
    ip: ClientIp,
    Path((token, payment_id)): Path<(String, PaymentId)>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    match receipt_context(&state, &link.company_id, &link.customer_id, &payment_id).await {
        Ok(Some(ctx)) => state.views.page(
            StatusCode::OK,
            "receipt.html",
            minijinja::context! { back => format!("/pay/{token}"), token => token, ..ctx },
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => e.into_response(),
    }
}

/// What a receipt (`receipt.html`) shows: one payment of one customer, or
/// `None` when the payment is not theirs.
pub(crate) async fn receipt_context(
    state: &AppState,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    payment_id: &PaymentId,
) -> Result<Option<minijinja::Value>, ApiError> {
    let payment = pay_store::list(
        &state.app.db,
        company_id,
        Some(customer_id),
        Some(payment_id),
        1,
    )
    .await?
    .pop();
    let company = companies::get(&state.app.db, company_id).await?;
    let autopay = pay_store::active_autopay(&state.app.db, customer_id).await?;
    let mode = crate::store::processor_settings::mode(&state.app.db, company_id).await?;
    let receipt_email = crate::store::messages::receipt_email_status(
        &state.app.db,
        company_id,
        customer_id,
        payment_id,
    )
    .await?;
    let customer = crate::store::customers::get(&state.app.db, company_id, customer_id).await?;
    let (Some(payment), Some(company), Some(customer)) = (payment, company, customer) else {
        return Ok(None);
    };
    let lang = crate::web::lang::choose(customer.language, company.language);
    let money = |minor: i64| i18n::money(lang, Money::new(minor, payment.currency));
    Ok(Some(minijinja::context! {
        lang => lang.code(),
        accent => company.accent_color,
        test_mode => mode.is_test(),
        receipt_emailed => i18n::t(lang, receipt_email.as_deref().map(|s| match s {
            "sent" => "receipt-emailed",
            "failed" | "suppressed" => "receipt-email-failed",
            _ => "receipt-email-coming",
        }).unwrap_or("receipt-no-email")),
        company => minijinja::context! { name => company.name, phone => company.phone },
        amount => money(payment.amount),
        reference => payment.id,
        card => card_ending(lang, &payment.card_brand.unwrap_or_default(), &payment.card_last4.unwrap_or_default()),
        time => i18n::instant(lang, payment.created_at, &company.time_zone),
        allocations => payment.allocations.iter().map(|a| minijinja::context! {
            invoice_id => a.invoice_id.clone(),
            number => a.invoice_number.clone(),
            amount => money(a.amount),
            balance => money(a.invoice_balance),
        }).collect::<Vec<_>>(),
        autopay => autopay.map(|m| card_ending(lang, &m.brand, &m.last4)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    #[test]
    fn autopay_summaries() {
        let today = date!(2026 - 12 - 06);
        let mut a = AutopayState {
            brand: "Visa".into(),
            last4: "4242".into(),
            next: Some(crate::app::autopay::NextCharge {
                date: date!(2026 - 12 - 31),
                numbers: vec!["1004".into()],
                amount: 6500,
                currency: "usd".into(),
                brand: "Visa".into(),
                last4: "4242".into(),
            }),
        };
        assert_eq!(
            autopay_summary(Lang::En, &a, today),
            "Autopay is on: Visa \u{2022}4242; invoice 1004, $65.00, will be charged on Dec 31."
        );
        assert_eq!(
            autopay_summary(Lang::Es, &a, today),
            "El pago automático está activado: Visa \u{2022}4242; la factura 1004, $65.00, se cobrará el 31 dic."
        );
        if let Some(n) = a.next.as_mut() {
            n.numbers.push("1005".into());
        }
        assert_eq!(
            autopay_summary(Lang::En, &a, today),
            "Autopay is on: Visa \u{2022}4242; invoices 1004, 1005, $65.00, will be charged on Dec 31."
        );
        a.next = None;
        assert_eq!(
            autopay_summary(Lang::En, &a, today),
            "Autopay is on: Visa \u{2022}4242. Future invoices are charged to it when they are due."
        );
    }

    #[test]
    fn due_texts() {
        let today = date!(2026 - 11 - 28);
        assert_eq!(
            due_text(Lang::En, date!(2026 - 11 - 27), today),
            ("Overdue by 1 day (was due Nov 27, 2026)".into(), true)
        );
        assert_eq!(
            due_text(Lang::En, date!(2026 - 11 - 28), today),
            ("Due today".into(), false)
        );
        assert_eq!(
            due_text(Lang::En, date!(2026 - 12 - 15), today),
            ("Due Dec 15, 2026".into(), false)
        );
        assert_eq!(
            due_text(Lang::Es, date!(2026 - 11 - 25), today),
            ("Vencida hace 3 días (vencía el 25 nov 2026)".into(), true)
        );
        assert_eq!(
            due_text(Lang::Es, date!(2026 - 12 - 15), today),
            ("Vence el 15 dic 2026".into(), false)
        );
    }
}
