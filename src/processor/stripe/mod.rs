//! Stripe: a thin client over its form-encoded API behind `PaymentProcessor`.
//!
//! - charge: one `POST /v1/payment_intents` created and confirmed at once,
//!   with our attempt id as `Idempotency-Key` and in `metadata[attempt_id]`;
//!   `off_session` for autopay. Saving the card first makes (or reuses) a
//!   Customer and attaches the PaymentMethod to it, so the bank may refuse it
//!   there already, as with a SetupIntent.
//! - `requires_action` (3-D Secure): answered as `ChargeOutcome::RequiresAction`
//!   with the intent's client secret, so the page completes it with
//!   `stripe.handleNextAction`; `cancel_charge` cancels one never completed
//!   (reconciliation). Off-session (autopay) nobody can authenticate: the
//!   intent is cancelled and declined as `authentication_required`.
//! - find_charge: the intent by its id when known, else Stripe's list of
//!   intents created since the attempt (`created[gte]`), filtered by
//!   `metadata[attempt_id]`. Never the Search API: its index lags (by
//!   minutes during incidents, exactly when replies are late), and "not
//!   found" there does not mean "not charged". The list reads what is
//!   committed. A server without the `created` filter (localstripe) is
//!   listed whole.
//! - refund: `POST /v1/refunds` by PaymentIntent with our refund id as
//!   `Idempotency-Key` and in `metadata[fieldpay_refund_id]`, answered with
//!   Stripe's status (`pending` stays pending for us; `failed` and
//!   `canceled` fail). find_refund: the PaymentIntent's refunds, by that
//!   metadata (Stripe forgets idempotency keys after 24 hours).
//!
//! Network errors, 5xx, 429 and key errors are `ProcessorError::Unavailable`:
//! the attempt stays pending and reconciliation asks again.

pub mod signature;
pub mod transformers;

use std::sync::OnceLock;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{
    BoxFuture, ChargeLookup, ChargeOutcome, ChargeRequest, ChargeSource, Decline, PaymentProcessor,
    ProcessorError, Refund, SaveOutcome, SavedCard,
};
use crate::domain::money::Money;
use transformers::{Failure, IntentState, StripePaymentIntent};

pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// The API version our parsing is written against.
const STRIPE_VERSION: &str = "2024-06-20";
/// Pages of 100 intents scanned when the server has no search (localstripe).
const MAX_SCAN_PAGES: usize = 50;

/// One HTTP client for every company's adapter (connection reuse).
fn shared_client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // reqwest is built without a crypto provider: use ring (no aws-lc).
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                // No idle connections are kept: a pooled connection belongs
                // to the runtime that opened it, and this client outlives
                // runtimes (each test has its own); a dead one would fail a
                // request whose outcome we then could not know.
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

/// A company's Stripe account. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct StripeProcessor {
    api_base: String,
    secret_key: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for StripeProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProcessor")
            .field("api_base", &self.api_base)
            .field("secret_key", &crate::crypto::mask_key(&self.secret_key))
            .finish_non_exhaustive()
    }
}

fn unavailable(f: Failure) -> ProcessorError {
    match f {
        Failure::Unavailable(m) | Failure::Invalid(m) | Failure::Declined(m) => {
            ProcessorError::Unavailable(m)
        }
    }
}

impl StripeProcessor {
    pub fn new(api_base: &str, secret_key: &str) -> StripeProcessor {
        StripeProcessor {
            api_base: api_base.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            http: shared_client(),
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, Failure> {
        let resp = req
            .bearer_auth(&self.secret_key)
            .header("Stripe-Version", STRIPE_VERSION)
            .send()
            .await
            .map_err(|e| Failure::Unavailable(format!("stripe request failed: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| Failure::Unavailable(format!("stripe reply lost: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(transformers::classify(status, &body));
        }
        serde_json::from_str(&body)
            .map_err(|e| Failure::Unavailable(format!("stripe reply not understood: {e}")))
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &transformers::Form,
        idempotency_key: &str,
    ) -> Result<T, Failure> {
        let req = self
            .http
            .post(format!("{}{path}", self.api_base))
            .header("Idempotency-Key", idempotency_key)
            .form(form);
        self.send(req).await
    }

    async fn get<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, Failure> {
        let req = self.http.get(format!("{}{path_and_query}", self.api_base));
        self.send(req).await
    }

    /// A PaymentIntent read again from Stripe, its method expanded.
    pub async fn payment_intent(&self, id: &str) -> Result<StripePaymentIntent, ProcessorError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!(
            "/v1/payment_intents/{id}?expand%5B0%5D=payment_method"
        ))
        .await
        .map_err(unavailable)
    }

    pub async fn charge_object(
        &self,
        id: &str,
    ) -> Result<transformers::StripeCharge, ProcessorError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!("/v1/charges/{id}"))
            .await
            .map_err(unavailable)
    }

