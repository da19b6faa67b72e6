//! Which processor account a company's payments go through, and the one
//! that made a record (an attempt, a payment, a refund).

use std::sync::Arc;

use crate::app::App;
use crate::domain::ids::CompanyId;
use crate::domain::processor::{PageProcessor, ProcessorKind};
use crate::processor::{PaymentProcessor, stripe};
use crate::store::{Conn, StoreError};

/// The processor a company's payments go through: its Stripe account when
/// it chose Stripe, else the app's default (the built-in sandbox).
pub async fn processor_for(
    app: &App,
    company_id: &CompanyId,
) -> Result<Arc<dyn PaymentProcessor>, StoreError> {
    let settings = crate::store::processor_settings::get(&app.db, company_id).await?;
    processor_from(app, company_id, settings)
}

/// `processor_for`, read on `conn`: a payment chooses its processor inside
/// the write job that writes its attempt, so a switch of processor is
/// applied before or after it, never between the choice and the attempt.
pub async fn processor_on(
    app: &App,
    conn: &mut Conn,
    company_id: &CompanyId,
) -> Result<Arc<dyn PaymentProcessor>, StoreError> {
    let settings = crate::store::processor_settings::get_on(conn, company_id).await?;
    processor_from(app, company_id, settings)
}

fn processor_from(
    app: &App,
    company_id: &CompanyId,
    settings: Option<crate::store::processor_settings::ProcessorSettings>,
) -> Result<Arc<dyn PaymentProcessor>, StoreError> {
    Ok(match stripe_from(app, company_id, settings)? {
        Some(s) => Arc::new(s),
        None => app.processor.clone(),
    })
}

/// The processor that made a record (an attempt, a payment, a refund), by
/// the kind and account recorded with it: the company's processor when it is
/// still that account, the built-in sandbox for sandbox records. `None` when
/// the company has moved to another account since (its key is gone): the
/// record cannot be asked about, and must not be asked of another account.
/// Records from before processors were recorded (no kind) go to the
/// company's current processor.
pub async fn processor_of(
    app: &App,
    company_id: &CompanyId,
    kind: Option<&str>,
    account: Option<&str>,
) -> Result<Option<Arc<dyn PaymentProcessor>>, StoreError> {
    if kind == Some(ProcessorKind::Sandbox.as_str()) {
        return Ok(Some(app.processor.clone()));
    }
    let current = processor_for(app, company_id).await?;
    let same = match (kind, account) {
        (None, _) => true,
        (Some(k), Some(a)) => current.name() == k && current.account() == a,
        (Some(k), None) => current.name() == k,
    };
    Ok(same.then_some(current))
}

/// The company's Stripe adapter, when it chose Stripe and its key opens.
pub async fn stripe_for(
    app: &App,
    company_id: &CompanyId,
) -> Result<Option<stripe::StripeProcessor>, StoreError> {
    let settings = crate::store::processor_settings::get(&app.db, company_id).await?;
    stripe_from(app, company_id, settings)
}

fn stripe_from(
    app: &App,
    company_id: &CompanyId,
    settings: Option<crate::store::processor_settings::ProcessorSettings>,
) -> Result<Option<stripe::StripeProcessor>, StoreError> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    if settings.kind != ProcessorKind::Stripe {
        return Ok(None);
    }
    let keys = app.config.processor_keys();
    let secret = settings
        .secret_key_sealed
        .as_deref()
        .and_then(|s| keys.open(company_id, s))
        .ok_or_else(|| {
            StoreError::Unavailable(
                "the company's Stripe key cannot be opened (was the server secret changed?)".into(),
            )
        })?;
    Ok(Some(stripe::StripeProcessor::new(
        &app.config.stripe_api_base,
        &secret,
    )))
}

/// The pay page's view of a company's processor (`processor_for` decides
/// the server side from the same settings).
pub async fn page_processor(
    app: &App,
    company_id: &CompanyId,
) -> Result<PageProcessor, StoreError> {
    let s = crate::store::processor_settings::get(&app.db, company_id).await?;
    Ok(PageProcessor::from_settings(
        s.as_ref().map(|s| s.kind),
        s.and_then(|s| s.publishable_key),
    ))
}
