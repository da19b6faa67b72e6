//! A payment's page: its allocations and refunds, and refunding it (with a
//! confirmation step that says which invoices reopen).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};

use super::{fail, fmt, nonce, payment_view, refund_note, time_zone};
use crate::app::payments::OfficePayError;
use crate::app::refunds::{
    RefundKey, RefundOutcome, RefundRequest, plan_refund_for, refund as refund_usecase,
    retry_refund as retry_refund_usecase,
};
use crate::domain::ids::{InvoiceId, PaymentId, RefundId};
use crate::domain::money::{parse_amount, plain_amount};
use crate::store::payments as store;
use crate::store::{StoreError, refunds};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, page, page_with_status};

#[derive(Deserialize, Default)]
pub(super) struct ShowQuery {
    #[serde(default)]
    done: String,
}

#[derive(Deserialize, Default, Serialize, Clone)]
pub(super) struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Serialize)]
struct AllocationRow {
    invoice_id: InvoiceId,
    number: String,
    applied: String,
    given_back: String,
    balance: String,
    status: String,
}

#[derive(Serialize)]
struct RefundRow {
    id: RefundId,
    date: String,
    amount: String,
    reason: String,
    by: String,
    pending: bool,
    failed: bool,
    /// Why it failed, why it is still pending, or what the office must check.
    note: Option<String>,
    /// When the jobs try a pending refund next.
    next_try: Option<String>,
    shares: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<PaymentId>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let notice = match q.done.as_str() {
        "recorded" => Some("Payment recorded."),
        "refunded" => Some("Refund recorded."),
        "pending" => Some(
            "The refund is recorded and pending at the processor; it will be retried automatically. You can also send it again below.",
        ),
        _ => None,
    };
    render_detail(&state, &user, &id, StatusCode::OK, None, None, notice).await
}

