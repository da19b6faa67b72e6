//! "Send now": one message to one customer, with a template of the
//! company's, about one of its invoices or none (`app::messages::send`, as
//! the JSON API sends).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{Page, parse_template_choice, valid_nonce};
use crate::app::Rejected;
use crate::app::messages::SendRequest;
use crate::messaging::outbox::Enqueued;
use crate::store::templates as store;
use crate::store::{customers, invoices};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status, refused};

// ---------------------------------------------------------------- send now

#[derive(Deserialize, Serialize, Default)]
pub(super) struct SendForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    invoice_id: String,
}

async fn send_form(
    state: &AppState,
    user: &OfficeUser,
    customer: &customers::Customer,
    status: StatusCode,
    f: &SendForm,
    errors: BTreeMap<&'static str, String>,
    outcome: Option<minijinja::Value>,
) -> Page {
    let db = &state.app.db;
    let emails: Vec<(String, String)> = store::list_email(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (format!("email:{}", t.id), t.name))
        .collect();
    let sms: Vec<(String, String)> = store::list_sms(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (format!("sms:{}", t.id), t.name))
        .collect();
    let invoices: Vec<(String, String)> =
        invoices::list(db, &user.company_id, Some(&customer.id), None, 200)
            .await?
            .into_iter()
            .map(|i| {
                let label = format!(
                    "{} — due {} — {} owed",
                    i.number,
                    crate::domain::dates::display(i.due_date),
                    crate::domain::money::Money::new(i.balance, i.currency).format()
                );
                (i.id, label)
            })
            .collect();
    Ok(page_with_status(
        state,
        user,
        status,
        "office/messages_send.html",
        "customers",
        minijinja::context! {
            customer => minijinja::context! {
                id => customer.id.clone(), name => customer.name.clone(),
                email => customer.email.clone(), phone => customer.phone.clone(),
            },
            f => minijinja::value::Serde(f),
            errors => errors,
            email_templates => emails,
            sms_templates => sms,
            invoices => invoices,
            outcome => outcome,
        },
    ))
}

pub(super) async fn send_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Page {
    let Some(customer) = customers::get(&state.app.db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let f = SendForm {
        nonce: crate::crypto::random_token(16),
        ..SendForm::default()
    };
    send_form(
        &state,
        &user,
        &customer,
        StatusCode::OK,
        &f,
        BTreeMap::new(),
        None,
    )
    .await
}

pub(super) async fn send_now(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(f): Form<SendForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let mut errors = BTreeMap::new();
    let invalid = |errors| {
        send_form(
            &state,
            &user,
            &customer,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            errors,
            None,
        )
    };
    if !valid_nonce(&f.nonce) {
        errors.insert(
            "template",
            "This form has expired. Open the send page again.".to_string(),
        );
        return invalid(errors).await;
    }
    let Some((channel, template_id)) = parse_template_choice(&f.template) else {
        errors.insert("template", "Choose a template.".to_string());
        return invalid(errors).await;
    };
    let invoice_id = Some(f.invoice_id.trim()).filter(|i| !i.is_empty());
    let req = SendRequest {
        customer_id: Some(&customer.id),
        invoice_id,
        channel,
        template_id: Some(template_id),
        key: &f.nonce,
        must_carry_link: false,
    };
    let sent = match crate::app::messages::send(&state.app, &user.as_actor(), &req).await {
        Ok(sent) => sent,
        Err(Rejected::Refused(r)) => return Ok(refused(&state, r)),
        Err(Rejected::Fields(problems)) => {
            if problems.iter().any(|p| p.code.ends_with("_not_found")) {
                return Ok(state.views.not_found());
            }
            // One select chooses the channel and the template: its errors show there.
            for p in problems {
                errors.entry("template").or_insert(p.message);
            }
            return invalid(errors).await;
        }
    };
    let (recipient, template_name) = (&sent.recipient, &sent.template_name);
    let (state_key, text) = match &sent.outcome {
        Enqueued::Queued { .. } => (
            "queued",
            format!(
                "Queued: “{template_name}” to {recipient}. It is delivered on the next delivery run (within a few minutes); its status shows on the Messages page."
            ),
        ),
        Enqueued::Suppressed { .. } => (
            "suppressed",
            format!("Not sent: {recipient} opted out of text messages (replied STOP)."),
        ),
        Enqueued::Rejected { reason, .. } => (
            "failed",
            format!("Not sent: {recipient} is {reason}. Correct the customer's contact details."),
        ),
        Enqueued::Duplicate { .. } => (
            "duplicate",
            "This form was already sent: the message was queued once and is not sent again."
                .to_string(),
        ),
    };
    let outcome = minijinja::context! { state => state_key, text => text };
    send_form(
        &state,
        &user,
        &customer,
        StatusCode::OK,
        &f,
        BTreeMap::new(),
        Some(outcome),
    )
    .await
}
