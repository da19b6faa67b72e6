//! The pay form's submission, on the quick payment page and the portal:
//! the choices checked, the payment made (a double submit waits for the
//! first), the form shown again with what went wrong.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::page::{FormState, render_page};
use super::{ClientIp, consent_for, form_sig_valid, resolve};
use crate::app::payments::{self, PayError, PayInvoices, PayResult, PayStep};
use crate::domain::ids::{AttemptId, CompanyId, CustomerId, InvoiceId};
use crate::store::paypage;
use crate::web::AppState;
use crate::web::error::ApiError;

/// The form's fields; card numbers are not among them (the inputs carry no name).
#[derive(Default)]
pub(crate) struct PayForm {
    invoice_ids: Vec<InvoiceId>,
    payment_method: String,
    card_token: String,
    plan: String,
    autopay_consent: bool,
    form_nonce: String,
    form_sig: String,
    /// Set by the page's script after the bank's check (3-D Secure).
    confirm_attempt: String,
}

pub(crate) fn parse_form(body: &[u8]) -> PayForm {
    let mut f = PayForm::default();
    for (k, v) in form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "invoice_ids" => f.invoice_ids.push(v.into()),
            "payment_method" => f.payment_method = v,
            "card_token" => f.card_token = v,
            "plan" => f.plan = v,
            "autopay_consent" => f.autopay_consent = v == "yes",
            "form_nonce" => f.form_nonce = v,
            "form_sig" => f.form_sig = v,
            "confirm_attempt" => f.confirm_attempt = v,
            _ => {}
        }
    }
    f
}

pub(super) async fn submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let link = match resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let payer = FormPayer {
        company_id: &link.company_id,
        customer_id: &link.customer_id,
        scope: &link.id,
        channel: "quick_pay",
        key_prefix: "form",
    };
    match submit_form(&state, &payer, ip, &headers, &body).await {
        Submitted::Paid(payment_id) => {
            Redirect::to(&format!("/pay/{token}/receipts/{payment_id}")).into_response()
        }
        Submitted::Again(status, fs) => {
            match paypage::load(&state.app.db, &crate::domain::paylink::token_hash(&token)).await {
                Ok(Some(page)) => render_page(&state, &page, &token, status, fs).await,
                Ok(None) => state.views.not_found(),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
        Submitted::Failed(resp) => resp,
    }
}

/// Who pays through a pay form, and how the form was bound.
pub(crate) struct FormPayer<'a> {
    pub company_id: &'a CompanyId,
    pub customer_id: &'a CustomerId,
    /// What the form token was signed for (see `form_token`).
    pub scope: &'a str,
    pub channel: &'static str,
    /// Prefix of the idempotency key made from the form's nonce.
    pub key_prefix: &'static str,
}

/// What a submitted pay form came to.
pub(crate) enum Submitted {
    /// Paid: the payment's id, for the receipt.
    Paid(String),
    /// Show the form again with this status, the choices kept and the errors.
    Again(StatusCode, FormState),
    /// An answer that is not the form (a server error).
    Failed(Response),
}

