//! `Faulty`: a processor double that wraps a real processor (the sandbox,
//! or any `PaymentProcessor`) and scripts what goes wrong, per kind of call:
//! a timeout before the processor hears of it, a reply lost after the
//! processor did the work, a slow answer, a refusal. It can also report
//! refunds in a status of its choosing (not finished, or failed later), and
//! logs every call with its idempotency key.
//!
//! ```ignore
//! let mut t = TestApp::new().await;
//! let f = Faulty::around_sandbox(&t);
//! f.install(&mut t); // the app's default processor (companies without Stripe)
//! f.script(Call::Refund, [Fault::Timeout, Fault::Timeout]);
//! // … the next two refund calls time out, later ones reach the sandbox.
//! assert_eq!(f.reached(Call::Refund).len(), 1);
//! ```
//!
//! It answers to the inner processor's name and account, so records it
//! makes are reconciled through it (`processor_of`). A lookup can be hidden
//! (`Fault::Hide`: "no such charge", as an index that lags would say), a
//! charge declined without reaching the processor, and a hook can run right
//! after a call reached the processor (`after_reaching`: autopay turned off
//! while a run is charging).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldpay::domain::money::Money;
use fieldpay::processor::{
    BoxFuture, ChargeLookup, ChargeOutcome, ChargeRequest, Decline, PaymentProcessor,
    ProcessorError, Refund, RefundStatus, SaveOutcome,
};

use super::TestApp;

/// A kind of call to the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    Charge,
    SaveMethod,
    FindCharge,
    Refund,
    FindRefund,
    CancelCharge,
}

/// What happens to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Times out before the processor hears of it: `Unavailable`, nothing
    /// happens there.
    Timeout,
    /// The processor does the work, then the reply is lost: `Unavailable`.
    LoseReply,
    /// The processor answers after this long (the answer passes through).
    Late(Duration),
    /// Refused (`InvalidSource` with this reason); nothing happens there.
    Refuse(String),
    /// A lookup (`FindCharge`) answers "no such charge" without asking: an
    /// index that has not caught up.
    Hide,
    /// A charge declined with this code; nothing happens there.
    Decline(String),
}

/// Something a test runs right after a call reached the processor.
pub type Hook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// One call as it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub call: Call,
    /// The idempotency key (the token for `SaveMethod`).
    pub key: String,
    /// The fault it met, if any.
    pub fault: Option<Fault>,
    /// Whether the inner processor received it.
    pub reached: bool,
}

pub struct Faulty {
    inner: Arc<dyn PaymentProcessor>,
    script: Mutex<HashMap<Call, VecDeque<Fault>>>,
    refund_status: Mutex<Option<RefundStatus>>,
    log: Mutex<Vec<Logged>>,
    hooks: Mutex<HashMap<Call, Hook>>,
}

impl Faulty {
    pub fn new(inner: Arc<dyn PaymentProcessor>) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner,
            script: Mutex::new(HashMap::new()),
            refund_status: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            hooks: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `hook` after each call of a kind reaches the processor, before
    /// it answers; `None` removes it.
    pub fn after_reaching(&self, call: Call, hook: Option<Hook>) {
        let mut hooks = self.hooks.lock().unwrap();
        match hook {
            Some(h) => hooks.insert(call, h),
            None => hooks.remove(&call),
        };
    }

    /// Around the test app's own sandbox.
    pub fn around_sandbox(t: &TestApp) -> Arc<Faulty> {
        Faulty::new(Arc::new(t.app.sandbox.clone()))
    }

    /// Makes it the app's default processor (what companies without Stripe
    /// go through), for the router and for `t.app` (the jobs).
    pub fn install(self: &Arc<Self>, t: &mut TestApp) {
        t.app.processor = self.clone();
        t.router = fieldpay::web::router(t.app.clone());
    }

    /// Queues faults for the next calls of a kind, in order (after any
    /// already queued); calls beyond them pass through.
    pub fn script(&self, call: Call, faults: impl IntoIterator<Item = Fault>) {
        self.script
            .lock()
            .unwrap()
            .entry(call)
            .or_default()
            .extend(faults);
    }

    /// Faults still queued for a kind of call.
    pub fn queued(&self, call: Call) -> usize {
        self.script
            .lock()
            .unwrap()
            .get(&call)
            .map(VecDeque::len)
            .unwrap_or(0)
    }

    /// From now on every refund answer (`refund`, `find_refund`) reports
    /// this status, as a processor that has not finished (`Pending`) or
    /// failed the refund later (`Failed`) would; `None`: the inner
    /// processor's own.
    pub fn report_refunds_as(&self, status: Option<RefundStatus>) {
        *self.refund_status.lock().unwrap() = status;
    }

