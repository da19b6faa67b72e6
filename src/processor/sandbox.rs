//! The built-in sandbox processor: behaves like Stripe's test mode.
//!
//! Card numbers arrive only at `POST /sandbox/v1/tokens`, are checked and
//! mapped to a behaviour, and are dropped: its tables hold the behaviour,
//! brand, last 4 and expiry, never the number or the CVC.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{
    BoxFuture, CardSummary, Charge, ChargeLookup, ChargeOutcome, ChargeRequest, ChargeSource,
    Decline, PaymentProcessor, ProcessorError, Refund, RefundStatus, SaveOutcome, SavedCard,
};
use crate::crypto::new_id_in_order;
use crate::domain::Clock;
use crate::domain::money::{Currency, Money};

/// The sandbox keeps its state in its own SQLite file, as a real processor
/// keeps its own: fieldpay's database never holds its tables.
#[derive(Clone)]
pub struct SandboxProcessor {
    db: SqlitePool,
    clock: Clock,
}

const SCHEMA: &str = include_str!("sandbox_schema.sql");

impl SandboxProcessor {
    /// Opens (creating) the sandbox's database. It is a stand-in for a remote
    /// processor, so it trades durability for speed (`synchronous=NORMAL`).
    pub async fn open(url: &str, clock: Clock) -> anyhow::Result<SandboxProcessor> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("bad sandbox database URL '{url}': {e}"))?;
        crate::store::private_sqlite_file(&options)?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
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
        Ok(SandboxProcessor { db, clock })
    }

    /// The sandbox's own database, for tests that count its charges.
    pub fn database(&self) -> &SqlitePool {
        &self.db
    }
}

/// What a test card does when charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Succeed,
    Decline(&'static str),
    /// Saves fine; every charge is declined.
    SaveThenDecline,
    /// Every charge asks the customer to authenticate (3-D Secure) first;
    /// one made without the customer (off-session) is declined.
    Authenticate,
}

/// The card numbers that succeed: Stripe's test cards of each brand. Any
/// number outside the table is refused (`test_mode_live_card`): a test page
/// never reports a real card as paid.
const SUCCEEDING: &[&str] = &[
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "2223003122003222",
    "5200828282828210",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "6011000990139424",
    "3056930009020004",
    "36227206271667",
    "3566002020360505",
    "6200000000000005",
];

impl Behaviour {
    /// What a test card does; `None` for a number outside the table.
    fn for_number(number: &str) -> Option<Behaviour> {
        Some(match number {
            "4000000000000002" => Behaviour::Decline("card_declined"),
            "4000000000009995" => Behaviour::Decline("insufficient_funds"),
            "4000000000000069" => Behaviour::Decline("expired_card"),
            "4000000000000127" => Behaviour::Decline("incorrect_cvc"),
            "4000000000000341" => Behaviour::SaveThenDecline,
            "4000002760003184" | "4000002500003155" => Behaviour::Authenticate,
            n if SUCCEEDING.contains(&n) => Behaviour::Succeed,
            _ => return None,
        })
    }

    fn encode(self) -> String {
        match self {
            Behaviour::Succeed => "succeed".into(),
            Behaviour::Decline(code) => format!("decline:{code}"),
            Behaviour::SaveThenDecline => "save_then_decline".into(),
            Behaviour::Authenticate => "authenticate".into(),
        }
    }

    fn decode(text: &str) -> Behaviour {
        match text {
            "succeed" => Behaviour::Succeed,
            "save_then_decline" => Behaviour::SaveThenDecline,
            "authenticate" => Behaviour::Authenticate,
            other => match other.strip_prefix("decline:") {
                Some("insufficient_funds") => Behaviour::Decline("insufficient_funds"),
                Some("expired_card") => Behaviour::Decline("expired_card"),
                Some("incorrect_cvc") => Behaviour::Decline("incorrect_cvc"),
                _ => Behaviour::Decline("card_declined"),
            },
        }
    }