/// The pay form's submit flow, wherever the form is shown.
pub(crate) async fn submit_form(
    state: &AppState,
    payer: &FormPayer<'_>,
    ip: ClientIp,
    headers: &HeaderMap,
    body: &[u8],
) -> Submitted {
    let form = parse_form(body);
    let mut fs = FormState {
        selected: Some(form.invoice_ids.iter().map(|i| i.to_string()).collect()),
        plan: form.plan.clone(),
        method: Some(form.payment_method.clone()),
        ..FormState::default()
    };
    if !form_sig_valid(state, payer.scope, &form.form_nonce, &form.form_sig) {
        fs.error = Some("pay-form-stale".into());
        return Submitted::Again(StatusCode::BAD_REQUEST, fs);
    }
    if !form.confirm_attempt.is_empty() {
        // Back from the bank's check: settle the attempt it was for.
        let confirmed = confirm_detached(
            state,
            payer.company_id,
            payer.customer_id,
            &form.confirm_attempt,
        )
        .await;
        return match confirmed {
            Ok(None) => {
                fs.error = Some("pay-attempt-missing".into());
                Submitted::Again(StatusCode::NOT_FOUND, fs)
            }
            Ok(Some(step)) => submitted_step(step, fs),
            Err(e) => submitted_error(e, fs),
        };
    }
    if form.invoice_ids.is_empty() {
        fs.error = Some("pay-select-one".into());
        return Submitted::Again(StatusCode::UNPROCESSABLE_ENTITY, fs);
    }
    let method = if form.payment_method == "new_card" || form.payment_method.is_empty() {
        if form.card_token.is_empty() {
            fs.card_error = Some("card-enter-details".into());
            return Submitted::Again(StatusCode::UNPROCESSABLE_ENTITY, fs);
        }
        form.card_token.clone()
    } else {
        form.payment_method.clone()
    };
    let enroll = if form.plan == "autopay" {
        if !form.autopay_consent {
            fs.consent_error = Some("pay-consent-needed".into());
            return Submitted::Again(StatusCode::UNPROCESSABLE_ENTITY, fs);
        }
        match consent_for(
            state,
            payer.company_id,
            payer.customer_id,
            payer.channel,
            ip,
            headers,
        )
        .await
        {
            Ok(c) => Some(c),
            Err(e) => return Submitted::Failed(e.into_response()),
        }
    } else {
        None
    };
    let req = PayInvoices {
        company_id: payer.company_id.clone(),
        customer_id: payer.customer_id.into(),
        invoice_ids: form.invoice_ids.clone(),
        payment_method: method,
        idempotency_key: format!("{}:{}", payer.key_prefix, form.form_nonce),
        channel: payer.channel,
        enroll,
        actor: "customer".into(),
    };
    match pay_waiting(state, req).await {
        Ok(step) => submitted_step(step, fs),
        Err(e) => submitted_error(e, fs),
    }
}

/// What the form shows for where a payment stands.
fn submitted_step(step: PayStep, mut fs: FormState) -> Submitted {
    match step {
        PayStep::Done(PayResult::Succeeded(s)) => Submitted::Paid(s.id),
        PayStep::Done(PayResult::Declined(d)) => {
            fs.card_error = Some(crate::processor::decline_key(&d.code).into());
            fs.method = Some("new_card".into());
            Submitted::Again(StatusCode::PAYMENT_REQUIRED, fs)
        }
        PayStep::RequiresAction(action) => {
            fs.action = Some(action);
            Submitted::Again(StatusCode::PAYMENT_REQUIRED, fs)
        }
    }
}

fn submitted_error(e: PayError, mut fs: FormState) -> Submitted {
    let e = ApiError::from(e);
    // A processor or database that is briefly away: the form again, with
    // the message, so the customer can retry what they typed.
    let retry = [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE];
    if e.status.is_server_error() && !retry.contains(&e.status) {
        return Submitted::Failed(e.into_response());
    }
    fs.error = Some(match e.status {
        StatusCode::CONFLICT => "pay-not-payable".into(),
        s if retry.contains(&s) => "pay-unavailable".into(),
        _ => e.message,
    });
    Submitted::Again(e.status, fs)
}

/// What a customer is told while their bank's check is open.
pub const AUTHENTICATE_MESSAGE: &str = "Your bank asks you to confirm this payment. Complete your bank's check to finish paying; nothing is charged until you do.";

/// `payments::confirm` in a task of its own: a client that hangs up does not
/// cut the settlement short.
pub(super) async fn confirm_detached(
    state: &AppState,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    attempt_id: &str,
) -> Result<Option<PayStep>, PayError> {
    let app = state.app.clone();
    let (company_id, customer_id, attempt_id) = (
        company_id.clone(),
        customer_id.clone(),
        AttemptId::from(attempt_id),
    );
    tokio::spawn(async move {
        payments::confirm(&app, &company_id, &customer_id, &attempt_id, "customer").await
    })
    .await
    .unwrap_or_else(|e| {
        Err(PayError::Store(crate::store::StoreError::Unavailable(
            format!("confirm task failed: {e}"),
        )))
    })
}

/// A double submit of the same form waits for the first one's result.
async fn pay_waiting(state: &AppState, req: PayInvoices) -> Result<PayStep, PayError> {
    for _ in 0..40 {
        match payments::pay_interactive_detached(&state.app, req.clone()).await {
            Err(PayError::InProgress) => tokio::time::sleep(Duration::from_millis(250)).await,
            other => return other,
        }
    }
    Err(PayError::InProgress)
}
