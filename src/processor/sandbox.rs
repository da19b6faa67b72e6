//! The built-in sandbox processor: behaves like Stripe's test mode.
//!
//! Card numbers arrive only at `POST /sandbox/v1/tokens`, are checked and
//! mapped to a behaviour, and are dropped: its tables hold the behaviour,
//! brand, last 4 and expiry, never the number or the CVC.

use serde::Serialize;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sandbox_cards::{Behaviour, brand_of, card_error, check_card};
pub use super::sandbox_cards::{CardError, CardInput, TEST_MODE_LIVE_CARD};
use super::{
    BoxFuture, CardSummary, Charge, ChargeLookup, ChargeOutcome, ChargeRequest, ChargeSource,
    Decline, PaymentProcessor, ProcessorError, Refund, RefundStatus, SaveOutcome, SavedCard,
};
use crate::crypto::new_id_in_order;
use crate::domain::Clock;
use crate::domain::money::{Currency, Money};
use crate::store::direct::DirectConn;
use crate::store::sql::{self, Row};
use crate::store::{Conn, Pool, PoolKind};

/// The sandbox keeps its state in its own SQLite file, as a real processor
/// keeps its own: fieldpay's database never holds its tables.
#[derive(Clone)]
pub struct SandboxProcessor {
    db: SqlitePool,
    /// Where its statements run: a connection to its file used in place by
    /// the request, one statement at a time (each a few pages written
    /// without an fsync), not handed to the pool's connection thread and
    /// back; in memory, the pool's one connection.
    place: Place,
    clock: Clock,
}

#[derive(Clone)]
enum Place {
    InPlace(Arc<tokio::sync::Mutex<Conn>>),
    Pooled(Pool),
}

/// The sandbox's connection for one statement.
enum ConnGuard<'a> {
    InPlace(tokio::sync::MutexGuard<'a, Conn>),
    Pooled(Conn),
}

impl std::ops::Deref for ConnGuard<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match self {
            ConnGuard::InPlace(c) => c,
            ConnGuard::Pooled(c) => c,
        }
    }
}

impl std::ops::DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            ConnGuard::InPlace(c) => c,
            ConnGuard::Pooled(c) => c,
        }
    }
}

const SCHEMA: &str = include_str!("sandbox_schema.sql");

impl SandboxProcessor {
    /// Opens (creating) the sandbox's database. It is a stand-in for a remote
    /// processor, so it trades durability for speed (`synchronous=NORMAL`).
    pub async fn open(url: &str, clock: Clock) -> anyhow::Result<SandboxProcessor> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("bad sandbox database URL '{url}': {e}"))?;
        crate::store::private_sqlite_file(&options)?;
        let file = crate::store::sqlite_file(&options);
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .pragma(
                "cache_size",
                crate::store::direct::IDLE_CACHE_KIB.to_string(),
            );
        let db = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open sandbox database '{url}': {e}"))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&db)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create sandbox tables: {e}"))?;
        let place = match file {
            Some(path) => {
                let conn = DirectConn::open_normal_sync(&path, std::time::Duration::from_secs(10))
                    .map_err(|e| anyhow::anyhow!("cannot open sandbox database '{url}': {e}"))?;
                Place::InPlace(Arc::new(tokio::sync::Mutex::new(Conn::direct(
                    conn,
                    clock.clone(),
                ))))
            }
            None => Place::Pooled(Pool::new(PoolKind::Sqlite(db.clone()), clock.clone())),
        };
        Ok(SandboxProcessor { db, place, clock })
    }

    async fn conn(&self) -> Result<ConnGuard<'_>, sqlx::Error> {
        Ok(match &self.place {
            Place::InPlace(conn) => {
                let mut conn = conn.lock().await;
                // A charge whose future was dropped between its statements
                // left its transaction open: nothing of it was committed.
                if conn.direct_in_transaction() {
                    sql::query("ROLLBACK").execute(&mut *conn).await?;
                }
                ConnGuard::InPlace(conn)
            }
            Place::Pooled(pool) => ConnGuard::Pooled(pool.acquire().await?),
        })
    }

    /// The connection inside a write transaction, for statements that
    /// commit together (`commit_if_ok`).
    async fn begin(&self) -> Result<ConnGuard<'_>, sqlx::Error> {
        let mut conn = self.conn().await?;
        sql::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        Ok(conn)
    }

    /// The sandbox's own database, for tests that count its charges.
    pub fn database(&self) -> &SqlitePool {
        &self.db
    }
}

