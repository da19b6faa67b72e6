//! A customer's autopay in the office: enrollment with the consent the
//! customer stated, the card for each property, turning it off.

use std::collections::{BTreeMap, HashMap};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};

use super::{Page, card_label, chosen};
use crate::app::autopay::{self, EnrollRequest};
use crate::app::{Refusal, Rejected};
use crate::domain::autopay as rules;
use crate::domain::autopay_consent_text;
use crate::domain::dates;
use crate::domain::ids::{CardId, CustomerId, PropertyId};
use crate::store::autopay as store;
use crate::store::payments as pay_store;
use crate::store::{companies, customers};
use crate::web::error::ApiError;
use crate::web::office::{CsrfForm, OfficeUser, page, page_with_status, refused};
use crate::web::{AppState, ClientIp, user_agent};

// ---------------------------------------------------------------- a customer

#[derive(Deserialize, Serialize, Default, Debug, Clone)]
pub(super) struct EnrollForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    method_id: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    note: String,
}

#[derive(Serialize)]
struct CardChoice {
    id: CardId,
    label: String,
    expired: bool,
}

#[derive(Serialize)]
struct PropertyChoice {
    id: PropertyId,
    address: String,
    method_id: CardId,
}

#[derive(Serialize)]
struct EnrollmentView {
    card: String,
    method_id: CardId,
    channel: String,
    since: String,
    starts_on: String,
    consent_text: String,
    consent_note: Option<String>,
    enrolled_by: Option<String>,
}

fn channel_words(channel: &str) -> &'static str {
    match channel {
        "quick_pay" => "the payment link",
        "portal" => "the customer portal",
        "office" => "the office",
        _ => "another channel",
    }
}

async fn customer_view(
    state: &AppState,
    user: &OfficeUser,
    customer_id: &CustomerId,
    status: StatusCode,
    f: &EnrollForm,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&str>,
) -> Page {
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, customer_id).await? else {
        return Ok(state.views.not_found());
    };
    let company = companies::get(db, &user.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let today = state.app.clock.today_in(&company.time_zone);
    let enrollment = store::enrollment(db.reader(), &user.company_id, customer_id).await?;
    let cards: Vec<CardChoice> = pay_store::saved_methods(db, &user.company_id, customer_id)
        .await?
        .into_iter()
        .map(|m| CardChoice {
            label: card_label(&m.brand, &m.last4, m.exp_month, m.exp_year),
            expired: rules::is_expired(m.exp_month, m.exp_year, today),
            id: m.id,
        })
        .collect();
    let properties: Vec<PropertyChoice> = store::property_cards(
        db,
        &user.company_id,
        customer_id,
        enrollment.as_ref().map(|e| &e.id),
    )
    .await?
    .into_iter()
    .map(|p| PropertyChoice {
        id: p.property_id,
        address: p.address,
        method_id: p.method_id.unwrap_or_default(),
    })
    .collect();
    let view = enrollment.map(|e| EnrollmentView {
        card: card_label(&e.brand, &e.last4, e.exp_month, e.exp_year),
        method_id: e.method_id,
        channel: channel_words(&e.channel).to_string(),
        since: dates::display_instant(e.consent_at, &company.time_zone),
        starts_on: dates::display(e.starts_on),
        consent_text: e.consent_text,
        consent_note: e.consent_note,
        enrolled_by: e.enrolled_by,
    });
    Ok(page_with_status(
        state,
        user,
        status,
        "office/autopay_customer.html",
        "customers",
        minijinja::context! {
            customer => minijinja::context! { id => customer.id, name => customer.name },
            enrollment => minijinja::value::Serde(&view),
            cards => minijinja::value::Serde(&cards),
            properties => minijinja::value::Serde(&properties),
            consent_text => autopay_consent_text(customer.language.unwrap_or(company.language), &company.name, &company.phone),
            f => minijinja::value::Serde(f),
            errors => errors,
            notice => notice,
        },
    ))
}

