//! One processor that misbehaves on cue: it wraps a real processor (the
//! sandbox, or Stripe against localstripe) and, call by call, refuses a
//! request before it arrives, loses the reply after the real processor acted,
//! answers late, declines, or hides a charge from lookups for a while (as an
//! index that lags would). Tests swap it in with `Faulty::install`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldpay::app::App;
use fieldpay::money::Money;
use fieldpay::processor::{
    BoxFuture, ChargeLookup, ChargeOutcome, ChargeRequest, Decline, PaymentProcessor,
    ProcessorError, Refund, SaveOutcome,
};

/// Something a test runs at a point of a call (e.g. turning autopay off
/// while a run is charging).
pub type Hook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// What the next calls do; each count is used up one call at a time.
#[derive(Default)]
pub struct Script {
    /// Charges that fail before reaching the processor (nothing charged).
    pub refuse_charges: usize,
    /// Charges the processor makes, whose reply is then lost.
    pub lose_charge_replies: usize,
    /// Charges answered with this decline code, without charging.
    pub decline: Option<String>,
    /// How long each charge takes before it reaches the processor.
    pub charge_delay: Option<Duration>,
    /// Lookups that answer "no such charge" (a lagging index).
    pub hide_charges: usize,
    /// Lookups that fail (processor unreachable).
    pub unreachable_lookups: usize,
    /// Refunds that fail before reaching the processor.
    pub refuse_refunds: usize,
    /// Refunds the processor makes, whose reply is then lost.
    pub lose_refund_replies: usize,
    /// Run after each charge reaches the processor, before it answers.
    pub after_charge: Option<Hook>,
}

pub struct Faulty {
    inner: Arc<dyn PaymentProcessor>,
    pub script: Mutex<Script>,
    /// Charges that reached the real processor.
    pub charges: AtomicUsize,
    /// Refunds that reached the real processor.
    pub refunds: AtomicUsize,
}

fn take(n: &mut usize) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}

impl Faulty {
    pub fn new(inner: Arc<dyn PaymentProcessor>) -> Arc<Faulty> {
        Arc::new(Faulty {
            inner,
            script: Mutex::new(Script::default()),
            charges: AtomicUsize::new(0),
            refunds: AtomicUsize::new(0),
        })
    }

    /// `app` with the sandbox behind a `Faulty`: every company without
    /// Stripe charges through it.
    pub fn around_sandbox(app: &App) -> (App, Arc<Faulty>) {
        Faulty::install(app, Arc::new(app.sandbox.clone()))
    }

    /// `app` whose default processor is `inner` behind a `Faulty`.
    pub fn install(app: &App, inner: Arc<dyn PaymentProcessor>) -> (App, Arc<Faulty>) {
        let faulty = Faulty::new(inner);
        let app = App {
            processor: faulty.clone(),
            ..app.clone()
        };
        (app, faulty)
    }

    /// Changes the script.
    pub fn set(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.script.lock().unwrap());
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
        Box::pin(async move {
            let (refuse, lose, decline, delay, hook) = {
                let mut s = self.script.lock().unwrap();
                (
                    take(&mut s.refuse_charges),
                    take(&mut s.lose_charge_replies),
                    s.decline.clone(),
                    s.charge_delay,
                    s.after_charge.clone(),
                )
            };
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            if refuse {
                return Err(ProcessorError::Unavailable("connection refused".into()));
            }
            if let Some(code) = decline {
                return Ok(ChargeOutcome::Declined(Decline::new(&code)));
            }
            let outcome = self.inner.charge(req).await;
            self.charges.fetch_add(1, Ordering::SeqCst);
            if let Some(hook) = hook {
                hook().await;
            }
            if lose {
                return Err(ProcessorError::Unavailable("connection reset".into()));
            }
            outcome
        })
    }

    fn save_method(
        &self,
        token: String,
        processor_customer: Option<String>,
    ) -> BoxFuture<'_, Result<SaveOutcome, ProcessorError>> {
        self.inner.save_method(token, processor_customer)
    }

    fn find_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        Box::pin(async move {
            let (unreachable, hide) = {
                let mut s = self.script.lock().unwrap();
                (take(&mut s.unreachable_lookups), take(&mut s.hide_charges))
            };
            if unreachable {
                return Err(ProcessorError::Unavailable("connection refused".into()));
            }
            if hide {
                return Ok(None);
            }
            self.inner.find_charge(lookup).await
        })
    }

    fn cancel_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        self.inner.cancel_charge(lookup)
    }

    fn refund(
        &self,
        charge_id: String,
        amount: Money,
        key: String,
    ) -> BoxFuture<'_, Result<Refund, ProcessorError>> {
        Box::pin(async move {
            let (refuse, lose) = {
                let mut s = self.script.lock().unwrap();
                (
                    take(&mut s.refuse_refunds),
                    take(&mut s.lose_refund_replies),
                )
            };
            if refuse {
                return Err(ProcessorError::Unavailable("connection refused".into()));
            }
            let refund = self.inner.refund(charge_id, amount, key).await;
            self.refunds.fetch_add(1, Ordering::SeqCst);
            if lose {
                return Err(ProcessorError::Unavailable("connection reset".into()));
            }
            refund
        })
    }
}