    /// Every call so far, in order.
    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// How many calls of a kind were made.
    pub fn calls(&self, call: Call) -> usize {
        self.log().iter().filter(|l| l.call == call).count()
    }

    /// The keys of the calls of a kind that reached the inner processor.
    pub fn reached(&self, call: Call) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| l.call == call && l.reached)
            .map(|l| l.key)
            .collect()
    }

    /// The next fault of a kind, left queued.
    fn peek(&self, call: Call) -> Option<Fault> {
        self.script
            .lock()
            .unwrap()
            .get(&call)
            .and_then(|q| q.front().cloned())
    }

    fn next_fault(&self, call: Call) -> Option<Fault> {
        self.script
            .lock()
            .unwrap()
            .get_mut(&call)
            .and_then(VecDeque::pop_front)
    }

    fn note(&self, call: Call, key: &str, fault: &Option<Fault>, reached: bool) {
        self.log.lock().unwrap().push(Logged {
            call,
            key: key.to_string(),
            fault: fault.clone(),
            reached,
        });
    }

    /// Runs `work` (the inner processor's call) through the call's fault.
    async fn around<T>(
        &self,
        call: Call,
        key: String,
        work: BoxFuture<'_, Result<T, ProcessorError>>,
    ) -> Result<T, ProcessorError> {
        let fault = self.next_fault(call);
        match &fault {
            Some(Fault::Timeout) => {
                self.note(call, &key, &fault, false);
                return Err(ProcessorError::Unavailable("timed out (scripted)".into()));
            }
            Some(Fault::Refuse(why)) => {
                self.note(call, &key, &fault, false);
                return Err(ProcessorError::InvalidSource(why.clone()));
            }
            Some(Fault::Late(wait)) => tokio::time::sleep(*wait).await,
            Some(Fault::LoseReply) | None => {}
            // Kinds that answer without asking (`hidden`, `declined`).
            Some(Fault::Hide) | Some(Fault::Decline(_)) => {}
        }
        self.note(call, &key, &fault, true);
        let answer = work.await;
        let hook = self.hooks.lock().unwrap().get(&call).cloned();
        if let Some(hook) = hook {
            hook().await;
        }
        if fault == Some(Fault::LoseReply) {
            return Err(ProcessorError::Unavailable(
                "connection reset (scripted)".into(),
            ));
        }
        answer
    }

    fn restate(&self, mut r: Refund) -> Refund {
        if let Some(status) = self.refund_status.lock().unwrap().clone() {
            r.status = status;
        }
        r
    }
}

impl PaymentProcessor for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn account(&self) -> String {
        self.inner.account()
    }

    fn charge(&self, req: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, ProcessorError>> {
        let key = req.idempotency_key.clone();
        if let Some(Fault::Decline(code)) = self.peek(Call::Charge) {
            self.next_fault(Call::Charge);
            self.note(
                Call::Charge,
                &key,
                &Some(Fault::Decline(code.clone())),
                false,
            );
            return Box::pin(async move { Ok(ChargeOutcome::Declined(Decline::new(&code))) });
        }
        Box::pin(self.around(Call::Charge, key, self.inner.charge(req)))
    }

    fn save_method(
        &self,
        token: String,
        processor_customer: Option<String>,
    ) -> BoxFuture<'_, Result<SaveOutcome, ProcessorError>> {
        let key = token.clone();
        Box::pin(self.around(
            Call::SaveMethod,
            key,
            self.inner.save_method(token, processor_customer),
        ))
    }

    fn find_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        let key = lookup.idempotency_key.clone();
        if self.peek(Call::FindCharge) == Some(Fault::Hide) {
            self.next_fault(Call::FindCharge);
            self.note(Call::FindCharge, &key, &Some(Fault::Hide), false);
            return Box::pin(async { Ok(None) });
        }
        Box::pin(self.around(Call::FindCharge, key, self.inner.find_charge(lookup)))
    }

    fn refund(
        &self,
        charge_id: String,
        amount: Money,
        key: String,
    ) -> BoxFuture<'_, Result<Refund, ProcessorError>> {
        Box::pin(async move {
            let r = self
                .around(
                    Call::Refund,
                    key.clone(),
                    self.inner.refund(charge_id, amount, key),
                )
                .await?;
            Ok(self.restate(r))
        })
    }

    fn find_refund(
        &self,
        charge_id: String,
        key: String,
    ) -> BoxFuture<'_, Result<Option<Refund>, ProcessorError>> {
        Box::pin(async move {
            let r = self
                .around(
                    Call::FindRefund,
                    key.clone(),
                    self.inner.find_refund(charge_id, key),
                )
                .await?;
            Ok(r.map(|r| self.restate(r)))
        })
    }

    fn cancel_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        let key = lookup.idempotency_key.clone();
        Box::pin(self.around(Call::CancelCharge, key, self.inner.cancel_charge(lookup)))
    }
}
