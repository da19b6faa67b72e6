//! Turning a customer's autopay on and off: one use case each, whoever asks
//! — the office, the API, the customer on the payment link or in the portal.
//! (Enrolling while paying is part of the payment: `payments::pay`.)

use serde_json::json;

use crate::app::{Actor, App, Problem, Refusal, Rejected};
use crate::domain::autopay as rules;
use crate::domain::autopay_consent_text;
use crate::domain::i18n::{Lang, t};
use crate::domain::ids::{AutopayEnrollmentId, CardId, CustomerId, PropertyId};
use crate::domain::paylink::{audit_ref, token_hash};
use crate::store::autopay as store;
use crate::store::payments::{self as pay_store, Consent};
use crate::store::{Conn, audit, companies, customers};

/// Longest note on how a customer gave consent to the office.
pub const NOTE_MAX: usize = 500;

/// Where an autopay change came from, as enrollments and the audit log name
/// it (the payment channels' words).
pub fn channel(actor: &Actor) -> &'static str {
    match actor {
        Actor::Office { .. } => "office",
        Actor::Api { .. } => "api",
        Actor::PayLink { .. } => "quick_pay",
        Actor::Portal { .. } => "portal",
        Actor::System { .. } => "system",
    }
}

/// What the customer (or the office, for them) asked for.
#[derive(Debug, Clone, Default)]
pub struct EnrollRequest<'a> {
    /// One of the customer's saved cards.
    pub method_id: &'a str,
    /// The authorization was ticked: by the customer, or by the office
    /// confirming the customer gave it.
    pub consent: bool,
    /// Where the consent was given.
    pub ip: String,
    pub user_agent: String,
    /// How and when the customer gave consent, when the company records it
    /// for them (office, API): required there, ignored for customers.
    pub note: Option<&'a str>,
    /// The language the authorization was shown in; `None`: the customer's,
    /// else the company's default.
    pub language: Option<Lang>,
}

/// An enrollment made.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub enrollment_id: AutopayEnrollmentId,
    pub method_id: CardId,
    pub brand: String,
    pub last4: String,
}

/// Enrolls the customer in autopay with one of their saved cards (replacing
/// any enrollment). The consent's exact text is stored with the time, the
/// client address, the user agent and the channel; invoices due from today
/// (in the company's time zone) on are charged. Every field in error is
/// named.
pub async fn enroll(
    app: &App,
    actor: &Actor,
    customer_id: &CustomerId,
    req: &EnrollRequest<'_>,
) -> Result<Enrolled, Rejected> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    let db = &app.db;
    let company = companies::get(db, company_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    let Some(customer) = customers::get(db, company_id, customer_id).await? else {
        return Err(Refusal::NotFound.into());
    };
    let lang = req
        .language
        .or(customer.language)
        .unwrap_or(company.language);
    let for_customer = actor.customer_id().is_some();
    // The office reads English; the customer, their language.
    let words = if for_customer { lang } else { Lang::En };
    let today = app.clock.today_in(&company.time_zone);
    let mut problems = Vec::new();
    let mut problem = |field, message: &str| {
        problems.push(Problem {
            field,
            code: "invalid_field",
            message: message.to_string(),
        })
    };
    let method = match req.method_id.trim() {
        "" => None,
        id => pay_store::saved_method(db, company_id, customer_id, &CardId::from(id)).await?,
    };
    match &method {
        None if for_customer => problem("method_id", &t(words, "autopay-choose-card")),
        None => problem("method_id", "Choose one of the customer's saved cards."),
        Some(m) if rules::is_expired(m.exp_month, m.exp_year, today) => {
            problem("method_id", &t(words, "autopay-card-expired"))
        }
        Some(_) => {}
    }
    if !req.consent {
        if for_customer {
            problem("consent", &t(words, "autopay-tick-consent"));
        } else {
            problem(
                "consent",
                "Tick the box to confirm the customer gave this authorization.",
            );
        }
    }
    let note = if for_customer {
        None
    } else {
        let note = req.note.unwrap_or("").trim();
        if note.is_empty() {
            problem(
                "note",
                "Say how and when the customer gave consent, e.g. \u{201c}by phone, Nov 28\u{201d}.",
            );
        } else if note.chars().count() > NOTE_MAX {
            problem("note", &format!("Keep it under {NOTE_MAX} characters."));
        } else if let Err(e) = crate::domain::text::single_line("note", note, NOTE_MAX) {
            problem("note", &e.message);
        }
        Some(note)
    };
    let Some(method) = method.filter(|_| problems.is_empty()) else {
        return Err(Rejected::Fields(problems));
    };
    let consent = Consent {
        text: autopay_consent_text(lang, &company.name, &company.phone),
        ip: req.ip.clone(),
        user_agent: req.user_agent.clone(),
        channel: channel(actor).to_string(),
        starts_on: today,
    };
    let mut tx = db.begin_write_for(actor.company_id()).await?;
    let enrollment_id = enroll_in(&mut tx, actor, customer_id, &method.id, &consent, note).await?;
    tx.commit().await?;
    Ok(Enrolled {
        enrollment_id,
        method_id: method.id,
        brand: method.brand,
        last4: method.last4,
    })
}

