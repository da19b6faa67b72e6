//! Outbound webhooks: endpoints (with their signing secret sealed), events,
//! one delivery per event and endpoint, and the log of every try. Every
//! query a company's page or key can reach is scoped by company; the jobs'
//! claim reads across companies.

use time::OffsetDateTime;

use super::sql::Row;
use super::{Conn, Db, StoreResult};
use crate::crypto::new_id;
use crate::domain::ids::{CompanyId, WebhookDeliveryId, WebhookEndpointId, WebhookEventId};

/// An endpoint as stored. `secret_sealed` opens only with the server secret.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub company_id: CompanyId,
    pub url: String,
    /// Event type names, in the contract's order.
    pub events: Vec<String>,
    pub secret_sealed: String,
    /// The secret shown masked (`whsec_…abcd`).
    pub secret_hint: String,
    pub created_at: OffsetDateTime,
    pub failing_since: Option<OffsetDateTime>,
    pub disabled_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
}

pub struct NewEndpoint<'a> {
    pub company_id: &'a CompanyId,
    pub url: &'a str,
    pub events: &'a [&'a str],
    pub secret_sealed: &'a str,
    pub secret_hint: &'a str,
    pub created_by: &'a str,
}

const ENDPOINT_COLUMNS: &str =
    "id, company_id, url, events, secret_sealed, secret_hint, created_at,
    failing_since, disabled_at, disabled_reason";

fn endpoint_from_row(r: &Row) -> StoreResult<Endpoint> {
    let events: String = r.try_get("events")?;
    Ok(Endpoint {
        id: r.try_get("id")?,
        company_id: r.try_get("company_id")?,
        url: r.try_get("url")?,
        events: events.split_whitespace().map(str::to_string).collect(),
        secret_sealed: r.try_get("secret_sealed")?,
        secret_hint: r.try_get("secret_hint")?,
        created_at: r.try_get("created_at")?,
        failing_since: r.try_get("failing_since")?,
        disabled_at: r.try_get("disabled_at")?,
        disabled_reason: r.try_get("disabled_reason")?,
    })
}

/// Writes a new endpoint; answers its id.
pub async fn insert_endpoint(
    conn: &mut Conn,
    e: &NewEndpoint<'_>,
) -> StoreResult<WebhookEndpointId> {
    let id = WebhookEndpointId::new();
    crate::store::sql::query(
        "INSERT INTO webhook_endpoints (id, company_id, url, events, secret_sealed, secret_hint,
            created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(e.company_id)
    .bind(e.url)
    .bind(e.events.join(" "))
    .bind(e.secret_sealed)
    .bind(e.secret_hint)
    .bind(conn.now())
    .bind(e.created_by)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The company's endpoints, oldest first.
pub async fn endpoints(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE company_id = $1
         ORDER BY created_at, id"
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(endpoint_from_row).collect()
}

/// One of the company's endpoints, read in the caller's transaction.
pub async fn endpoint(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookEndpointId,
) -> StoreResult<Option<Endpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE company_id = $1 AND id = $2"
    );
    let row = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(endpoint_from_row).transpose()
}

/// Removes an endpoint with its deliveries and their log; `false` when the
/// company has no such endpoint. Events stay (other endpoints may have them).
pub async fn delete_endpoint(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookEndpointId,
) -> StoreResult<bool> {
    crate::store::sql::query(
        "DELETE FROM webhook_attempts WHERE company_id = $1 AND delivery_id IN
            (SELECT id FROM webhook_deliveries WHERE company_id = $1 AND endpoint_id = $2)",
    )
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    crate::store::sql::query(
        "DELETE FROM webhook_deliveries WHERE company_id = $1 AND endpoint_id = $2",
    )
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let done =
        crate::store::sql::query("DELETE FROM webhook_endpoints WHERE company_id = $1 AND id = $2")
            .bind(company_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// How many endpoints the company has, on or off.
pub async fn count_endpoints(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE company_id = $1",
    )
    .bind(company_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// The company's enabled endpoints and the event types each takes, read in
/// the caller's transaction (the one that writes the event).
pub async fn subscribers(
    conn: &mut Conn,
    company_id: &CompanyId,
) -> StoreResult<Vec<(String, Vec<String>)>> {
    let rows: Vec<(String, String)> = crate::store::sql::query_as(
        "SELECT id, events FROM webhook_endpoints
         WHERE company_id = $1 AND disabled_at IS NULL ORDER BY created_at, id",
    )
    .bind(company_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, events)| (id, events.split_whitespace().map(str::to_string).collect()))
        .collect())
}

/// An event and its deliveries, one per endpoint, due at once.
pub struct NewEvent<'a> {
    pub id: &'a WebhookEventId,
    pub company_id: &'a CompanyId,
    pub kind: &'a str,
    pub payload: &'a str,
    pub created_at: OffsetDateTime,
    pub endpoint_ids: &'a [String],
}

