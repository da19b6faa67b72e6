//! The invoice page (lines, payments applied, refunds given back) and
//! voiding it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};

use super::{OfficeUser, badge, due_words, internal, load_invoice, money, refused};
use crate::app::Refusal;
use crate::domain::dates;
use crate::domain::ids::InvoiceId;
use crate::store::companies::Company;
use crate::store::invoices::{self, Detail};
use crate::web::AppState;
use crate::web::office::{CsrfForm, page, page_with_status};

/// The invoice page saying why it cannot be `action` (409), when `refusal`
/// refuses the change.
pub(super) fn refuse_change(
    state: &AppState,
    user: &OfficeUser,
    company: &Company,
    detail: &Detail,
    refusal: fn(&invoices::ChangeState) -> Option<invoices::Refusal>,
    action: &str,
) -> Option<Response> {
    let why = refusal(&detail.change())?;
    let message = crate::app::invoices::refusal_message(why, &detail.invoice.number, action);
    Some(render_show(
        state,
        user,
        company,
        detail,
        StatusCode::CONFLICT,
        "",
        &message,
    ))
}

#[derive(Serialize)]
struct LineView {
    description: String,
    quantity: i64,
    unit_price: String,
    amount: String,
}

#[derive(Serialize)]
struct PaymentView {
    date: String,
    how: String,
    channel: &'static str,
    amount: String,
}

#[derive(Serialize)]
struct RefundView {
    date: String,
    reason: String,
    amount: String,
}

fn channel_label(channel: &str) -> &'static str {
    match channel {
        "quick_pay" => "Quick payment page",
        "portal" => "Customer portal",
        "office" => "Office",
        "autopay" => "Autopay",
        "api" => "API",
        _ => "Other",
    }
}

fn payment_how(p: &invoices::AppliedPayment) -> String {
    match p.method.as_str() {
        "card" => match (&p.card_brand, &p.card_last4) {
            (Some(b), Some(l)) => format!("{b} ending {l}"),
            _ => "Card".into(),
        },
        "check" => match &p.check_number {
            Some(n) if !n.is_empty() => format!("Check #{n}"),
            _ => "Check".into(),
        },
        "cash" => "Cash".into(),
        other => other.to_string(),
    }
}

#[derive(Deserialize, Default)]
pub(super) struct ShowQuery {
    #[serde(default)]
    done: String,
}

pub(super) fn render_show(
    state: &AppState,
    user: &OfficeUser,
    company: &Company,
    d: &Detail,
    status: StatusCode,
    notice: &str,
    refusal: &str,
) -> Response {
    let today = state.app.clock.today_in(&company.time_zone);
    let inv = &d.invoice;
    let c = inv.currency;
    let (badge_class, badge_label) = badge(&inv.status, inv.due_date, today);
    let change = d.change();
    let lines: Vec<LineView> = inv
        .lines
        .iter()
        .map(|l| LineView {
            description: l.description.clone(),
            quantity: l.quantity,
            unit_price: money(l.unit_price, c),
            amount: money(l.amount, c),
        })
        .collect();
    let payments: Vec<PaymentView> = d
        .payments
        .iter()
        .map(|p| PaymentView {
            date: dates::display_instant(p.created_at, &company.time_zone),
            how: payment_how(p),
            channel: channel_label(&p.channel),
            amount: money(p.amount, c),
        })
        .collect();
    let refunds: Vec<RefundView> = d
        .refunds
        .iter()
        .map(|r| RefundView {
            date: dates::display_instant(r.created_at, &company.time_zone),
            reason: r.reason.clone(),
            amount: money(r.amount, c),
        })
        .collect();
    let lock_note = if d.locked && inv.status == "open" {
        "A payment for this invoice is being processed right now. It cannot be edited or voided until that finishes."
    } else {
        ""
    };
    page_with_status(
        state,
        user,
        status,
        "office/invoice.html",
        "invoices",
        minijinja::context! {
            invoice => minijinja::context! {
                id => inv.id.as_str(),
                number => inv.number.as_str(),
                status => inv.status.as_str(),
                badge_class => badge_class,
                badge_label => badge_label,
                due_words => due_words(&inv.status, inv.due_date, today),
                issue_date => dates::display(inv.issue_date),
                due_date => dates::display(inv.due_date),
                total => money(inv.total, c),
                applied => money(d.applied, c),
                refunded => money(d.refunded, c),
                has_refunds => d.refunded > 0,
                balance => money(inv.balance, c),
                owed => inv.status == "open",
                voided_at => d.voided_at.map(|t| dates::display_instant(t, &company.time_zone)),
                property_address => d.property_address.as_str(),
                bill_to_id => inv.bill_to_customer_id.as_str(),
                bill_to_name => d.bill_to_name.as_str(),
                resident_id => d.resident_customer_id.as_str(),
                resident_name => d.resident_name.as_str(),
                on_behalf => d.resident_customer_id != inv.bill_to_customer_id,
                can_edit => invoices::edit_refusal(&change).is_none(),
                can_void => invoices::void_refusal(&change).is_none(),
            },
            lines => minijinja::value::Serde(&lines),
            payments => minijinja::value::Serde(&payments),
            refunds => minijinja::value::Serde(&refunds),
            lock_note => lock_note,
            notice => notice,
            refusal => refusal,
        },
    )
}

pub(super) async fn show(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let (company, detail) = match load_invoice(&state, &user, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let number = &detail.invoice.number;
    let notice = match q.done.as_str() {
        "created" => format!("Invoice {number} was created."),
        "edited" => format!("Invoice {number} was updated."),
        "voided" => format!("Invoice {number} was voided. It is no longer payable."),
        _ => String::new(),
    };
    render_show(
        &state,
        &user,
        &company,
        &detail,
        StatusCode::OK,
        &notice,
        "",
    )
}

pub(super) async fn void_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Response {
    let (company, detail) = match load_invoice(&state, &user, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Some(r) = refuse_change(
        &state,
        &user,
        &company,
        &detail,
        invoices::void_refusal,
        "voided",
    ) {
        return r;
    }
    let inv = &detail.invoice;
    page(
        &state,
        &user,
        "office/invoice_void.html",
        "invoices",
        minijinja::context! {
            invoice => minijinja::context! {
                id => inv.id.as_str(),
                number => inv.number.as_str(),
                total => money(inv.total, inv.currency),
                balance => money(inv.balance, inv.currency),
                bill_to_name => detail.bill_to_name.as_str(),
                property_address => detail.property_address.as_str(),
            },
        },
    )
}

pub(super) async fn void(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<InvoiceId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    match crate::app::invoices::void(&state.app, &user.as_actor(), &id).await {
        Ok(_) => Redirect::to(&format!("/office/invoices/{id}?done=voided")).into_response(),
        Err(Refusal::NotFound) => state.views.not_found(),
        Err(Refusal::Store(e)) => internal(e),
        Err(refusal) => refused(&state, &user, &id, &refusal.to_string()).await,
    }
}