#[derive(Serialize)]
pub struct TokenResponse {
    id: String,
    brand: String,
    last4: String,
    exp_month: i64,
    exp_year: i64,
}

/// The sandbox's own database failed.
#[derive(Debug)]
pub struct SandboxUnavailable(pub String);

#[derive(Debug)]
pub enum TokenError {
    Card(CardError),
    Unavailable(SandboxUnavailable),
}

impl SandboxProcessor {
    /// Tokenizes a card as a processor's card form does; the card number
    /// goes no further than this function.
    pub async fn create_token(&self, input: CardInput) -> Result<TokenResponse, TokenError> {
        let today = self.clock.now().date();
        let (number, year) = check_card(&input, today).map_err(TokenError::Card)?;
        let behaviour = Behaviour::for_number(&number).ok_or_else(|| {
            TokenError::Card(card_error(
                TEST_MODE_LIVE_CARD,
                "js-card-test-mode",
                "number",
            ))
        })?;
        let brand = brand_of(&number);
        let last4 = number[number.len() - 4..].to_string();
        drop(number);
        // Ids in creation order (with 10 random characters, still not
        // guessable): the sandbox's inserts append to its indexes.
        let id = new_id_in_order("tok", self.clock.now());
        let unavailable =
            |e: sqlx::Error| TokenError::Unavailable(SandboxUnavailable(e.to_string()));
        sql::query(
            "INSERT INTO sandbox_tokens (id, behaviour, brand, last4, exp_month, exp_year, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(behaviour.encode())
        .bind(brand)
        .bind(&last4)
        .bind(input.exp_month)
        .bind(year)
        .bind(self.clock.now())
        .execute(&mut *self.conn().await.map_err(unavailable)?)
        .await
        .map_err(unavailable)?;
        Ok(TokenResponse {
            id,
            brand: brand.to_string(),
            last4,
            exp_month: input.exp_month,
            exp_year: year,
        })
    }

    /// The customer's answer to their bank's check (3-D Secure) for a charge
    /// waiting for it: what Stripe.js's `handleNextAction` stands for. Charges
    /// the card; `false` for anything else (unknown, settled, cancelled).
    pub async fn authenticate(&self, charge_id: &str) -> Result<bool, SandboxUnavailable> {
        let unavailable = |e: sqlx::Error| SandboxUnavailable(e.to_string());
        let done = sql::query(
            "UPDATE sandbox_charges SET status = 'succeeded'
             WHERE id = $1 AND status = 'requires_action'",
        )
        .bind(charge_id)
        .execute(&mut *self.conn().await.map_err(unavailable)?)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }
}

/// The client secret of a sandbox charge waiting for authentication.
pub fn client_secret(charge_id: &str) -> String {
    format!("{charge_id}_secret_sandbox")
}

struct Card {
    behaviour: Behaviour,
    summary: CardSummary,
}

fn card_from_row(row: &Row) -> Result<Card, sqlx::Error> {
    Ok(Card {
        behaviour: Behaviour::decode(&row.try_get::<String, _>("behaviour")?),
        summary: CardSummary {
            brand: row.try_get("brand")?,
            last4: row.try_get("last4")?,
            exp_month: row.try_get("exp_month")?,
            exp_year: row.try_get("exp_year")?,
        },
    })
}

fn unavailable(e: sqlx::Error) -> ProcessorError {
    ProcessorError::Unavailable(e.to_string())
}

async fn existing_charge_on(
    conn: &mut Conn,
    key: &str,
) -> Result<Option<ChargeOutcome>, ProcessorError> {
    let row = sql::query(
        "SELECT id, amount, currency, status, decline_code, 'succeed' AS behaviour, brand, last4,
                exp_month, exp_year, saved_method_id
         FROM sandbox_charges WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await
    .map_err(unavailable)?;
    row.as_ref()
        .map(outcome_from_row)
        .transpose()
        .map_err(unavailable)
}

/// Ends the transaction `begin` opened: committed if `outcome` is one,
/// rolled back if it is an error (or the commit failed).
async fn commit_if_ok<T>(
    conn: &mut Conn,
    outcome: Result<T, ProcessorError>,
) -> Result<T, ProcessorError> {
    if outcome.is_ok()
        && let Err(e) = sql::query("COMMIT").execute(&mut *conn).await
    {
        sql::query("ROLLBACK").execute(&mut *conn).await.ok();
        return Err(unavailable(e));
    }
    if outcome.is_err() {
        sql::query("ROLLBACK").execute(&mut *conn).await.ok();
    }
    outcome
}

fn outcome_from_row(row: &Row) -> Result<ChargeOutcome, sqlx::Error> {
    let status: String = row.try_get("status")?;
    if status == "requires_action" {
        let id: String = row.try_get("id")?;
        return Ok(ChargeOutcome::RequiresAction {
            client_secret: client_secret(&id),
            charge_id: id,
        });
    }
    if status == "succeeded" {
        let currency: String = row.try_get("currency")?;
        Ok(ChargeOutcome::Succeeded(Charge {
            id: row.try_get("id")?,
            amount: Money::new(
                row.try_get("amount")?,
                Currency::parse(&currency).unwrap_or(Currency::USD),
            ),
            card: card_from_row(row)?.summary,
            saved_method: row.try_get("saved_method_id")?,
            processor_customer: None,
        }))
    } else {
        let code: Option<String> = row.try_get("decline_code")?;
        Ok(ChargeOutcome::Declined(Decline::new(
            code.as_deref().unwrap_or("card_declined"),
        )))
    }
}

impl SandboxProcessor {
    async fn existing_charge(&self, key: &str) -> Result<Option<ChargeOutcome>, ProcessorError> {
        existing_charge_on(&mut *self.conn().await.map_err(unavailable)?, key).await
    }

    async fn do_charge(&self, req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        // The token's claim and the charge it pays commit together: a
        // failure between them cannot use a token up without a charge, and
        // the sandbox's file takes one commit where it took two.
        let mut conn = self.begin().await.map_err(unavailable)?;
        let outcome = self.charge_on(&mut conn, &req).await;
        commit_if_ok(&mut conn, outcome).await
    }

    async fn charge_on(
        &self,
        conn: &mut Conn,
        req: &ChargeRequest,
    ) -> Result<ChargeOutcome, ProcessorError> {
        // A token is single-use: claim it, or find the charge that used it.
        let card_row = match &req.source {
            ChargeSource::Token(token) => {
                sql::query(
                    "UPDATE sandbox_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL
                     RETURNING behaviour, brand, last4, exp_month, exp_year",
                )
                .bind(self.clock.now())
                .bind(token.as_str())
                .fetch_optional(&mut *conn)
                .await
            }
            ChargeSource::SavedMethod(method) => {
                sql::query(
                    "SELECT behaviour, brand, last4, exp_month, exp_year FROM sandbox_methods WHERE id = $1",
                )
                .bind(method.as_str())
                .fetch_optional(&mut *conn)
                .await
            }
        }
        .map_err(unavailable)?;
        let Some(card_row) = card_row else {
            if let Some(done) = existing_charge_on(conn, &req.idempotency_key).await? {
                return Ok(done);
            }
            return Err(ProcessorError::InvalidSource(
                "the card token is unknown or was already used".into(),
            ));
        };
        let card = card_from_row(&card_row).map_err(unavailable)?;
        let authenticate = card.behaviour == Behaviour::Authenticate;
        let declined = match card.behaviour.decline_code() {
            // Nobody is there to authenticate.
            None if authenticate && req.off_session => Some("authentication_required"),
            other => other,
        };
        let status = match declined {
            Some(_) => "failed",
            None if authenticate => "requires_action",
            None => "succeeded",
        };
        let saved_method = match (declined, req.save_method) {
            (None, true) => Some(new_id_in_order("pm", self.clock.now())),
            _ => None,
        };
        let charge_id = new_id_in_order("ch", self.clock.now());
        let inserted = sql::query(
            "INSERT INTO sandbox_charges (id, idempotency_key, amount, currency, status, decline_code,
                brand, last4, exp_month, exp_year, saved_method_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&charge_id)
        .bind(&req.idempotency_key)
        .bind(req.amount.minor)
        .bind(req.amount.currency.code())
        .bind(status)
        .bind(declined)
        .bind(&card.summary.brand)
        .bind(&card.summary.last4)
        .bind(card.summary.exp_month)
        .bind(card.summary.exp_year)
        .bind(&saved_method)
        .bind(self.clock.now())
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
        if inserted.rows_affected() == 0 {
            // The same key again: the first outcome stands.
            return existing_charge_on(conn, &req.idempotency_key)
                .await?
                .ok_or_else(|| ProcessorError::Unavailable("charge vanished".into()));
        }
        if let Some(method_id) = &saved_method {
            sql::query(
                "INSERT INTO sandbox_methods (id, behaviour, brand, last4, exp_month, exp_year, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(method_id)
            .bind(card.behaviour.encode())
            .bind(&card.summary.brand)
            .bind(&card.summary.last4)
            .bind(card.summary.exp_month)
            .bind(card.summary.exp_year)
            .bind(self.clock.now())
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
        }
        Ok(match declined {
            Some(code) => ChargeOutcome::Declined(Decline::new(code)),
            None if authenticate => ChargeOutcome::RequiresAction {
                client_secret: client_secret(&charge_id),
                charge_id,
            },
            None => ChargeOutcome::Succeeded(Charge {
                id: charge_id,
                amount: req.amount,
                card: card.summary,
                saved_method,
                processor_customer: None,
            }),
        })
    }

    async fn do_refund(
        &self,
        charge_id: String,
        amount: Money,
        key: String,
    ) -> Result<Refund, ProcessorError> {
        // On the pool's connection, in a transaction that takes the write
        // lock first: the charges are written by the connection used in
        // place, and a read snapshot could not become a write after one.
        let mut tx = self
            .db
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(unavailable)?;
        let prior: Option<(String, i64)> =
            sqlx::query_as("SELECT id, amount FROM sandbox_refunds WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?;
        if let Some((id, minor)) = prior {
            return Ok(Refund {
                id,
                amount: Money::new(minor, amount.currency),
                status: RefundStatus::Succeeded,
            });
        }
        let updated = sqlx::query(
            "UPDATE sandbox_charges SET refunded = refunded + $1
             WHERE id = $2 AND status = 'succeeded' AND refunded + $1 <= amount",
        )
        .bind(amount.minor)
        .bind(&charge_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        if updated.rows_affected() == 0 {
            return Err(ProcessorError::InvalidSource(
                "the charge is unknown or the refund exceeds what is left".into(),
            ));
        }
        let id = new_id_in_order("re", self.clock.now());
        sqlx::query(
            "INSERT INTO sandbox_refunds (id, charge_id, idempotency_key, amount, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&charge_id)
        .bind(&key)
        .bind(amount.minor)
        .bind(self.clock.now())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Refund {
            id,
            amount,
            status: RefundStatus::Succeeded,
        })
    }

    /// The refund made under `key` for `charge_id`. Sandbox refunds are
    /// final when made: always `Succeeded`.
    async fn existing_refund(
        &self,
        charge_id: &str,
        key: &str,
    ) -> Result<Option<Refund>, ProcessorError> {
        let row: Option<(String, i64, String)> = sql::query_as(
            "SELECT r.id, r.amount, c.currency FROM sandbox_refunds r
             JOIN sandbox_charges c ON c.id = r.charge_id
             WHERE r.idempotency_key = $1 AND r.charge_id = $2",
        )
        .bind(key)
        .bind(charge_id)
        .fetch_optional(&mut *self.conn().await.map_err(unavailable)?)
        .await
        .map_err(unavailable)?;
        Ok(row.map(|(id, minor, currency)| Refund {
            id,
            amount: Money::new(minor, Currency::parse(&currency).unwrap_or(Currency::USD)),
            status: RefundStatus::Succeeded,
        }))
    }
}

impl SandboxProcessor {
    async fn do_save(&self, token: String) -> Result<SaveOutcome, ProcessorError> {
        // The token's claim and the card it saves commit together.
        let mut conn = self.begin().await.map_err(unavailable)?;
        let outcome = self.save_on(&mut conn, &token).await;
        commit_if_ok(&mut conn, outcome).await
    }

    async fn save_on(&self, conn: &mut Conn, token: &str) -> Result<SaveOutcome, ProcessorError> {
        let row = sql::query(
            "UPDATE sandbox_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL
             RETURNING behaviour, brand, last4, exp_month, exp_year",
        )
        .bind(self.clock.now())
        .bind(token)
        .fetch_optional(&mut *conn)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            ProcessorError::InvalidSource("the card token is unknown or was already used".into())
        })?;
        let card = card_from_row(&row).map_err(unavailable)?;
        // Like Stripe's SetupIntents: a card that declines every charge is
        // refused here too, except the one that only fails later.
        if let Behaviour::Decline(code) = card.behaviour {
            return Ok(SaveOutcome::Declined(Decline::new(code)));
        }
        let method_id = new_id_in_order("pm", self.clock.now());
        sql::query(
            "INSERT INTO sandbox_methods (id, behaviour, brand, last4, exp_month, exp_year, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&method_id)
        .bind(card.behaviour.encode())
        .bind(&card.summary.brand)
        .bind(&card.summary.last4)
        .bind(card.summary.exp_month)
        .bind(card.summary.exp_year)
        .bind(self.clock.now())
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
        Ok(SaveOutcome::Saved(SavedCard {
            method_id,
            card: card.summary,
            processor_customer: None,
        }))
    }
}

impl PaymentProcessor for SandboxProcessor {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn charge(&self, req: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, ProcessorError>> {
        Box::pin(self.do_charge(req))
    }

    fn save_method(
        &self,
        token: String,
        _processor_customer: Option<String>,
    ) -> BoxFuture<'_, Result<SaveOutcome, ProcessorError>> {
        Box::pin(self.do_save(token))
    }

    fn find_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        Box::pin(async move { self.existing_charge(&lookup.idempotency_key).await })
    }

    fn refund(
        &self,
        charge_id: String,
        amount: Money,
        idempotency_key: String,
    ) -> BoxFuture<'_, Result<Refund, ProcessorError>> {
        Box::pin(self.do_refund(charge_id, amount, idempotency_key))
    }

    fn find_refund(
        &self,
        charge_id: String,
        idempotency_key: String,
    ) -> BoxFuture<'_, Result<Option<Refund>, ProcessorError>> {
        Box::pin(async move { self.existing_refund(&charge_id, &idempotency_key).await })
    }

    fn cancel_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        let idempotency_key = lookup.idempotency_key;
        Box::pin(async move {
            sql::query(
                "UPDATE sandbox_charges SET status = 'canceled', decline_code = 'authentication_required'
                 WHERE idempotency_key = $1 AND status = 'requires_action'",
            )
            .bind(&idempotency_key)
            .execute(&mut *self.conn().await.map_err(unavailable)?)
            .await
            .map_err(unavailable)?;
            self.existing_charge(&idempotency_key).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test card's token, valid for years from the sandbox's today.
    async fn token(sandbox: &SandboxProcessor) -> TokenResponse {
        let year = sandbox.clock.now().year() + 3;
        sandbox
            .create_token(
                serde_json::from_value(serde_json::json!({
                    "number": "4242424242424242", "exp_month": 12, "exp_year": year, "cvc": "123"
                }))
                .unwrap(),
            )
            .await
            .ok()
            .unwrap()
    }

    fn charge_of(token: &TokenResponse, key: &str) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.into(),
            amount: Money::new(1250, Currency::USD),
            source: ChargeSource::Token(token.id.clone()),
            save_method: false,
            off_session: false,
            processor_customer: None,
            description: "test".into(),
        }
    }

    /// A charge's claim of its token is committed with the charge or not
    /// at all: a transaction abandoned after the claim (its future dropped)
    /// leaves the token unused, and the next statement does not run inside
    /// it.
    #[tokio::test]
    async fn an_abandoned_charge_leaves_its_token_unused() {
        let dir = std::env::temp_dir().join(format!("fp-sandbox-{}", crate::crypto::new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/s.db", dir.display());
        let sandbox = SandboxProcessor::open(&url, Clock::system()).await.unwrap();
        let token = token(&sandbox).await;
        {
            let mut conn = sandbox.begin().await.unwrap();
            let claimed = sql::query("UPDATE sandbox_tokens SET used_at = $1 WHERE id = $2")
                .bind(sandbox.clock.now())
                .bind(token.id.as_str())
                .execute(&mut *conn)
                .await
                .unwrap();
            assert_eq!(claimed.rows_affected(), 1);
        }
        let (unused,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM sandbox_tokens WHERE used_at IS NULL")
                .fetch_one(sandbox.database())
                .await
                .unwrap();
        assert_eq!(unused, 1, "the abandoned claim was committed");
        match sandbox.charge(charge_of(&token, "att_1")).await.unwrap() {
            ChargeOutcome::Succeeded(c) => assert_eq!(c.amount.minor, 1250),
            other => panic!("{other:?}"),
        }
        // Committed: the sandbox's other connection sees the charge.
        let (charges,): (i64,) = sqlx::query_as("SELECT count(*) FROM sandbox_charges")
            .fetch_one(sandbox.database())
            .await
            .unwrap();
        assert_eq!(charges, 1);
        std::fs::remove_dir_all(dir).ok();
    }

    /// A charge, and the same key charged again, on a sandbox in a file
    /// (its statements in place) and in memory (on the pool).
    #[tokio::test]
    async fn a_token_charges_once_in_a_file_and_in_memory() {
        let dir = std::env::temp_dir().join(format!("fp-sandbox-{}", crate::crypto::new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        for url in [
            format!("sqlite://{}/s.db", dir.display()),
            "sqlite::memory:".to_string(),
        ] {
            let sandbox = SandboxProcessor::open(&url, Clock::system()).await.unwrap();
            let token = token(&sandbox).await;
            let charge = |key: &str| charge_of(&token, key);
            let first = match sandbox.charge(charge("att_1")).await.unwrap() {
                ChargeOutcome::Succeeded(c) => c,
                other => panic!("{url}: {other:?}"),
            };
            assert_eq!(
                (first.card.last4.as_str(), first.amount.minor),
                ("4242", 1250)
            );
            match sandbox.charge(charge("att_1")).await.unwrap() {
                ChargeOutcome::Succeeded(again) => assert_eq!(again.id, first.id, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
            let reused = sandbox.charge(charge("att_2")).await;
            assert!(
                matches!(reused, Err(ProcessorError::InvalidSource(_))),
                "{url}"
            );
            let (charges,): (i64,) = sqlx::query_as("SELECT count(*) FROM sandbox_charges")
                .fetch_one(sandbox.database())
                .await
                .unwrap();
            assert_eq!(charges, 1, "{url}");
            // The token is one B-tree (its id), the charge two (its id and
            // its key): no table beside an index of the same id.
            let (trees,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM sqlite_schema
                 WHERE tbl_name IN ('sandbox_tokens', 'sandbox_charges') AND rootpage > 0",
            )
            .fetch_one(sandbox.database())
            .await
            .unwrap();
            assert_eq!(trees, 3, "{url}");
            // Its pooled connection reads almost nothing in a file
            // (refunds): a small share of the process's page cache.
            let (cache,): (i64,) = sqlx::query_as("PRAGMA cache_size")
                .fetch_one(sandbox.database())
                .await
                .unwrap();
            assert_eq!(
                cache,
                i64::from(crate::store::direct::IDLE_CACHE_KIB),
                "{url}"
            );
        }
        std::fs::remove_dir_all(dir).ok();
    }
}