async fn render_detail(
    state: &AppState,
    user: &OfficeUser,
    id: &PaymentId,
    status: StatusCode,
    form: Option<RefundForm>,
    error: Option<(String, String)>,
    notice: Option<&str>,
) -> Response {
    let tz = match time_zone(state, &user.company_id).await {
        Ok(tz) => tz,
        Err(e) => return fail(e),
    };
    let loaded: Result<_, StoreError> = async {
        let mut conn = state.app.db.reader().acquire().await?;
        let Some(p) = store::office_get(&mut conn, &user.company_id, id).await? else {
            return Ok(None);
        };
        let received = refunds::received_by_invoice(&mut conn, &user.company_id, id).await?;
        drop(conn);
        let refunds = refunds::for_payment(&state.app.db, &user.company_id, id).await?;
        Ok(Some((p, received, refunds)))
    }
    .await;
    let (p, received, refund_list) = match loaded {
        Ok(Some(x)) => x,
        Ok(None) => return state.views.not_found(),
        Err(e) => return fail(e),
    };
    let c = p.currency;
    let allocations: Vec<AllocationRow> = received
        .iter()
        .map(|r| AllocationRow {
            invoice_id: r.invoice_id.clone(),
            number: r.invoice_number.clone(),
            applied: fmt(r.received, c),
            given_back: fmt(r.given_back, c),
            balance: fmt(r.invoice_balance, c),
            status: r.invoice_status.clone(),
        })
        .collect();
    let refund_rows: Vec<RefundRow> = refund_list
        .iter()
        .map(|r| RefundRow {
            id: r.id.clone(),
            date: crate::domain::dates::display_instant(r.created_at, &tz),
            amount: fmt(r.amount, c),
            reason: r.reason.clone(),
            by: r.created_by.clone(),
            pending: r.status == refunds::PENDING,
            failed: r.status == refunds::FAILED,
            note: match r.status.as_str() {
                refunds::FAILED => Some(refund_note(&r.status, r.last_error.as_deref()).0),
                _ => r.last_error.clone(),
            },
            next_try: r
                .next_attempt_at
                .filter(|_| r.status == refunds::PENDING)
                .map(|at| crate::domain::dates::display_instant(at, &tz)),
            shares: r
                .shares
                .iter()
                .map(|s| format!("{} {}", s.invoice_number, fmt(s.amount, c)))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let left = p.amount - p.refunded;
    let form = form.unwrap_or_else(|| RefundForm {
        amount: plain_amount(left.max(0), c.minor_digits()),
        nonce: nonce(),
        ..RefundForm::default()
    });
    let (error_field, error_message) = error.unwrap_or_default();
    page_with_status(
        state,
        user,
        status,
        "office/payment.html",
        "payments",
        minijinja::context! {
            payment => minijinja::value::Serde(&payment_view(&p, &tz)),
            allocations => minijinja::value::Serde(&allocations),
            refunds => minijinja::value::Serde(&refund_rows),
            can_refund => left > 0,
            form => minijinja::value::Serde(&form),
            error_field => error_field,
            error => error_message,
            notice => notice,
        },
    )
}

pub(super) async fn refund(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<PaymentId>,
    Form(form): Form<RefundForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    let back = |status: StatusCode, field: &str, message: String, form: RefundForm| {
        let state = state.clone();
        let user = user.clone();
        let id = id.clone();
        let field = field.to_string();
        async move {
            render_detail(
                &state,
                &user,
                &id,
                status,
                Some(form),
                Some((field, message)),
                None,
            )
            .await
        }
    };
    // The payment's currency decides how the amount is read.
    let payment = {
        let found: Result<_, StoreError> = async {
            let mut conn = state.app.db.reader().acquire().await?;
            store::office_get(&mut conn, &user.company_id, &id).await
        }
        .await;
        match found {
            Ok(Some(p)) => p,
            Ok(None) => return state.views.not_found(),
            Err(e) => return fail(e),
        }
    };
    let amount = if form.amount.trim().is_empty() {
        None
    } else {
        match parse_amount(&form.amount, payment.currency.minor_digits()) {
            Ok(a) => Some(a),
            Err(m) => {
                return back(StatusCode::UNPROCESSABLE_ENTITY, "amount", m.into(), form).await;
            }
        }
    };
    if form.reason.chars().count() > 500 {
        return back(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
            "Keep the reason under 500 characters.".into(),
            form,
        )
        .await;
    }
    if form.confirm != "yes" {
        // The confirmation step: say what will happen.
        let planned = plan_refund_for(&state.app, &user.as_actor(), &id, amount).await;
        let plan = match planned.map_err(refused) {
            Ok(p) => p,
            Err(Refused::NotFound) => return state.views.not_found(),
            Err(Refused::Fail(e)) => return e.into_response(),
            Err(Refused::Back(status, field, message)) => {
                let status = if status == StatusCode::BAD_GATEWAY {
                    StatusCode::CONFLICT
                } else {
                    status
                };
                return back(status, field, message, form).await;
            }
        };
        let tz = time_zone(&state, &user.company_id)
            .await
            .unwrap_or_else(|_| "UTC".into());
        let c = plan.currency;
        let reopens: Vec<(String, String, String)> = plan
            .reopens
            .iter()
            .map(|(_, number, a, after)| (number.clone(), fmt(*a, c), fmt(*after, c)))
            .collect();
        let confirmed = RefundForm {
            amount: plain_amount(plan.amount, c.minor_digits()),
            ..form
        };
        return page(
            &state,
            &user,
            "office/payment_refund_confirm.html",
            "payments",
            minijinja::context! {
                payment => minijinja::value::Serde(&payment_view(&payment, &tz)),
                amount => fmt(plan.amount, c),
                left_after => fmt(plan.left - plan.amount, c),
                unapplied => (plan.unapplied > 0).then(|| fmt(plan.unapplied, c)),
                reopens => reopens,
                form => minijinja::value::Serde(&confirmed),
            },
        );
    }
    let req = RefundRequest {
        payment_id: id.clone(),
        amount,
        reason: form.reason.clone(),
        key: RefundKey::Form(form.nonce.clone()),
    };
    match refund_usecase(&state.app, &user.as_actor(), &req)
        .await
        .map_err(refused)
    {
        Ok(RefundOutcome::Done(_) | RefundOutcome::Replay(_)) => {
            Redirect::to(&format!("/office/payments/{id}?done=refunded")).into_response()
        }
        Ok(RefundOutcome::Pending(_)) => {
            Redirect::to(&format!("/office/payments/{id}?done=pending")).into_response()
        }
        Err(Refused::NotFound) => state.views.not_found(),
        Err(Refused::Fail(e)) => e.into_response(),
        Err(Refused::Back(status, field, message)) => {
            let fresh = RefundForm {
                nonce: nonce(),
                ..form
            };
            back(status, field, message, fresh).await
        }
    }
}

/// Where a refused refund lands: a 404, an error page, or the payment's
/// page again with the words on a field (`general` for the page).
enum Refused {
    NotFound,
    Fail(ApiError),
    Back(StatusCode, &'static str, String),
}

fn refused(e: OfficePayError) -> Refused {
    match e {
        OfficePayError::NotFound => Refused::NotFound,
        OfficePayError::Store(e) => Refused::Fail(e.into()),
        OfficePayError::Charge(e) => Refused::Fail(e.into()),
        OfficePayError::Invalid {
            field: "form",
            message,
        } => Refused::Back(StatusCode::BAD_REQUEST, "form", message),
        OfficePayError::Invalid { field, message } => {
            Refused::Back(StatusCode::UNPROCESSABLE_ENTITY, field, message)
        }
        OfficePayError::Conflict { message, .. } => {
            Refused::Back(StatusCode::CONFLICT, "general", message)
        }
        OfficePayError::Processor(m) => Refused::Back(StatusCode::BAD_GATEWAY, "general", m),
        OfficePayError::Forbidden(m) => Refused::Back(StatusCode::FORBIDDEN, "general", m),
        OfficePayError::KeyReused => Refused::Back(
            StatusCode::BAD_REQUEST,
            "form",
            "This form was already used. Reload the page.".into(),
        ),
        OfficePayError::InProgress => Refused::Back(
            StatusCode::CONFLICT,
            "general",
            "This refund is still being made. Reload the page in a moment.".into(),
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    csrf: String,
}

pub(super) async fn retry_refund(
    State(state): State<AppState>,
    user: OfficeUser,
    Path((id, refund_id)): Path<(PaymentId, RefundId)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    let retried = retry_refund_usecase(&state.app, &user.as_actor(), &id, &refund_id).await;
    match retried.map_err(refused) {
        Ok(RefundOutcome::Pending(_)) => {
            Redirect::to(&format!("/office/payments/{id}?done=pending")).into_response()
        }
        Ok(_) => Redirect::to(&format!("/office/payments/{id}?done=refunded")).into_response(),
        Err(Refused::NotFound) => state.views.not_found(),
        Err(Refused::Fail(e)) => e.into_response(),
        Err(Refused::Back(_, _, message)) => {
            render_detail(
                &state,
                &user,
                &id,
                StatusCode::BAD_GATEWAY,
                None,
                Some(("general".into(), message)),
                None,
            )
            .await
        }
    }
}