/// Writes an event and a pending delivery to each endpoint; answers the
/// deliveries' ids, in the order of `endpoint_ids`.
pub async fn insert_event(
    conn: &mut Conn,
    e: &NewEvent<'_>,
) -> StoreResult<Vec<WebhookDeliveryId>> {
    crate::store::sql::query(
        "INSERT INTO webhook_events (id, company_id, type, payload, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.id)
    .bind(e.company_id)
    .bind(e.kind)
    .bind(e.payload)
    .bind(e.created_at)
    .execute(&mut *conn)
    .await?;
    let mut ids = Vec::with_capacity(e.endpoint_ids.len());
    for endpoint_id in e.endpoint_ids {
        let id = WebhookDeliveryId::new();
        crate::store::sql::query(
            "INSERT INTO webhook_deliveries (id, company_id, endpoint_id, event_id, status,
                attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
        )
        .bind(&id)
        .bind(e.company_id)
        .bind(endpoint_id)
        .bind(e.id)
        .bind(e.created_at)
        .execute(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

// ---------------------------------------------------------------- delivery

/// A delivery a worker claimed, with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: WebhookDeliveryId,
    pub company_id: CompanyId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: WebhookEventId,
    pub event_type: String,
    /// The body to send, as written with the event.
    pub payload: String,
    pub url: String,
    pub secret_sealed: String,
    pub endpoint_disabled: bool,
    /// Tries made before this one.
    pub attempts: i64,
    /// The claim: updates check it, so a worker whose claim ran out cannot
    /// overwrite what a newer one recorded.
    pub claimed_until: OffsetDateTime,
}

/// The claim, with each dialect's row lock on the candidates. A claimed
/// delivery's `next_attempt_at` moves to the claim's end, so a delivery
/// whose worker died is due again once its claim runs out. The candidates
/// are picked once (a materialized CTE on PostgreSQL: as a subquery under
/// `IN`, the planner may run the locking `LIMIT` again for every row and
/// claim them all).
macro_rules! claim_sql {
    ($materialized:literal, $lock:literal) => {
        concat!(
            "WITH picked AS ",
            $materialized,
            " (SELECT id FROM webhook_deliveries
                WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1
                ORDER BY next_attempt_at LIMIT $3",
            $lock,
            ")
             UPDATE webhook_deliveries SET next_attempt_at = $2, claimed_until = $2
             WHERE id IN (SELECT id FROM picked)
               -- Checked again on the row itself: on PostgreSQL a worker that
               -- waited for another's claim sees it and takes nothing.
               AND status IN ('pending', 'failed') AND next_attempt_at <= $1
             RETURNING id"
        )
    };
}

const CLAIM_SQL: &str = claim_sql!("", "");
const CLAIM_SQL_PG: &str = claim_sql!("MATERIALIZED", " FOR UPDATE SKIP LOCKED");

/// Claims up to `limit` deliveries due at `now` (never tried, due for a
/// retry, or claimed by a worker whose claim ran out) until `until`, any
/// company's. One transaction: two workers never claim the same delivery.
pub async fn claim_due(
    conn: &mut Conn,
    now: OffsetDateTime,
    until: OffsetDateTime,
    limit: usize,
) -> StoreResult<Vec<Claimed>> {
    let ids: Vec<WebhookDeliveryId> = crate::store::sql::query_scalar(CLAIM_SQL)
        .pg(CLAIM_SQL_PG)
        .bind(now)
        .bind(until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
    claimed(conn, &ids).await
}

/// Claims one delivery of the company now, whatever its schedule, unless
/// another worker holds it: a test event or a retry asked for by a person.
pub async fn claim_one(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookDeliveryId,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Option<Claimed>> {
    let ids: Vec<WebhookDeliveryId> = crate::store::sql::query_scalar(
        "UPDATE webhook_deliveries SET next_attempt_at = $4, claimed_until = $4
         WHERE company_id = $1 AND id = $2 AND status IN ('pending', 'failed')
           AND (claimed_until IS NULL OR claimed_until < $3)
         RETURNING id",
    )
    .bind(company_id)
    .bind(id)
    .bind(now)
    .bind(until)
    .fetch_all(&mut *conn)
    .await?;
    Ok(claimed(conn, &ids).await?.pop())
}

async fn claimed(conn: &mut Conn, ids: &[WebhookDeliveryId]) -> StoreResult<Vec<Claimed>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.company_id, d.endpoint_id, d.event_id, d.attempts, d.claimed_until,
                v.type, v.payload, e.url, e.secret_sealed, e.disabled_at
         FROM webhook_deliveries d
         JOIN webhook_events v ON v.id = d.event_id
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.id IN ({}) ORDER BY d.next_attempt_at, d.created_at, d.id",
        super::json_values(conn.backend(), 1)
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(super::json_list(ids.iter().map(WebhookDeliveryId::as_str)))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            let disabled: Option<OffsetDateTime> = r.try_get("disabled_at")?;
            Ok(Claimed {
                id: r.try_get("id")?,
                company_id: r.try_get("company_id")?,
                endpoint_id: r.try_get("endpoint_id")?,
                event_id: r.try_get("event_id")?,
                event_type: r.try_get("type")?,
                payload: r.try_get("payload")?,
                url: r.try_get("url")?,
                secret_sealed: r.try_get("secret_sealed")?,
                endpoint_disabled: disabled.is_some(),
                attempts: r.try_get("attempts")?,
                claimed_until: r.try_get("claimed_until")?,
            })
        })
        .collect()
}

/// What became of one try.
#[derive(Debug, Clone)]
pub struct Try<'a> {
    pub at: OffsetDateTime,
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<&'a str>,
    /// `succeeded`, `failed` (tried again at `next_attempt_at`) or `abandoned`.
    pub status: &'a str,
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Logs a try and records its outcome on the delivery; `false` when the
/// claim was lost meanwhile (the endpoint was turned off or removed, or the
/// claim ran out): the try is logged, the delivery left as it is.
pub async fn record_try(conn: &mut Conn, d: &Claimed, t: &Try<'_>) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1,
             next_attempt_at = $4, claimed_until = NULL, last_attempt_at = $5,
             last_response_status = $6, last_duration_ms = $7, last_error = $8,
             delivered_at = CASE WHEN $3 = 'succeeded' THEN $5 ELSE delivered_at END
         WHERE id = $1 AND claimed_until = $2",
    )
    .bind(&d.id)
    .bind(d.claimed_until)
    .bind(t.status)
    .bind(t.next_attempt_at)
    .bind(t.at)
    .bind(t.response_status)
    .bind(t.duration_ms)
    .bind(t.error)
    .execute(&mut *conn)
    .await?;
    let exists: Option<i64> = crate::store::sql::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM webhook_deliveries WHERE id = $1",
    )
    .bind(&d.id)
    .fetch_optional(&mut *conn)
    .await?;
    if exists.is_some() {
        crate::store::sql::query(
            "INSERT INTO webhook_attempts (id, company_id, delivery_id, attempt, at,
                response_status, duration_ms, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new_id("wa"))
        .bind(&d.company_id)
        .bind(&d.id)
        .bind(d.attempts + 1)
        .bind(t.at)
        .bind(t.response_status)
        .bind(t.duration_ms)
        .bind(t.error)
        .execute(&mut *conn)
        .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Gives a claimed delivery back untried, due at `at`.
pub async fn release(conn: &mut Conn, d: &Claimed, at: OffsetDateTime) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $3, claimed_until = NULL
         WHERE id = $1 AND claimed_until = $2",
    )
    .bind(&d.id)
    .bind(d.claimed_until)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends a claimed delivery untried (its endpoint was turned off).
pub async fn abandon(conn: &mut Conn, d: &Claimed, why: &str) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE webhook_deliveries SET status = 'abandoned', next_attempt_at = NULL,
             claimed_until = NULL, last_error = $3
         WHERE id = $1 AND claimed_until = $2",
    )
    .bind(&d.id)
    .bind(d.claimed_until)
    .bind(why)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A 2xx came back: the endpoint works again.