    pub async fn refunds_of(
        &self,
        payment_intent: &str,
    ) -> Result<Vec<transformers::StripeRefund>, ProcessorError> {
        let pi: String = form_urlencoded::byte_serialize(payment_intent.as_bytes()).collect();
        let list: transformers::StripeList<transformers::StripeRefund> = self
            .get(&format!("/v1/refunds?payment_intent={pi}&limit=100"))
            .await
            .map_err(unavailable)?;
        Ok(list.data)
    }

    /// A Refund read again from Stripe.
    pub async fn refund_object(
        &self,
        id: &str,
    ) -> Result<transformers::StripeRefund, ProcessorError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!("/v1/refunds/{id}"))
            .await
            .map_err(unavailable)
    }

    /// The refund of `payment_intent` that carries our refund id `key`.
    async fn our_refund(
        &self,
        payment_intent: &str,
        key: &str,
    ) -> Result<Option<transformers::StripeRefund>, ProcessorError> {
        let pi: String = form_urlencoded::byte_serialize(payment_intent.as_bytes()).collect();
        let list: Result<transformers::StripeList<transformers::StripeRefund>, Failure> = self
            .get(&format!("/v1/refunds?payment_intent={pi}&limit=100"))
            .await;
        match list {
            Ok(list) => Ok(list.data.into_iter().find(|r| r.ours() == Some(key))),
            // No such PaymentIntent here: it cannot have been refunded here
            // either (sending the refund then says why).
            Err(Failure::Invalid(_)) => Ok(None),
            Err(other) => Err(unavailable(other)),
        }
    }

    pub async fn dispute(&self, id: &str) -> Result<transformers::StripeDispute, ProcessorError> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!("/v1/disputes/{id}"))
            .await
            .map_err(unavailable)
    }

    async fn payment_method(&self, id: &str) -> Result<transformers::StripePaymentMethod, Failure> {
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.get(&format!("/v1/payment_methods/{id}")).await
    }

    /// Makes a Customer (when none is given) and attaches the method to it.
    async fn keep_method(
        &self,
        method: &str,
        customer: Option<String>,
        key: &str,
    ) -> Result<Result<(String, transformers::StripePaymentMethod), Decline>, ProcessorError> {
        let customer = match customer {
            Some(c) => c,
            None => {
                let c: transformers::StripeCustomer = self
                    .post(
                        "/v1/customers",
                        &transformers::customer_form(key),
                        &format!("{key}-customer"),
                    )
                    .await
                    .map_err(unavailable)?;
                c.id
            }
        };
        let id: String = form_urlencoded::byte_serialize(method.as_bytes()).collect();
        let attached: Result<transformers::StripePaymentMethod, Failure> = self
            .post(
                &format!("/v1/payment_methods/{id}/attach"),
                &transformers::attach_form(&customer),
                &format!("{key}-attach"),
            )
            .await;
        match attached {
            Ok(pm) => Ok(Ok((customer, pm))),
            Err(Failure::Declined(code)) => Ok(Err(Decline::new(&code))),
            Err(Failure::Invalid(m)) => Err(ProcessorError::InvalidSource(m)),
            Err(Failure::Unavailable(m)) => Err(ProcessorError::Unavailable(m)),
        }
    }

    async fn cancel(&self, pi: &str, key: &str) {
        let id: String = form_urlencoded::byte_serialize(pi.as_bytes()).collect();
        let done: Result<serde_json::Value, Failure> = self
            .post(
                &format!("/v1/payment_intents/{id}/cancel"),
                &Vec::new(),
                &format!("{key}-cancel"),
            )
            .await;
        if let Err(e) = done {
            tracing::warn!(payment_intent = %pi, error = ?e, "could not cancel an intent that needs authentication");
        }
    }

    /// The outcome an intent's state settles to. One waiting for the
    /// customer's authentication is passed on when `can_act` (the customer
    /// is there to complete it); otherwise, and for an intent stuck before
    /// its charge, it is cancelled so it can never be charged later.
    async fn settle_intent(
        &self,
        pi: &StripePaymentIntent,
        customer: Option<&str>,
        key: &str,
        can_act: bool,
    ) -> Result<ChargeOutcome, ProcessorError> {
        match transformers::intent_state(pi, customer) {
            IntentState::Final(outcome) => Ok(outcome),
            IntentState::NeedsAction if can_act && pi.client_secret.is_some() => {
                Ok(ChargeOutcome::RequiresAction {
                    charge_id: pi.id.clone(),
                    client_secret: pi.client_secret.clone().unwrap_or_default(),
                })
            }
            IntentState::NeedsAction | IntentState::Unconfirmed => {
                self.cancel(&pi.id, key).await;
                Ok(ChargeOutcome::Declined(Decline::new(
                    "authentication_required",
                )))
            }
            IntentState::InFlight => Err(ProcessorError::Unavailable(format!(
                "payment intent {} is still {}",
                pi.id, pi.status
            ))),
        }
    }

    async fn do_charge(&self, req: ChargeRequest) -> Result<ChargeOutcome, ProcessorError> {
        let key = req.idempotency_key.as_str();
        let (method, mut customer, is_new_card) = match &req.source {
            ChargeSource::Token(t) => (t.clone(), req.processor_customer.clone(), true),
            ChargeSource::SavedMethod(m) => {
                let customer = match &req.processor_customer {
                    Some(c) => Some(c.clone()),
                    // A saved method is attached to its customer: ask Stripe.
                    None => match self.payment_method(m).await {
                        Ok(pm) => pm.customer,
                        Err(Failure::Unavailable(e)) => {
                            return Err(ProcessorError::Unavailable(e));
                        }
                        Err(other) => {
                            return Err(ProcessorError::InvalidSource(format!("{other:?}")));
                        }
                    },
                };
                (m.clone(), customer, false)
            }
        };
        if !method.starts_with("pm_") && !method.starts_with("card_") {
            return Err(ProcessorError::InvalidSource(
                "Stripe takes PaymentMethod ids (pm_…)".into(),
            ));
        }
        let saving = req.save_method && is_new_card;
        if saving {
            match self.keep_method(&method, customer.take(), key).await? {
                Ok((c, _)) => customer = Some(c),
                Err(decline) => return Ok(ChargeOutcome::Declined(decline)),
            }
        }
        let form = transformers::payment_intent_form(&transformers::IntentParams {
            attempt_id: key,
            amount: req.amount,
            payment_method: &method,
            customer: customer.as_deref(),
            off_session: req.off_session,
            saved: saving,
            description: &req.description,
        });
        let created: Result<StripePaymentIntent, Failure> =
            self.post("/v1/payment_intents", &form, key).await;
        match created {
            Ok(pi) => {
                self.settle_intent(&pi, customer.as_deref(), key, !req.off_session)
                    .await
            }
            Err(Failure::Declined(code)) => Ok(ChargeOutcome::Declined(Decline::new(&code))),
            Err(Failure::Invalid(m)) => Err(ProcessorError::InvalidSource(m)),
            Err(Failure::Unavailable(m)) => Err(ProcessorError::Unavailable(m)),
        }
    }

    async fn do_save(
        &self,
        token: String,
        customer: Option<String>,
    ) -> Result<SaveOutcome, ProcessorError> {
        if !token.starts_with("pm_") {
            return Err(ProcessorError::InvalidSource(
                "Stripe takes PaymentMethod ids (pm_…)".into(),
            ));
        }
        let key = format!("save-{token}");
        match self.keep_method(&token, customer, &key).await? {
            Ok((customer, pm)) => Ok(SaveOutcome::Saved(SavedCard {
                method_id: pm.id.clone(),
                card: pm.summary(),
                processor_customer: Some(customer),
            })),
            Err(decline) => Ok(SaveOutcome::Declined(decline)),
        }
    }

    /// The intents carrying our attempt id: the one we know by id, else the
    /// intents created since the attempt (an hour of clock skew allowed),
    /// page by page.
    async fn intents_for(
        &self,
        lookup: &ChargeLookup,
    ) -> Result<Vec<StripePaymentIntent>, ProcessorError> {
        let key = lookup.idempotency_key.as_str();
        if let Some(id) = &lookup.processor_ref {
            return Ok(vec![self.payment_intent(id).await?]);
        }
        let since = (lookup.created_at - time::Duration::hours(1)).unix_timestamp();
        let mut filter = format!("&created%5Bgte%5D={since}");
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        while pages < MAX_SCAN_PAGES {
            let mut path = format!("/v1/payment_intents?limit=100{filter}");
            if let Some(a) = &after {
                let a: String = form_urlencoded::byte_serialize(a.as_bytes()).collect();
                path.push_str(&format!("&starting_after={a}"));
            }
            let page: transformers::StripeList<StripePaymentIntent> = match self.get(&path).await {
                Ok(page) => page,
                // A server that does not filter by creation (localstripe):
                // the whole list, from the start.
                Err(Failure::Invalid(_)) if !filter.is_empty() && after.is_none() => {
                    filter.clear();
                    continue;
                }
                Err(e) => return Err(unavailable(e)),
            };
            pages += 1;
            after = page.data.last().map(|pi| pi.id.clone());
            found.extend(
                page.data
                    .into_iter()
                    .filter(|pi| pi.attempt_id() == Some(key)),
            );
            if !page.has_more || after.is_none() {
                return Ok(found);
            }
        }
        Err(ProcessorError::Unavailable(
            "too many payment intents to list since the attempt".into(),
        ))
    }

    async fn do_find(&self, lookup: ChargeLookup) -> Result<Option<ChargeOutcome>, ProcessorError> {
        let key = lookup.idempotency_key.clone();
        let intents = self.intents_for(&lookup).await?;
        // One key should make one intent; a server that ignores
        // idempotency keys may have made more: a success wins.
        let Some(pick) = intents
            .iter()
            .find(|pi| pi.status == "succeeded")
            .or_else(|| intents.first())
        else {
            return Ok(None);
        };
        // Read it again with its method expanded.
        let pi = self.payment_intent(&pick.id).await?;
        self.settle_intent(&pi, None, &key, true).await.map(Some)
    }

    async fn do_cancel(
        &self,
        lookup: ChargeLookup,
    ) -> Result<Option<ChargeOutcome>, ProcessorError> {
        let key = lookup.idempotency_key.clone();
        let intents = self.intents_for(&lookup).await?;
        if intents.iter().any(|pi| pi.status == "succeeded") {
            return self.do_find(lookup).await;
        }
        for pi in &intents {
            if matches!(
                pi.status.as_str(),
                "requires_action" | "requires_confirmation" | "requires_payment_method"
            ) {
                self.cancel(&pi.id, &format!("{key}-{}", pi.id)).await;
            }
        }
        let Some(pick) = intents.first() else {
            return Ok(None);
        };
        // Read again: completed meanwhile, or cancelled now.
        let pi = self.payment_intent(&pick.id).await?;
        let was_waiting = matches!(
            pick.status.as_str(),
            "requires_action" | "requires_confirmation"
        );
        if was_waiting && pi.status == "canceled" {
            // Never authenticated: say so rather than a bare decline.
            return Ok(Some(ChargeOutcome::Declined(Decline::new(
                "authentication_required",
            ))));
        }
        // Not `can_act`: one still waiting is cancelled and declined.
        self.settle_intent(&pi, None, &key, false).await.map(Some)
    }

    async fn do_refund(
        &self,
        charge_id: String,
        amount: Money,
        key: String,
    ) -> Result<Refund, ProcessorError> {
        // Made before (a retry after a lost reply, or after Stripe forgot
        // the idempotency key, which it does after 24 hours; localstripe
        // never keeps them): answer with that refund, never a second one.
        if let Some(prior) = self.our_refund(&charge_id, &key).await? {
            return Ok(prior.to_refund(amount.currency));
        }
        let refund: Result<transformers::StripeRefund, Failure> = self
            .post(
                "/v1/refunds",
                &transformers::refund_form(&charge_id, amount.minor, &key),
                &key,
            )
            .await;
        match refund {
            Ok(r) => Ok(r.to_refund(amount.currency)),
            Err(Failure::Unavailable(m)) => Err(ProcessorError::Unavailable(m)),
            Err(Failure::Invalid(m) | Failure::Declined(m)) => {
                Err(ProcessorError::InvalidSource(m))
            }
        }
    }
}

