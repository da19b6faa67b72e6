//! Creating companies and their first office user.

use crate::app::{Actor, Refusal};
use crate::domain::ids::{CompanyId, UserId};
use crate::domain::money::Currency;
use crate::store::companies::{self, NewCompany};
use crate::store::{Db, StoreError};

pub struct CreatedCompany {
    pub company_id: CompanyId,
    pub owner_id: UserId,
    pub api_key: String,
}

pub fn check_owner(email: &str, password: &str) -> anyhow::Result<()> {
    if !email.contains('@') || email.len() > 254 {
        anyhow::bail!("--owner-email must be an email address");
    }
    if let Err(why) = crate::auth::check_new_password(password) {
        anyhow::bail!("--owner-password: {why}");
    }
    Ok(())
}

/// Creates a company, its owner and its starter content (templates, alert
/// schedule, receipts: `app::starter`), as `company create` and `demo` do.
pub async fn create_company(
    db: &Db,
    company: &NewCompany,
    owner_email: &str,
    owner_password: &str,
) -> anyhow::Result<CreatedCompany> {
    create_company_with(db, company, owner_email, owner_password, true).await
}

/// `create_company`; `starter` false leaves out the starter content (a
/// company that sends nothing until told to: what the test suites build
/// their fixtures on, so each test sets up only what it exercises).
pub async fn create_company_with(
    db: &Db,
    company: &NewCompany,
    owner_email: &str,
    owner_password: &str,
    starter: bool,
) -> anyhow::Result<CreatedCompany> {
    check_owner(owner_email, owner_password)?;
    if company.name.trim().is_empty() {
        anyhow::bail!("--name must not be empty");
    }
    if !crate::domain::dates::is_known_zone(&company.time_zone) {
        anyhow::bail!("unknown time zone '{}'", company.time_zone);
    }
    let hash = crate::auth::hash_password(owner_password)?;
    let mut tx = db.begin_write().await?;
    let created = match write_company(&mut tx, company, owner_email, &hash, starter).await {
        Err(StoreError::Conflict) => {
            anyhow::bail!("an office user with email {owner_email} already exists")
        }
        other => other?,
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(created)
}

/// Who signs a company up in the browser, and what can go wrong.
#[derive(Debug)]
pub enum SignupError {
    /// `/setup` after the first company exists.
    Closed,
    /// A field to fix: its name and what to do.
    Invalid(&'static str, String),
    /// An office user with this email exists already.
    EmailTaken,
    Store(StoreError),
}

impl From<StoreError> for SignupError {
    fn from(e: StoreError) -> Self {
        SignupError::Store(e)
    }
}

/// What `/setup` and `/signup` send.
pub struct Signup<'a> {
    pub company_name: &'a str,
    pub owner_email: &'a str,
    pub owner_password: &'a str,
    pub time_zone: &'a str,
}

/// Creates a company and its owner from the browser. With `first_only`
/// (`/setup`), only while the database has no company: checked in the
/// transaction that creates it, so two first visitors cannot both succeed.
pub async fn sign_up(
    db: &Db,
    form: &Signup<'_>,
    first_only: bool,
) -> Result<CreatedCompany, SignupError> {
    let name =
        crate::domain::text::single_line("company_name", form.company_name, 200).map_err(|_| {
            SignupError::Invalid(
                "company_name",
                "Enter your company's name (one line).".into(),
            )
        })?;
    let email = crate::domain::contact::EmailAddress::parse("owner_email", form.owner_email)
        .map_err(|_| {
            SignupError::Invalid(
                "owner_email",
                "Enter your email address, like you@example.com.".into(),
            )
        })?
        .into_string()
        .to_ascii_lowercase();
    if let Err(why) = crate::auth::check_new_password(form.owner_password) {
        return Err(SignupError::Invalid("owner_password", why.to_string()));
    }
    let time_zone = form.time_zone.trim();
    if !crate::domain::dates::is_known_zone(time_zone) {
        return Err(SignupError::Invalid(
            "time_zone",
            "Choose your time zone from the list.".into(),
        ));
    }
    let company = NewCompany {
        time_zone: time_zone.to_string(),
        ..default_company(&name)
    };
    let hash = crate::auth::hash_password_async(form.owner_password.to_string())
        .await
        .map_err(|e| SignupError::Store(StoreError::Unavailable(e.to_string())))?;
    let mut tx = db.begin_write().await?;
    if first_only && companies::any(&mut tx).await? {
        return Err(SignupError::Closed);
    }
    let created = match write_company(&mut tx, &company, &email, &hash, true).await {
        Err(StoreError::Conflict) => return Err(SignupError::EmailTaken),
        other => other?,
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(created)
}

/// The company, its owner, its first API key and (with `starter`) its
/// starter content, in the caller's transaction.
async fn write_company(
    tx: &mut crate::store::Conn,
    company: &NewCompany,
    owner_email: &str,
    password_hash: &str,
    starter: bool,
) -> Result<CreatedCompany, StoreError> {
    let company_id = companies::create(tx, company).await?;
    let owner_id =
        companies::create_office_user(tx, &company_id, owner_email, password_hash, "owner").await?;
    let api_key = companies::issue_api_key(tx, &company_id, "default").await?;
    if starter {
        crate::app::starter::write(tx, &company_id).await?;
    }
    Ok(CreatedCompany {
        company_id,
        owner_id,
        api_key,
    })
}

/// Phone numbers stored before they were checked when written: each one
/// that parses (with its company's country) is rewritten in E.164; each one
/// that does not is left as it is and named in the log, for the office to
/// correct. Runs at every start; once all parse it finds nothing.
pub async fn normalize_stored_phones(db: &Db) -> Result<(usize, usize), StoreError> {
    use crate::domain::contact::PhoneNumber;
    let rows = crate::store::customers::phones_not_in_e164(db).await?;
    if rows.is_empty() {
        return Ok((0, 0));
    }
    let mut fixed = 0;
    let mut left = 0;
    let mut tx = db.begin_write().await?;
    for (company_id, country, customer_id, phone) in &rows {
        match PhoneNumber::parse("phone", phone, country) {
            Ok(e164) => {
                crate::store::customers::set_phone(&mut tx, customer_id, phone, e164.as_str())
                    .await?;
                fixed += 1;
            }
            Err(_) => {
                left += 1;
                tracing::warn!(
                    company = %company_id,
                    customer = %customer_id,
                    phone = %phone,
                    "this customer's phone number is not a phone number: SMS cannot reach it; correct it on the customer's page"
                );
            }
        }
    }
    tx.commit().await?;
    if fixed > 0 {
        tracing::info!(fixed, "customer phone numbers rewritten in E.164");
    }
    Ok((fixed, left))
}

pub fn default_company(name: &str) -> NewCompany {
    NewCompany {
        name: name.to_string(),
        phone: String::new(),
        email: String::new(),
        address: String::new(),
        currency: Currency::USD,
        time_zone: "America/Chicago".into(),
        country: crate::domain::contact::DEFAULT_REGION.into(),
    }
}

/// One item of the setup checklist on the dashboard.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChecklistItem {
    pub key: &'static str,
    pub label: &'static str,
    /// What is missing (or what was done), in words.
    pub detail: String,
    pub done: bool,
    /// The page where it is done.
    pub href: &'static str,
}

/// The setup checklist, each item ticked from the company's own data:
/// company details, payments, templates and alerts reviewed, customers,
/// the first payment link sent.
pub async fn checklist(
    app: &crate::app::App,
    actor: &Actor,
) -> Result<Vec<ChecklistItem>, Refusal> {
    actor.must_be_company()?;
    let f = crate::store::checklist::facts(&app.db, actor.company_id()).await?;
    let mut missing = Vec::new();
    if !f.has_address {
        missing.push("the mailing address customers send checks to");
    }
    if !f.has_phone {
        missing.push("the phone number customers call");
    }
    if !f.has_logo {
        missing.push("your logo");
    }
    Ok(vec![
        ChecklistItem {
            key: "company",
            label: "Company details",
            detail: if missing.is_empty() {
                "Address, phone and logo are set; check the time zone there too.".into()
            } else {
                format!("Add {} and choose your time zone.", missing.join(", "))
            },
            done: missing.is_empty(),
            href: "/office/settings/company",
        },
        ChecklistItem {
            key: "payments",
            label: "Payments",
            detail: if f.stripe {
                "Stripe is connected.".into()
            } else {
                "Payments go through the sandbox: no money moves. Add your Stripe keys (test keys first, then live).".into()
            },
            done: f.stripe,
            href: "/office/settings/processor",
        },
        ChecklistItem {
            key: "messages",
            label: "Templates and alert schedule",
            detail: if f.messages_reviewed {
                "Reviewed.".into()
            } else {
                "Starter emails, texts and reminders are ready: read them and change what you like."
                    .into()
            },
            done: f.messages_reviewed,
            href: "/office/settings/invoice-alerts",
        },
        ChecklistItem {
            key: "customers",
            label: "Customers",
            detail: if f.customers > 0 {
                format!(
                    "{} customer{} added.",
                    f.customers,
                    if f.customers == 1 { "" } else { "s" }
                )
            } else {
                "Import your customers from a spreadsheet (CSV) or add them one by one.".into()
            },
            done: f.customers > 0,
            href: "/office/import",
        },
        ChecklistItem {
            key: "first_link",
            label: "First payment link sent",
            detail: if f.link_sent {
                "Sent.".into()
            } else {
                "Open a customer and press \"Email invoice\" or \"Text payment link\".".into()
            },
            done: f.link_sent,
            href: "/office/customers",
        },
    ])
}

/// Records that the office read its templates and alert schedule (the
/// checklist's "Mark as reviewed").
pub async fn mark_reviewed(app: &crate::app::App, actor: &Actor) -> Result<(), Refusal> {
    actor.must_be_company()?;
    let mut tx = app.db.begin_write_for(actor.company_id()).await?;
    crate::store::audit::record(
        &mut tx,
        actor.company_id(),
        &actor.audit_name(),
        "setup.reviewed",
        actor.company_id(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