pub async fn endpoint_works(conn: &mut Conn, endpoint_id: &WebhookEndpointId) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE webhook_endpoints SET failing_since = NULL
         WHERE id = $1 AND failing_since IS NOT NULL",
    )
    .bind(endpoint_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A try failed: answers since when the (enabled) endpoint has been
/// failing, `at` if this is its first failure; `None` when it is off or gone.
pub async fn endpoint_fails(
    conn: &mut Conn,
    endpoint_id: &WebhookEndpointId,
    at: OffsetDateTime,
) -> StoreResult<Option<OffsetDateTime>> {
    Ok(crate::store::sql::query_scalar(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2)
         WHERE id = $1 AND disabled_at IS NULL
         RETURNING failing_since",
    )
    .bind(endpoint_id)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Turns an endpoint off and abandons what it still had to receive; `false`
/// when it was off already.
pub async fn disable_endpoint(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookEndpointId,
    at: OffsetDateTime,
    reason: &str,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE webhook_endpoints SET disabled_at = $3, disabled_reason = $4
         WHERE company_id = $1 AND id = $2 AND disabled_at IS NULL",
    )
    .bind(company_id)
    .bind(id)
    .bind(at)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::store::sql::query(
        "UPDATE webhook_deliveries SET status = 'abandoned', next_attempt_at = NULL,
             claimed_until = NULL, last_error = $3
         WHERE company_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'failed')",
    )
    .bind(company_id)
    .bind(id)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Turns an endpoint on again, as if it had never failed; `false` when it
/// was on already.
pub async fn enable_endpoint(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookEndpointId,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL,
             failing_since = NULL
         WHERE company_id = $1 AND id = $2 AND disabled_at IS NOT NULL",
    )
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------- views

/// A delivery as the API and the office show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String)]
    pub id: WebhookDeliveryId,
    #[schema(value_type = String)]
    pub endpoint_id: WebhookEndpointId,
    #[schema(value_type = String)]
    pub event_id: WebhookEventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: String,
    pub response_status: Option<i64>,
    pub duration_ms: Option<i64>,
    /// Tries made so far.
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    /// Another worker is sending it right now.
    #[serde(skip)]
    pub claimed_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

const DELIVERY_VIEW: &str = "SELECT d.id, d.endpoint_id, d.event_id, v.type, d.status,
        d.last_response_status, d.last_duration_ms, d.attempts, d.next_attempt_at,
        d.last_attempt_at, d.last_error, d.claimed_until, d.created_at
     FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id";

fn delivery_from_row(r: &Row) -> StoreResult<DeliveryView> {
    Ok(DeliveryView {
        id: r.try_get("id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("type")?,
        status: r.try_get("status")?,
        response_status: r.try_get("last_response_status")?,
        duration_ms: r.try_get("last_duration_ms")?,
        attempt: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_error: r.try_get("last_error")?,
        claimed_until: r.try_get("claimed_until")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The endpoint's deliveries, newest first.
pub async fn deliveries(
    db: &Db,
    company_id: &CompanyId,
    endpoint_id: &WebhookEndpointId,
    limit: i64,
) -> StoreResult<Vec<DeliveryView>> {
    let sql = format!(
        "{DELIVERY_VIEW} WHERE d.company_id = $1 AND d.endpoint_id = $2
         ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(endpoint_id)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

/// One of the company's deliveries, read in the caller's connection.
pub async fn delivery(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookDeliveryId,
) -> StoreResult<Option<DeliveryView>> {
    let sql = format!("{DELIVERY_VIEW} WHERE d.company_id = $1 AND d.id = $2");
    let row = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(delivery_from_row).transpose()
}

/// Makes a delivery due now, as a new try asked for by a person.
pub async fn reschedule(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &WebhookDeliveryId,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE webhook_deliveries SET status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'failed' END,
             next_attempt_at = $3, claimed_until = NULL
         WHERE company_id = $1 AND id = $2 AND (claimed_until IS NULL OR claimed_until < $3)",
    )
    .bind(company_id)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One try of a delivery, for the endpoint's log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TryView {
    #[schema(value_type = String)]
    pub delivery_id: WebhookDeliveryId,
    #[schema(value_type = String)]
    pub event_id: WebhookEventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// The endpoint's tries, newest first.
pub async fn tries(
    db: &Db,
    company_id: &CompanyId,
    endpoint_id: &WebhookEndpointId,
    limit: i64,
) -> StoreResult<Vec<TryView>> {
    let rows = crate::store::sql::query(
        "SELECT a.delivery_id, d.event_id, v.type, a.attempt, a.at, a.response_status,
                a.duration_ms, a.error
         FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id
         JOIN webhook_events v ON v.id = d.event_id
         WHERE a.company_id = $1 AND d.endpoint_id = $2
         ORDER BY a.at DESC, a.attempt DESC LIMIT $3",
    )
    .bind(company_id)
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TryView {
                delivery_id: r.try_get("delivery_id")?,
                event_id: r.try_get("event_id")?,
                event_type: r.try_get("type")?,
                attempt: r.try_get("attempt")?,
                at: r.try_get("at")?,
                response_status: r.try_get("response_status")?,
                duration_ms: r.try_get("duration_ms")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}
