//! Outbound webhooks (CONTRACT.md "Outbound webhooks"): a company's
//! endpoints (add, list, remove, turn on again), test events, retries asked
//! for by a person, and `emit`, which the use cases that change customers,
//! invoices and payments call inside their own transaction.
//!
//! `emit` is an outbox: the event and one pending delivery per enabled
//! endpoint subscribed to its type are written in the caller's transaction,
//! so there is no event without its change and no change without its event.
//! The jobs send them (`crate::app::webhook_delivery`): retried with growing
//! delays (`crate::domain::webhooks::RETRY_DELAYS`) until one 2xx, and an
//! endpoint that has failed for three days is turned off and its owners told.

pub mod events;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::{Actor, App, Refusal};
use crate::crypto::{mask_key, random_bytes};
use crate::domain::ids::{CompanyId, WebhookDeliveryId, WebhookEndpointId, WebhookEventId};
use crate::domain::webhooks::{EventType, parse_event_list, secret_text};
use crate::store::webhooks::{
    self as store, DeliveryView, Endpoint, NewEndpoint, NewEvent, TryView,
};
use crate::store::{Conn, StoreError, StoreResult, audit};

/// Endpoints one company may have.
pub const MAX_ENDPOINTS: usize = 20;
/// Bytes of an endpoint's signing key.
const KEY_BYTES: usize = 32;

/// An endpoint as the API and the office show it: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    #[schema(value_type = String)]
    pub id: WebhookEndpointId,
    pub url: String,
    pub events: Vec<String>,
    /// The secret masked (`whsec_…abcd`), to tell secrets apart.
    pub secret_hint: String,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> EndpointView {
        EndpointView {
            enabled: e.disabled_at.is_none(),
            id: e.id,
            url: e.url,
            events: e.events,
            secret_hint: e.secret_hint,
            created_at: e.created_at,
            failing_since: e.failing_since,
            disabled_at: e.disabled_at,
            disabled_reason: e.disabled_reason,
        }
    }
}

/// A new endpoint and its signing secret (`whsec_…`), shown this once.
#[derive(Debug, Clone)]
pub struct CreatedEndpoint {
    pub endpoint: EndpointView,
    pub secret: String,
}