    fn decline_code(self) -> Option<&'static str> {
        match self {
            Behaviour::Succeed | Behaviour::Authenticate => None,
            Behaviour::Decline(code) => Some(code),
            Behaviour::SaveThenDecline => Some("card_declined"),
        }
    }
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, ch) in digits.chars().rev().enumerate() {
        let Some(mut d) = ch.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

fn brand_of(number: &str) -> &'static str {
    let two: u32 = number.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let four: u32 = number.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    if number.starts_with('4') {
        "Visa"
    } else if (51..=55).contains(&two) || (2221..=2720).contains(&four) {
        "Mastercard"
    } else if two == 34 || two == 37 {
        "American Express"
    } else if four == 6011 || two == 65 {
        "Discover"
    } else {
        "Card"
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    number: String,
    exp_month: i64,
    exp_year: i64,
    cvc: String,
    #[serde(default)]
    postal_code: Option<String>,
}

#[derive(Serialize)]
pub struct TokenResponse {
    id: String,
    brand: String,
    last4: String,
    exp_month: i64,
    exp_year: i64,
}

/// Why card fields were refused: a stable code, words for the payer (in
/// English, as a processor answers; the pay page shows its own words for the
/// code in the page's language), the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardError {
    pub code: &'static str,
    pub message: String,
    pub field: &'static str,
}

/// The code of a card number outside the sandbox's table of test cards.
pub const TEST_MODE_LIVE_CARD: &str = "test_mode_live_card";

/// The sandbox's own database failed.
#[derive(Debug)]
pub struct SandboxUnavailable(pub String);

#[derive(Debug)]
pub enum TokenError {
    Card(CardError),
    Unavailable(SandboxUnavailable),
}

/// `words` is the key of the refusal's message in the customer locale files.
fn card_error(code: &'static str, words: &str, field: &'static str) -> CardError {
    CardError {
        code,
        message: crate::domain::i18n::t(crate::domain::i18n::Lang::En, words),
        field,
    }
}

