//! The Messages page: the outbox of the company, filtered by status,
//! channel or customer.

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::{Page, time_zone};
use crate::store::customers;
use crate::web::AppState;
use crate::web::office::{OfficeUser, page};

/// Messages shown on one page of the list.
const MESSAGES_SHOWN: i64 = 200;

/// The statuses a message can have, for the filter.
const STATUSES: &[(&str, &str)] = &[
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("suppressed", "Suppressed"),
];

// ---------------------------------------------------------------- messages

#[derive(Deserialize, Default)]
pub(super) struct MessagesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    customer_id: String,
}

#[derive(Serialize)]
struct MessageRow {
    id: crate::domain::ids::MessageId,
    channel: String,
    recipient: String,
    subject: Option<String>,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created: String,
    sent: String,
    customer_id: crate::domain::ids::CustomerId,
    customer_name: String,
}

pub(super) async fn messages_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<MessagesQuery>,
) -> Page {
    let status = STATUSES
        .iter()
        .find(|(k, _)| *k == q.status)
        .map(|(k, _)| *k);
    let channel = ["email", "sms"].into_iter().find(|c| *c == q.channel);
    let customer_id = Some(q.customer_id.trim()).filter(|c| !c.is_empty());
    let customer = match customer_id {
        Some(c) => match customers::get(&state.app.db, &user.company_id, &c.into()).await? {
            Some(c) => Some(c),
            None => return Ok(state.views.not_found()),
        },
        None => None,
    };
    let tz = time_zone(&state, &user.company_id).await?;
    let rows = crate::store::messages::office_list(
        &state.app.db,
        &user.company_id,
        status,
        channel,
        customer.as_ref().map(|c| &c.id),
        MESSAGES_SHOWN,
    )
    .await?;
    let shown = |t: time::OffsetDateTime| crate::domain::dates::display_instant(t, &tz);
    let messages: Vec<MessageRow> = rows
        .into_iter()
        .map(|r| MessageRow {
            id: r.id,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            created: shown(r.created_at),
            sent: r.sent_at.map(shown).unwrap_or_default(),
            customer_id: r.customer_id,
            customer_name: r.customer_name,
        })
        .collect();
    Ok(page(
        &state,
        &user,
        "office/messages.html",
        "messages",
        minijinja::context! {
            messages => minijinja::value::Serde(&messages),
            statuses => minijinja::value::Serde(STATUSES),
            q_status => status.unwrap_or(""),
            q_channel => channel.unwrap_or(""),
            customer => customer.map(|c| minijinja::context! { id => c.id, name => c.name }),
            limit => MESSAGES_SHOWN,
        },
    ))
}

/// GET /office/messages/{id}: one message, its body as it was sent.
pub(super) async fn message_page(
    State(state): State<AppState>,
    user: OfficeUser,
    axum::extract::Path(id): axum::extract::Path<crate::domain::ids::MessageId>,
) -> Page {
    let m = match crate::app::messages::read_message(&state.app, &user.as_actor(), &id).await {
        Ok(m) => m,
        Err(crate::app::Refusal::NotFound) => return Ok(state.views.not_found()),
        Err(r) => return Ok(crate::web::office::refused(&state, r)),
    };
    let tz = time_zone(&state, &user.company_id).await?;
    let shown = |t: time::OffsetDateTime| crate::domain::dates::display_instant(t, &tz);
    Ok(page(
        &state,
        &user,
        "office/message.html",
        "messages",
        minijinja::context! {
            m => minijinja::value::Serde(&m.view),
            channel => if m.view.channel == "sms" { "SMS" } else { "Email" },
            created => shown(m.view.created_at),
            sent => m.view.sent_at.map(shown),
            body => m.body,
            note => m.note,
        },
    ))
}
