//! PUT /api/v1/settings/processor: sandbox or Stripe.
//!
//! Keys are checked, sealed with the server's key box and stored; only a
//! masked form (`sk_test_…4242`) is ever shown back. The office page
//! (`web::office::processor`) uses the same rules and writer.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::ErrorBody;
use super::error::ApiError;
use crate::app::App;
use crate::crypto::mask_key;
use crate::domain::ids::CompanyId;
use crate::processor::ProcessorKind;
use crate::store::processor_settings::{self as store, ProcessorSettings, SettingsUpdate};
use crate::store::{StoreError, audit};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_get, api_put))
}

/// What a client or the office form sends. Empty strings mean "keep".
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "sandbox"}))]
pub struct ProcessorInput {
    /// `sandbox` or `stripe`.
    #[schema(pattern = "^(sandbox|stripe)$")]
    pub kind: String,
    #[serde(default)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub publishable_key: Option<String>,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// Going live (Stripe with live keys, from test mode) takes this, true:
    /// from then on real cards are charged.
    #[serde(default)]
    pub confirm_live: Option<bool>,
}

/// The code of a switch to live keys sent without `confirm_live`.
pub const CONFIRM_LIVE_CODE: &str = "confirm_live_required";
/// What the office and the API say when going live is not confirmed.
pub const CONFIRM_LIVE_MESSAGE: &str = "These are live Stripe keys: from now on real cards are charged and money moves. Confirm that you want to go live.";

/// A checked update: plaintext keys, to be sealed before they are stored.
#[derive(PartialEq, Eq)]
pub struct CheckedInput {
    pub kind: ProcessorKind,
    pub secret_key: Option<String>,
    pub publishable_key: Option<String>,
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for CheckedInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedInput")
            .field("kind", &self.kind)
            .field("secret_key", &self.secret_key.as_deref().map(mask_key))
            .field("publishable_key", &self.publishable_key)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_deref().map(mask_key),
            )
            .finish()
    }
}