impl PaymentProcessor for StripeProcessor {
    fn name(&self) -> &'static str {
        "stripe"
    }

    /// The key's fingerprint: the same account as long as the key is.
    fn account(&self) -> String {
        format!(
            "key_{}",
            &crate::crypto::sha256_hex(self.secret_key.as_bytes())[..16]
        )
    }

    fn charge(&self, req: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, ProcessorError>> {
        Box::pin(self.do_charge(req))
    }

    fn save_method(
        &self,
        token: String,
        processor_customer: Option<String>,
    ) -> BoxFuture<'_, Result<SaveOutcome, ProcessorError>> {
        Box::pin(self.do_save(token, processor_customer))
    }

    fn find_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        Box::pin(self.do_find(lookup))
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
        Box::pin(async move {
            let found = self.our_refund(&charge_id, &idempotency_key).await?;
            Ok(found.map(|r| r.to_refund(crate::domain::money::Currency::USD)))
        })
    }

    fn cancel_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        Box::pin(self.do_cancel(lookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let p = StripeProcessor::new("http://127.0.0.1:1/", "sk_test_abcdefghijklmnop4242");
        let shown = format!("{p:?}");
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(shown.contains("4242"));
        assert_eq!(p.api_base, "http://127.0.0.1:1");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // Port 9 on loopback: nothing listens, the connection is refused.
        let p = StripeProcessor::new("http://127.0.0.1:9", "sk_test_x");
        let r = p
            .find_charge(ChargeLookup::by_key(
                "att_1",
                time::OffsetDateTime::UNIX_EPOCH,
            ))
            .await;
        assert!(matches!(r, Err(ProcessorError::Unavailable(_))), "{r:?}");
    }
}