/// The enrollment itself, inside the caller's transaction, for a card and a
/// consent already checked: replaces any enrollment, records who enrolled
/// the customer (an office user, the API) and the audit entry. `enroll`
/// comes here, and so can the payment that saves a card and enrolls.
pub async fn enroll_in(
    conn: &mut Conn,
    actor: &Actor,
    customer_id: &CustomerId,
    method_id: &CardId,
    consent: &Consent,
    note: Option<&str>,
) -> Result<AutopayEnrollmentId, Refusal> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    let enrolled_by = match actor {
        Actor::Office { user_id, .. } => Some(user_id.to_string()),
        Actor::Api { .. } => Some("api".to_string()),
        _ => None,
    };
    let enrollment_id = store::enroll(
        conn,
        company_id,
        customer_id,
        method_id,
        consent,
        enrolled_by.as_deref(),
        note,
    )
    .await?;
    let mut detail = json!({
        "enrollment": enrollment_id, "method": method_id, "channel": consent.channel,
    });
    if let Some(note) = note {
        detail["consent_note"] = json!(note);
    }
    audit::record(
        conn,
        company_id,
        &actor.audit_name(),
        "autopay.enrolled",
        customer_id,
        detail,
    )
    .await?;
    Ok(enrollment_id)
}

/// Turns the customer's autopay off; `true` when it was on (and the change
/// is audited), `false` when it was already off. A customer on their
/// payment link is audited by the link's hash prefix, never the token.
pub async fn cancel(app: &App, actor: &Actor, customer_id: &CustomerId) -> Result<bool, Refusal> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    if !customers::all_belong(&mut tx, company_id, &[customer_id]).await? {
        return Err(Refusal::NotFound);
    }
    let was_on = cancel_in(&mut tx, app, actor, customer_id, None).await?;
    tx.commit().await?;
    Ok(was_on)
}

/// `cancel` inside the caller's transaction; with `on_method`, only if
/// autopay charges that card (it is being removed). Every "autopay off"
/// goes through here: one store write, one audit entry.
pub async fn cancel_in(
    conn: &mut Conn,
    app: &App,
    actor: &Actor,
    customer_id: &CustomerId,
    on_method: Option<&CardId>,
) -> Result<bool, Refusal> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    if !store::cancel(conn, company_id, customer_id, on_method).await? {
        return Ok(false);
    }
    let mut detail = json!({ "channel": channel(actor) });
    if let Some(method) = on_method {
        detail["method"] = json!(method);
        detail["reason"] = json!("card_removed");
    }
    if let Actor::PayLink { .. } = actor
        && let Some(l) =
            crate::app::links::shown(app.db.reader(), &app.config.secret, company_id, customer_id)
                .await?
    {
        detail["link"] = json!(audit_ref(&token_hash(&l.token)));
    }
    audit::record(
        conn,
        company_id,
        &actor.audit_name(),
        "autopay.cancelled",
        customer_id,
        detail,
    )
    .await?;
    Ok(true)
}

/// Chooses the card autopay charges for each property billed to the
/// customer: `(property id, saved card id)`, `None` (or the enrollment's own
/// card) for the enrollment's card. Properties not named keep their card.
/// Answers how many properties changed.
pub async fn set_property_cards(
    app: &App,
    actor: &Actor,
    customer_id: &CustomerId,
    chosen: &[(String, Option<String>)],
) -> Result<usize, Rejected> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    let db = &app.db;
    if customers::get(db, company_id, customer_id).await?.is_none() {
        return Err(Refusal::NotFound.into());
    }
    let Some(enrollment) = store::enrollment(db.reader(), company_id, customer_id).await? else {
        return Err(Refusal::conflict(
            "autopay_off",
            "Turn autopay on before choosing cards for properties.",
        )
        .into());
    };
    let cards: Vec<CardId> = pay_store::saved_methods(db, company_id, customer_id)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let properties =
        store::property_cards(db, company_id, customer_id, Some(&enrollment.id)).await?;
    let mut changes: Vec<(&PropertyId, Option<&str>)> = Vec::new();
    for p in &properties {
        let Some((_, wanted)) = chosen.iter().find(|(id, _)| *id == p.property_id) else {
            continue;
        };
        let wanted = wanted
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty() && *m != enrollment.method_id);
        if let Some(m) = wanted
            && !cards.iter().any(|c| c == m)
        {
            return Err(Rejected::field(
                "properties",
                "Choose one of the customer's saved cards for each property.",
            ));
        }
        if wanted != p.method_id.as_deref() {
            changes.push((&p.property_id, wanted));
        }
    }
    let set_by = match actor {
        Actor::Office { user_id, .. } => user_id.to_string(),
        other => other.audit_name(),
    };
    let mut tx = db.begin_write_for(actor.company_id()).await?;
    for (property_id, method_id) in &changes {
        store::set_property_card(
            &mut tx,
            company_id,
            &enrollment.id,
            property_id,
            method_id.map(CardId::from).as_ref(),
            &set_by,
        )
        .await?;
        audit::record(
            &mut tx,
            company_id,
            &actor.audit_name(),
            "autopay.property_card",
            customer_id,
            json!({"enrollment": enrollment.id, "property": property_id, "method": method_id}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changes.len())
}

/// Saves the company's autopay settings; every template chosen must be one
/// of the company's.
pub async fn save_settings(app: &App, actor: &Actor, s: &store::Settings) -> Result<(), Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    if !store::templates_belong(&mut tx, company_id, &s.templates).await? {
        return Err(Rejected::coded(
            "templates",
            "unknown_template",
            "That template is not one of this company's templates.",
        ));
    }
    store::save_settings(&mut tx, company_id, s, app.clock.now()).await?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "autopay_settings.update",
        company_id,
        json!({
            "timing": s.timing.key(),
            "days_after_issue": match s.timing {
                rules::Timing::AfterIssue(d) => d,
                rules::Timing::DueDate => 0,
            },
            "charge_hour": s.charge_hour,
            "grouping": s.grouping.key(),
            "retry_days": rules::format_retry_days(&s.retry_days),
            "notice_days": s.notice_days,
            "templates": s.templates,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