/// A refused field: `(field, message)`.
pub type FieldError = (&'static str, String);

fn key_chars_ok(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn mode_of(key: &str) -> Option<&'static str> {
    if key.contains("_test_") {
        Some("test")
    } else if key.contains("_live_") {
        Some("live")
    } else {
        None
    }
}

/// Checks an update against what is stored (`has_*`: a key is already kept,
/// so an empty field keeps it).
pub fn check_input(
    input: &ProcessorInput,
    current: Option<&ProcessorSettings>,
) -> Result<CheckedInput, FieldError> {
    let kind = ProcessorKind::parse(input.kind.trim())
        .ok_or(("kind", "Choose \"sandbox\" or \"stripe\".".to_string()))?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let secret_key = given(&input.secret_key);
    let publishable_key = given(&input.publishable_key);
    let webhook_secret = given(&input.webhook_secret);
    if let Some(k) = &secret_key
        && (!(k.starts_with("sk_test_")
            || k.starts_with("sk_live_")
            || k.starts_with("rk_test_")
            || k.starts_with("rk_live_"))
            || !key_chars_ok(k))
    {
        return Err((
            "secret_key",
            "The secret key starts with sk_test_ or sk_live_ (or rk_ for a restricted key). Copy it from Stripe's Developers › API keys."
                .into(),
        ));
    }
    if let Some(k) = &publishable_key
        && (!(k.starts_with("pk_test_") || k.starts_with("pk_live_")) || !key_chars_ok(k))
    {
        return Err((
            "publishable_key",
            "The publishable key starts with pk_test_ or pk_live_.".into(),
        ));
    }
    if let Some(k) = &webhook_secret
        && (!k.starts_with("whsec_") || !key_chars_ok(k))
    {
        return Err((
            "webhook_secret",
            "The webhook signing secret starts with whsec_. Find it on the webhook endpoint's page in Stripe."
                .into(),
        ));
    }
    if let (Some(s), Some(p)) = (&secret_key, &publishable_key)
        && mode_of(s) != mode_of(p)
    {
        return Err((
            "publishable_key",
            "The publishable key and the secret key must both be test keys or both live keys."
                .into(),
        ));
    }
    if kind == ProcessorKind::Stripe {
        let has = |f: fn(&ProcessorSettings) -> bool| current.is_some_and(f);
        if secret_key.is_none() && !has(|c| c.secret_key_sealed.is_some()) {
            return Err(("secret_key", "Stripe needs the secret key.".into()));
        }
        if publishable_key.is_none() && !has(|c| c.publishable_key.is_some()) {
            return Err((
                "publishable_key",
                "Stripe needs the publishable key.".into(),
            ));
        }
        if webhook_secret.is_none() && !has(|c| c.webhook_secret_sealed.is_some()) {
            return Err((
                "webhook_secret",
                "Stripe needs the webhook signing secret (whsec_…) so fieldpay can trust its notices."
                    .into(),
            ));
        }
    }
    if kind == ProcessorKind::Stripe {
        let pk = publishable_key
            .as_deref()
            .or(current.and_then(|c| c.publishable_key.as_deref()));
        let live = pk.is_some_and(|k| k.starts_with("pk_live_"));
        if live {
            let secret_live = match &secret_key {
                Some(k) => mode_of(k) == Some("live"),
                None => current
                    .and_then(|c| c.secret_key_hint.as_deref())
                    .is_some_and(|h| mode_of(h) == Some("live")),
            };
            if !secret_live {
                return Err((
                    "secret_key",
                    "Going live needs the live secret key (sk_live_…) with the live publishable key."
                        .into(),
                ));
            }
            let was_live = current.is_some_and(|c| {
                c.kind == ProcessorKind::Stripe
                    && c.publishable_key
                        .as_deref()
                        .is_some_and(|k| k.starts_with("pk_live_"))
            });
            if !was_live && input.confirm_live != Some(true) {
                return Err(("confirm_live", CONFIRM_LIVE_MESSAGE.into()));
            }
        }
    }
    Ok(CheckedInput {
        kind,
        secret_key,
        publishable_key,
        webhook_secret,
    })
}

/// Why processor settings were not written.
#[derive(Debug)]
pub enum WriteError {
    /// Card payments still pending with the current processor (a lost reply
    /// waiting for reconciliation, a webhook not yet in): switching now would
    /// make reconciliation ask the wrong processor or account and free
    /// invoices a customer was charged for.
    PaymentsInFlight(i64),
    /// Card refunds still pending with the current processor (the jobs send
    /// them again or ask about them there): switching now would leave them
    /// with no account to settle them.
    RefundsInFlight(i64),
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl WriteError {
    pub const IN_FLIGHT_CODE: &'static str = "payments_in_flight";
    pub const REFUNDS_IN_FLIGHT_CODE: &'static str = "refunds_in_flight";

    pub fn refunds_in_flight_message(n: i64) -> String {
        format!(
            "{n} card refund{} still pending with the current processor; fieldpay sends {} again automatically. Once {} settled, change the processor or its secret key.",
            if n == 1 { " is" } else { "s are" },
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it is" } else { "they are" }
        )
    }

    /// The stable code and the words for a refused switch (`None` for a
    /// store error).
    pub fn in_flight(&self) -> Option<(&'static str, String)> {
        match self {
            WriteError::PaymentsInFlight(n) => Some((
                WriteError::IN_FLIGHT_CODE,
                WriteError::in_flight_message(*n),
            )),
            WriteError::RefundsInFlight(n) => Some((
                WriteError::REFUNDS_IN_FLIGHT_CODE,
                WriteError::refunds_in_flight_message(*n),
            )),
            WriteError::Store(_) => None,
        }
    }

    pub fn in_flight_message(n: i64) -> String {
        format!(
            "{n} card payment{} still being settled with the current processor. Wait a few minutes for {} to finish, then change the processor or its secret key.",
            if n == 1 { " is" } else { "s are" },
            if n == 1 { "it" } else { "them" }
        )
    }
}

/// Seals the keys and writes the settings with an audit entry (which keys
/// changed, never their values). A change of processor or secret key waits
/// until no card payment or refund is pending with the current one.
pub async fn write_settings(
    app: &App,
    company_id: &CompanyId,
    actor: &str,
    input: &CheckedInput,
) -> Result<(), WriteError> {
    let keys = app.config.processor_keys();
    let seal = |k: &Option<String>| k.as_ref().map(|k| (keys.seal(company_id, k), mask_key(k)));
    let update = SettingsUpdate {
        kind: input.kind,
        secret_key: seal(&input.secret_key),
        publishable_key: input.publishable_key.as_deref(),
        webhook_secret: seal(&input.webhook_secret),
        updated_by: actor,
    };
    let current_kind = store::get(&app.db, company_id)
        .await?
        .map(|s| s.kind)
        .unwrap_or(ProcessorKind::Sandbox);
    let mut tx = app.db.begin_write().await?;
    if current_kind != input.kind || input.secret_key.is_some() {
        let pending = store::pending_attempts(&mut tx, company_id).await?;
        if pending > 0 {
            return Err(WriteError::PaymentsInFlight(pending));
        }
        let refunds = crate::store::refunds::pending_count(&mut tx, company_id).await?;
        if refunds > 0 {
            return Err(WriteError::RefundsInFlight(refunds));
        }
    }
    store::save(&mut tx, company_id, &update).await?;
    audit::record(
        &mut tx,
        company_id,
        actor,
        "processor.settings_changed",
        company_id,
        serde_json::json!({
            "kind": input.kind.as_str(),
            "secret_key_changed": input.secret_key.is_some(),
            "publishable_key_changed": input.publishable_key.is_some(),
            "webhook_secret_changed": input.webhook_secret.is_some(),
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// What is shown of the settings: never a secret in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    pub kind: ProcessorKind,
    pub secret_key: Option<String>,
    pub publishable_key: Option<String>,
    pub webhook_secret: Option<String>,
    /// Where Stripe must send this company's events.
    pub webhook_url: String,
}

pub fn view(app: &App, company_id: &CompanyId, s: Option<&ProcessorSettings>) -> SettingsView {
    SettingsView {
        kind: s.map(|s| s.kind).unwrap_or(ProcessorKind::Sandbox),
        secret_key: s.and_then(|s| s.secret_key_hint.clone()),
        publishable_key: s.and_then(|s| s.publishable_key.clone()),
        webhook_secret: s.and_then(|s| s.webhook_secret_hint.clone()),
        webhook_url: format!("{}/webhooks/stripe/{company_id}", app.config.base_url),
    }
}

/// The card processor the company takes cards through (keys masked).
#[utoipa::path(
    get,
    path = "/api/v1/settings/processor",
    tag = "settings",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The settings.", body = SettingsView),
    )
)]
async fn api_get(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
) -> Result<Response, ApiError> {
    let s = store::get(&state.app.db, &company).await?;
    Ok(Json(view(&state.app, &company, s.as_ref())).into_response())
}

/// Switches the card processor or changes its keys.
#[utoipa::path(
    put,
    path = "/api/v1/settings/processor",
    tag = "settings",
    security(("api_key" = [])),
    request_body = ProcessorInput,
    responses(
        (status = 200, description = "The settings.", body = SettingsView),
        (status = 409, description = "Card payments or refunds are still pending with the current processor.", body = ErrorBody),
    )
)]
async fn api_put(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    body: Result<Json<ProcessorInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body?;
    if input.kind.trim() != input.kind {
        return Err(ApiError::unprocessable(
            "invalid_field",
            "kind must be \"sandbox\" or \"stripe\".",
            "kind",
        ));
    }
    let current = store::get(&state.app.db, &company).await?;
    let checked = check_input(&input, current.as_ref()).map_err(|(field, message)| {
        let code = if field == "confirm_live" {
            CONFIRM_LIVE_CODE
        } else {
            "invalid_field"
        };
        ApiError::unprocessable(code, message, field)
    })?;
    match write_settings(&state.app, &company, "api", &checked).await {
        Ok(()) => {}
        Err(WriteError::Store(e)) => return Err(e.into()),
        Err(refused) => {
            let (code, message) = refused.in_flight().unwrap_or_default();
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                code,
                message,
            ));
        }
    }
    let s = store::get(&state.app.db, &company).await?;
    Ok(Json(view(&state.app, &company, s.as_ref())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: &str, sk: &str, pk: &str, wh: &str) -> ProcessorInput {
        let o = |s: &str| Some(s.to_string());
        ProcessorInput {
            kind: kind.into(),
            secret_key: o(sk),
            publishable_key: o(pk),
            webhook_secret: o(wh),
            confirm_live: None,
        }
    }

    fn stored() -> ProcessorSettings {
        ProcessorSettings {
            kind: ProcessorKind::Stripe,
            secret_key_sealed: Some("v1.x".into()),
            secret_key_hint: Some("sk_test_…4242".into()),
            publishable_key: Some("pk_test_abc".into()),
            webhook_secret_sealed: Some("v1.y".into()),
            webhook_secret_hint: Some("whsec_…".into()),
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn stripe_needs_its_three_keys_once() {
        let ok = check_input(
            &input("stripe", "sk_test_abc123", "pk_test_abc", "whsec_abc"),
            None,
        )
        .unwrap();
        assert_eq!(ok.kind, ProcessorKind::Stripe);
        assert_eq!(
            check_input(&input("stripe", "", "pk_test_abc", "whsec_abc"), None)
                .unwrap_err()
                .0,
            "secret_key"
        );
        assert_eq!(
            check_input(&input("stripe", "sk_test_a", "", "whsec_abc"), None)
                .unwrap_err()
                .0,
            "publishable_key"
        );
        assert_eq!(
            check_input(&input("stripe", "sk_test_a", "pk_test_a", ""), None)
                .unwrap_err()
                .0,
            "webhook_secret"
        );
        // Stored keys are kept when the fields are left empty.
        let kept = check_input(&input("stripe", "", "", ""), Some(&stored())).unwrap();
        assert_eq!(kept.secret_key, None);
        // The sandbox needs nothing.
        assert!(check_input(&input("sandbox", "", "", ""), None).is_ok());
    }

    #[test]
    fn keys_are_checked() {
        let e = |sk: &str, pk: &str, wh: &str| {
            check_input(&input("stripe", sk, pk, wh), None)
                .err()
                .map(|e| e.0)
        };
        assert_eq!(e("pk_test_a", "pk_test_a", "whsec_a"), Some("secret_key"));
        assert_eq!(e("sk_test_a b", "pk_test_a", "whsec_a"), Some("secret_key"));
        assert_eq!(
            e("sk_test_a", "sk_test_a", "whsec_a"),
            Some("publishable_key")
        );
        assert_eq!(
            e("sk_test_a", "pk_live_a", "whsec_a"),
            Some("publishable_key")
        );
        assert_eq!(e("sk_test_a", "pk_test_a", "sec_a"), Some("webhook_secret"));
        // Live keys from test mode: only with the confirmation.
        assert_eq!(e("rk_live_a", "pk_live_a", "whsec_a"), Some("confirm_live"));
        let confirmed = ProcessorInput {
            confirm_live: Some(true),
            ..input("stripe", "rk_live_a", "pk_live_a", "whsec_a")
        };
        assert!(check_input(&confirmed, None).is_ok());
        // A live publishable key with the stored test secret is not live.
        assert_eq!(
            check_input(
                &ProcessorInput {
                    confirm_live: Some(true),
                    ..input("stripe", "", "pk_live_a", "")
                },
                Some(&stored())
            )
            .unwrap_err()
            .0,
            "secret_key"
        );
        assert_eq!(
            check_input(&input("paypal", "", "", ""), None)
                .unwrap_err()
                .0,
            "kind"
        );
        let shown = format!(
            "{:?}",
            check_input(
                &input(
                    "stripe",
                    "sk_test_abcdefghijklmnop",
                    "pk_test_a",
                    "whsec_abcdefghijklmnopq"
                ),
                None
            )
            .unwrap()
        );
        assert!(!shown.contains("abcdefghijkl"), "{shown}");
    }
}