/// Adds an endpoint that receives `events` at `url`. The URL must be http(s)
/// and its host resolve now to public addresses only, unless the operator
/// allows private targets (`FIELDPAY_WEBHOOKS_ALLOW_PRIVATE`); every send
/// checks again.
pub async fn create(
    app: &App,
    actor: &Actor,
    url: &str,
    events: &[String],
) -> Result<CreatedEndpoint, Refusal> {
    actor.must_be_owner()?;
    let company_id = actor.company_id();
    let types = parse_event_list(events.iter().map(String::as_str))
        .map_err(|m| Refusal::invalid("events", m))?;
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let target = crate::messaging::webhook::check_target(url, app.config.webhooks_allow_private)
        .await
        .map_err(|m| Refusal::invalid("url", m))?;
    let secret = secret_text(&random_bytes(KEY_BYTES));
    let sealed = app.config.processor_keys().seal(company_id, &secret);
    let hint = mask_key(&secret);
    let mut tx = app.db.begin_write_for(company_id).await?;
    if store::count_endpoints(&mut tx, company_id).await? >= MAX_ENDPOINTS as i64 {
        return Err(Refusal::conflict(
            "too_many_webhook_endpoints",
            format!("A company can have {MAX_ENDPOINTS} webhook endpoints; remove one first."),
        ));
    }
    let id = store::insert_endpoint(
        &mut tx,
        &NewEndpoint {
            company_id,
            url: &target.url,
            events: &names,
            secret_sealed: &sealed,
            secret_hint: &hint,
            created_by: &actor.audit_name(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "webhook_endpoint.created",
        &id,
        serde_json::json!({"url": target.url, "events": names}),
    )
    .await?;
    let endpoint = store::endpoint(&mut tx, company_id, &id)
        .await?
        .ok_or(Refusal::NotFound)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(CreatedEndpoint {
        endpoint: endpoint.into(),
        secret,
    })
}

/// The company's endpoints, oldest first.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<EndpointView>, Refusal> {
    actor.must_be_company()?;
    Ok(store::endpoints(&app.db, actor.company_id())
        .await?
        .into_iter()
        .map(EndpointView::from)
        .collect())
}

/// One of the company's endpoints.
pub async fn get(
    app: &App,
    actor: &Actor,
    id: &WebhookEndpointId,
) -> Result<EndpointView, Refusal> {
    actor.must_be_company()?;
    let mut conn = app.db.reader().acquire().await?;
    store::endpoint(&mut conn, actor.company_id(), id)
        .await?
        .map(EndpointView::from)
        .ok_or(Refusal::NotFound)
}

/// Removes an endpoint with its deliveries and their log: nothing more is
/// sent to it.
pub async fn delete(app: &App, actor: &Actor, id: &WebhookEndpointId) -> Result<(), Refusal> {
    actor.must_be_owner()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    let endpoint = store::endpoint(&mut tx, company_id, id)
        .await?
        .ok_or(Refusal::NotFound)?;
    store::delete_endpoint(&mut tx, company_id, id).await?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "webhook_endpoint.deleted",
        id,
        serde_json::json!({"url": endpoint.url}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Turns on again an endpoint that was turned off after days of failures.
/// What it missed meanwhile is not sent (its deliveries were abandoned; each
/// can be retried).
pub async fn enable(
    app: &App,
    actor: &Actor,
    id: &WebhookEndpointId,
) -> Result<EndpointView, Refusal> {
    actor.must_be_owner()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    store::endpoint(&mut tx, company_id, id)
        .await?
        .ok_or(Refusal::NotFound)?;
    if store::enable_endpoint(&mut tx, company_id, id).await? {
        audit::record(
            &mut tx,
            company_id,
            &actor.audit_name(),
            "webhook_endpoint.enabled",
            id,
            serde_json::json!({}),
        )
        .await?;
    }
    let endpoint = store::endpoint(&mut tx, company_id, id)
        .await?
        .ok_or(Refusal::NotFound)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(endpoint.into())
}

/// The endpoint's latest deliveries, newest first.
pub async fn deliveries(
    app: &App,
    actor: &Actor,
    endpoint_id: &WebhookEndpointId,
    limit: i64,
) -> Result<Vec<DeliveryView>, Refusal> {
    get(app, actor, endpoint_id).await?;
    Ok(store::deliveries(&app.db, actor.company_id(), endpoint_id, limit).await?)
}

/// The endpoint's latest tries (each delivery's every try), newest first.
pub async fn tries(
    app: &App,
    actor: &Actor,
    endpoint_id: &WebhookEndpointId,
    limit: i64,
) -> Result<Vec<TryView>, Refusal> {
    get(app, actor, endpoint_id).await?;
    Ok(store::tries(&app.db, actor.company_id(), endpoint_id, limit).await?)
}

/// Sends a `webhook.test` event to one endpoint now (whatever it subscribed
/// to) and answers how the try went; a failed test is retried like any
/// delivery.
pub async fn send_test(
    app: &App,
    actor: &Actor,
    endpoint_id: &WebhookEndpointId,
) -> Result<DeliveryView, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    let endpoint = store::endpoint(&mut tx, company_id, endpoint_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    if endpoint.disabled_at.is_some() {
        return Err(turned_off());
    }
    let data = serde_json::json!({
        "endpoint_id": endpoint.id,
        "message": "A test event from fieldpay: this endpoint receives and verifies webhooks.",
    });
    let (event_id, delivery_ids) = write_event(
        &mut tx,
        company_id,
        EventType::Test,
        data,
        &[endpoint.id.to_string()],
    )
    .await?;
    let delivery_id = delivery_ids.into_iter().next().ok_or(Refusal::NotFound)?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "webhook_endpoint.test_sent",
        endpoint_id,
        serde_json::json!({"event_id": event_id, "delivery_id": delivery_id}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    send_now(app, company_id, &delivery_id).await
}

/// Sends one delivery again now, whatever its state (a failed one before its
/// next try, an abandoned one, or a delivered one once more), and answers
/// how the try went. The event keeps its id: receivers see a repeat.
pub async fn retry(
    app: &App,
    actor: &Actor,
    delivery_id: &WebhookDeliveryId,
) -> Result<DeliveryView, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let now = app.clock.now();
    let mut tx = app.db.begin_write_for(company_id).await?;
    let d = store::delivery(&mut tx, company_id, delivery_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    let endpoint = store::endpoint(&mut tx, company_id, &d.endpoint_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    if endpoint.disabled_at.is_some() {
        return Err(turned_off());
    }
    if !store::reschedule(&mut tx, company_id, delivery_id, now).await? {
        return Err(Refusal::conflict(
            "delivery_in_progress",
            "This delivery is being sent right now. Look again in a few seconds.",
        ));
    }
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "webhook_delivery.retried",
        delivery_id,
        serde_json::json!({"event_id": d.event_id, "endpoint_id": d.endpoint_id}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    send_now(app, company_id, delivery_id).await
}

fn turned_off() -> Refusal {
    Refusal::conflict(
        "webhook_endpoint_disabled",
        "This endpoint is turned off after days of failed deliveries. Turn it on again first.",
    )
}

/// Tries one delivery at once (unless a worker holds it) and reads it back.
async fn send_now(
    app: &App,
    company_id: &CompanyId,
    delivery_id: &WebhookDeliveryId,
) -> Result<DeliveryView, Refusal> {
    crate::app::webhook_delivery::deliver_one(app, company_id, delivery_id, app.clock.now())
        .await?;
    let mut conn = app.db.reader().acquire().await?;
    store::delivery(&mut conn, company_id, delivery_id)
        .await?
        .ok_or(Refusal::NotFound)
}

/// Records that `event` happened, with `data` (the object as the API shows
/// it), for every enabled endpoint of the company subscribed to its type.
/// Call it inside the transaction that makes the change: the event and its
/// deliveries commit or roll back with it. Answers the event's id, or `None`
/// when no endpoint takes this type (nothing is written).
pub async fn emit(
    conn: &mut Conn,
    company_id: &CompanyId,
    event: EventType,
    data: serde_json::Value,
) -> StoreResult<Option<WebhookEventId>> {
    let subscribers = Subscribers::of(conn, company_id).await?;
    emit_to(conn, company_id, &subscribers, event, data).await
}

/// The company's enabled endpoints and the event types each takes, read
/// once for several events of one change.
pub struct Subscribers(Vec<(String, Vec<String>)>);

impl Subscribers {
    pub async fn of(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<Subscribers> {
        Ok(Subscribers(store::subscribers(conn, company_id).await?))
    }

    /// Whether any endpoint takes `event`: when none does, the change need
    /// not even build the event's object.
    pub fn take(&self, event: EventType) -> bool {
        self.0
            .iter()
            .any(|(_, events)| events.iter().any(|e| e == event.as_str()))
    }
}

/// `emit` to the `subscribers` read before, in the same transaction.
pub async fn emit_to(
    conn: &mut Conn,
    company_id: &CompanyId,
    subscribers: &Subscribers,
    event: EventType,
    data: serde_json::Value,
) -> StoreResult<Option<WebhookEventId>> {
    let endpoints: Vec<String> = subscribers
        .0
        .iter()
        .filter(|(_, events)| events.iter().any(|e| e == event.as_str()))
        .map(|(id, _)| id.clone())
        .collect();
    if endpoints.is_empty() {
        return Ok(None);
    }
    let (id, _) = write_event(conn, company_id, event, data, &endpoints).await?;
    Ok(Some(id))
}

/// Writes an event `{id, type, created_at, data}` and a pending delivery to
/// each endpoint; answers the event's and the deliveries' ids.
async fn write_event(
    conn: &mut Conn,
    company_id: &CompanyId,
    event: EventType,
    data: serde_json::Value,
    endpoint_ids: &[String],
) -> StoreResult<(WebhookEventId, Vec<WebhookDeliveryId>)> {
    let id = WebhookEventId::new();
    let created_at = conn.now();
    let payload = serde_json::json!({
        "id": id,
        "type": event.as_str(),
        "created_at": created_at.format(&Rfc3339).unwrap_or_default(),
        "data": data,
    })
    .to_string();
    let deliveries = store::insert_event(
        conn,
        &NewEvent {
            id: &id,
            company_id,
            kind: event.as_str(),
            payload: &payload,
            created_at,
            endpoint_ids,
        },
    )
    .await?;
    Ok((id, deliveries))
}
