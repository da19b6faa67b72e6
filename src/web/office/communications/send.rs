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
    /// Optional words above the template's text.
    #[serde(default)]
    message: String,
    /// `preview` shows the message without sending it.
    #[serde(default, skip_serializing)]
    action: String,
}

/// `?channel=email|sms&invoice_id=…`: what the one-click buttons open with.
#[derive(Deserialize, Default)]
pub(super) struct SendQuery {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    invoice_id: Option<String>,
}

async fn send_form(
    state: &AppState,
    user: &OfficeUser,
    customer: &customers::Customer,
    status: StatusCode,
    f: &SendForm,
    errors: BTreeMap<&'static str, String>,
    extra: Option<minijinja::Value>,
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
                (i.id.into(), label)
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
            ..extra.unwrap_or_default()
        },
    ))
}

pub(super) async fn send_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<crate::domain::ids::CustomerId>,
    axum::extract::Query(q): axum::extract::Query<SendQuery>,
) -> Page {
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    // The company's default template for the channel asked for, preselected.
    let template = match q.channel.as_deref() {
        Some("email") => store::default_email(db, &user.company_id)
            .await?
            .map(|t| format!("email:{}", t.id)),
        Some("sms") => store::default_sms(db, &user.company_id)
            .await?
            .map(|t| format!("sms:{}", t.id)),
        _ => None,
    };
    let f = SendForm {
        nonce: crate::crypto::random_token(16),
        template: template.unwrap_or_default(),
        invoice_id: q.invoice_id.unwrap_or_default(),
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
    Path(id): Path<crate::domain::ids::CustomerId>,
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
        note: Some(f.message.as_str()),
    };
    if f.action == "preview" || f.action == "document" {
        let shown =
            match crate::app::messages::preview_send(&state.app, &user.as_actor(), &req).await {
                Ok(p) => p,
                Err(Rejected::Refused(r)) => return Ok(refused(&state, r)),
                Err(Rejected::Fields(problems)) => {
                    for p in problems {
                        let field = if p.field == "message" {
                            "message"
                        } else {
                            "template"
                        };
                        errors.entry(field).or_insert(p.message);
                    }
                    return invalid(errors).await;
                }
            };
        if f.action == "document" {
            return Ok(match shown.rendered.html {
                Some(html) => super::email_document(html),
                None => super::email_document_refused("A text message has no email to show."),
            });
        }
        let preview = minijinja::context! {
            subject => shown.rendered.subject,
            html => shown.rendered.html,
            text => shown.rendered.text,
            count => shown.segments.map(|s| minijinja::value::Serde(super::sms_count_of(s))),
        };
        return send_form(
            &state,
            &user,
            &customer,
            StatusCode::OK,
            &f,
            BTreeMap::new(),
            Some(minijinja::context! { preview => preview }),
        )
        .await;
    }
    let sent = match crate::app::messages::send(&state.app, &user.as_actor(), &req).await {
        Ok(sent) => sent,
        Err(Rejected::Refused(r)) => return Ok(refused(&state, r)),
        Err(Rejected::Fields(problems)) => {
            if problems.iter().any(|p| p.code.ends_with("_not_found")) {
                return Ok(state.views.not_found());
            }
            // One select chooses the channel and the template: its errors show there.
            for p in problems {
                let field = if p.field == "message" {
                    "message"
                } else {
                    "template"
                };
                errors.entry(field).or_insert(p.message);
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
        Some(minijinja::context! { outcome => outcome }),
    )
    .await
}