/// Checks card fields the way a processor's card form does.
fn check_card(input: &CardInput, today: time::Date) -> Result<(String, i64), CardError> {
    let number: String = input
        .number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if number.len() < 12
        || number.len() > 19
        || !number.bytes().all(|b| b.is_ascii_digit())
        || !luhn_valid(&number)
    {
        return Err(card_error(
            "incorrect_number",
            "js-card-incorrect-number",
            "number",
        ));
    }
    if !(1..=12).contains(&input.exp_month) {
        return Err(card_error(
            "invalid_expiry_month",
            "js-card-expiry-month",
            "exp_month",
        ));
    }
    let year = if input.exp_year < 100 {
        2000 + input.exp_year
    } else {
        input.exp_year
    };
    let this_year = i64::from(today.year());
    let this_month = i64::from(u8::from(today.month()));
    if year < this_year
        || (year == this_year && input.exp_month < this_month)
        || year > this_year + 50
    {
        return Err(card_error(
            "invalid_expiry_year",
            "js-card-expired",
            "exp_year",
        ));
    }
    let cvc_ok =
        (3..=4).contains(&input.cvc.len()) && input.cvc.bytes().all(|b| b.is_ascii_digit());
    if !cvc_ok {
        return Err(card_error("invalid_cvc", "js-card-cvc", "cvc"));
    }
    if let Some(zip) = &input.postal_code
        && zip.len() > 10
    {
        return Err(card_error(
            "invalid_postal_code",
            "js-card-postal-code",
            "postal_code",
        ));
    }
    Ok((number, year))
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
        sqlx::query(
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
        .execute(&self.db)
        .await
        .map_err(|e| TokenError::Unavailable(SandboxUnavailable(e.to_string())))?;
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
        let done = sqlx::query(
            "UPDATE sandbox_charges SET status = 'succeeded'
             WHERE id = $1 AND status = 'requires_action'",
        )
        .bind(charge_id)
        .execute(&self.db)
        .await
        .map_err(|e| SandboxUnavailable(e.to_string()))?;
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

fn card_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Card, sqlx::Error> {
    Ok(Card {
        behaviour: Behaviour::decode(row.try_get("behaviour")?),
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

fn outcome_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ChargeOutcome, sqlx::Error> {
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
        let row = sqlx::query(
            "SELECT id, amount, currency, status, decline_code, 'succeed' AS behaviour, brand, last4,
                    exp_month, exp_year, saved_method_id
             FROM sandbox_charges WHERE idempotency_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.db)
        .await
        .map_err(unavailable)?;
        row.as_ref()
            .map(outcome_from_row)
            .transpose()
            .map_err(unavailable)
    }

    async fn do_charge(&self, req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        // A token is single-use: claim it, or find the charge that used it.
        let card_row = match &req.source {
            ChargeSource::Token(token) => {
                sqlx::query(
                    "UPDATE sandbox_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL
                     RETURNING behaviour, brand, last4, exp_month, exp_year",
                )
                .bind(self.clock.now())
                .bind(token)
                .fetch_optional(&self.db)
                .await
            }
            ChargeSource::SavedMethod(method) => {
                sqlx::query(
                    "SELECT behaviour, brand, last4, exp_month, exp_year FROM sandbox_methods WHERE id = $1",
                )
                .bind(method)
                .fetch_optional(&self.db)
                .await
            }
        }
        .map_err(unavailable)?;
        let Some(card_row) = card_row else {
            if let Some(done) = self.existing_charge(&req.idempotency_key).await? {
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
        let inserted = sqlx::query(
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
        .execute(&self.db)
        .await
        .map_err(unavailable)?;
        if inserted.rows_affected() == 0 {
            // The same key again: the first outcome stands.
            return self
                .existing_charge(&req.idempotency_key)
                .await?
                .ok_or_else(|| ProcessorError::Unavailable("charge vanished".into()));
        }
        if let Some(method_id) = &saved_method {
            sqlx::query(
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
            .execute(&self.db)
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
        let mut tx = self.db.begin().await.map_err(unavailable)?;
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
        let row: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT r.id, r.amount, c.currency FROM sandbox_refunds r
             JOIN sandbox_charges c ON c.id = r.charge_id
             WHERE r.idempotency_key = $1 AND r.charge_id = $2",
        )
        .bind(key)
        .bind(charge_id)
        .fetch_optional(&self.db)
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
        let row = sqlx::query(
            "UPDATE sandbox_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL
             RETURNING behaviour, brand, last4, exp_month, exp_year",
        )
        .bind(self.clock.now())
        .bind(&token)
        .fetch_optional(&self.db)
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
        sqlx::query(
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
        .execute(&self.db)
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
            sqlx::query(
                "UPDATE sandbox_charges SET status = 'canceled', decline_code = 'authentication_required'
                 WHERE idempotency_key = $1 AND status = 'requires_action'",
            )
            .bind(&idempotency_key)
            .execute(&self.db)
            .await
            .map_err(unavailable)?;
            self.existing_charge(&idempotency_key).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn card(number: &str, month: i64, year: i64, cvc: &str) -> CardInput {
        CardInput {
            number: number.into(),
            exp_month: month,
            exp_year: year,
            cvc: cvc.into(),
            postal_code: None,
        }
    }

    #[test]
    fn luhn_and_brands() {
        assert!(luhn_valid("4242424242424242"));
        assert!(!luhn_valid("4242424242424241"));
        assert_eq!(brand_of("4242424242424242"), "Visa");
        assert_eq!(brand_of("5555555555554444"), "Mastercard");
        assert_eq!(brand_of("378282246310005"), "American Express");
        assert_eq!(brand_of("6011111111111117"), "Discover");
    }

    #[test]
    fn test_cards_map_to_behaviours() {
        assert_eq!(
            Behaviour::for_number("4111111111111111"),
            None,
            "a real Visa"
        );
        assert_eq!(
            Behaviour::for_number("4242424242424242"),
            Some(Behaviour::Succeed)
        );
        assert_eq!(
            Behaviour::for_number("4000000000000002"),
            Some(Behaviour::Decline("card_declined"))
        );
        assert_eq!(
            Behaviour::for_number("4000000000009995"),
            Some(Behaviour::Decline("insufficient_funds"))
        );
        assert_eq!(
            Behaviour::for_number("4000000000000341"),
            Some(Behaviour::SaveThenDecline)
        );
        assert_eq!(
            Behaviour::for_number("4000002760003184"),
            Some(Behaviour::Authenticate)
        );
        for b in [
            Behaviour::Succeed,
            Behaviour::Authenticate,
            Behaviour::Decline("expired_card"),
            Behaviour::SaveThenDecline,
        ] {
            assert_eq!(Behaviour::decode(&b.encode()), b);
        }
    }

    #[test]
    fn card_checks() {
        let today = date!(2026 - 11 - 28);
        assert!(check_card(&card("4242 4242 4242 4242", 12, 30, "123"), today).is_ok());
        assert!(check_card(&card("4242424242424241", 12, 2030, "123"), today).is_err());
        assert!(check_card(&card("4242424242424242", 13, 2030, "123"), today).is_err());
        assert!(check_card(&card("4242424242424242", 10, 2026, "123"), today).is_err());
        assert!(check_card(&card("4242424242424242", 11, 2026, "123"), today).is_ok());
        assert!(check_card(&card("4242424242424242", 12, 2030, "12"), today).is_err());
    }
}