#[derive(Deserialize, Default)]
pub(super) struct NoticeQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub(super) async fn customer_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let notice = match q.saved.as_deref() {
        Some("enrolled") => {
            Some("Autopay is on. Invoices due from today on are charged when they are due.")
        }
        Some("properties") => Some("The cards for the properties were saved."),
        Some("cancelled") => Some("Autopay is off. Future invoices are not charged automatically."),
        Some("already_off") => Some("Autopay was already off."),
        _ => None,
    };
    customer_view(
        &state,
        &user,
        &id,
        StatusCode::OK,
        &EnrollForm::default(),
        BTreeMap::new(),
        notice,
    )
    .await
}

/// POST: enrolls the customer with a saved card, recording who did it and
/// how the customer gave consent.
pub(super) async fn enroll(
    State(state): State<AppState>,
    user: OfficeUser,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<CustomerId>,
    Form(f): Form<EnrollForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let req = EnrollRequest {
        method_id: &f.method_id,
        consent: f.consent == "yes",
        ip: ip.0.to_string(),
        user_agent: user_agent(&headers),
        note: Some(&f.note),
        language: None,
    };
    match autopay::enroll(&state.app, &user.as_actor(), &id, &req).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/office/customers/{id}/autopay?saved=enrolled")).into_response(),
        ),
        Err(Rejected::Refused(r)) => Ok(refused(&state, r)),
        Err(rejected) => {
            let errors = rejected.by_field().unwrap_or_default();
            customer_view(
                &state,
                &user,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                errors,
                None,
            )
            .await
        }
    }
}

/// POST: the card for each property (`card_{property id}`: a saved card's
/// id, or blank for the autopay card).
pub(super) async fn set_property_cards(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
    Form(fields): Form<HashMap<String, String>>,
) -> Page {
    let csrf = fields.get("csrf").map(String::as_str).unwrap_or("");
    if let Some(r) = user.csrf_refusal(csrf) {
        return Ok(r);
    }
    let chosen: Vec<(String, Option<String>)> = fields
        .iter()
        .filter_map(|(k, v)| {
            let property = k.strip_prefix("card_")?;
            Some((property.to_string(), chosen(v)))
        })
        .collect();
    let (status, errors) =
        match autopay::set_property_cards(&state.app, &user.as_actor(), &id, &chosen).await {
            Ok(_) => {
                return Ok(Redirect::to(&format!(
                    "/office/customers/{id}/autopay?saved=properties"
                ))
                .into_response());
            }
            Err(Rejected::Refused(Refusal::Conflict { message, .. })) => (
                StatusCode::CONFLICT,
                BTreeMap::from([("properties", message)]),
            ),
            Err(Rejected::Refused(r)) => return Ok(refused(&state, r)),
            Err(rejected) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                rejected.by_field().unwrap_or_default(),
            ),
        };
    customer_view(
        &state,
        &user,
        &id,
        status,
        &EnrollForm::default(),
        errors,
        None,
    )
    .await
}

pub(super) async fn cancel_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
) -> Page {
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let enrollment = store::enrollment(db.reader(), &user.company_id, &id).await?;
    Ok(page(
        &state,
        &user,
        "office/autopay_cancel.html",
        "customers",
        minijinja::context! {
            customer => minijinja::context! { id => customer.id, name => customer.name },
            card => enrollment.map(|e| format!("{} ending {}", e.brand, e.last4)),
        },
    ))
}

pub(super) async fn cancel(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let was_on = match autopay::cancel(&state.app, &user.as_actor(), &id).await {
        Ok(was_on) => was_on,
        Err(r) => return Ok(refused(&state, r)),
    };
    let saved = if was_on { "cancelled" } else { "already_off" };
    Ok(Redirect::to(&format!("/office/customers/{id}/autopay?saved={saved}")).into_response())
}
