//! Creating companies and their first office user.

use crate::domain::money::Currency;
use crate::store::companies::{self, NewCompany};
use crate::store::{Db, StoreError};

pub struct CreatedCompany {
    pub company_id: String,
    pub owner_id: String,
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

pub async fn create_company(
    db: &Db,
    company: &NewCompany,
    owner_email: &str,
    owner_password: &str,
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
    let company_id = companies::create(&mut tx, company).await?;
    let owner_id = match companies::create_office_user(
        &mut tx,
        &company_id,
        owner_email,
        &hash,
        "owner",
    )
    .await
    {
        Err(StoreError::Conflict) => {
            anyhow::bail!("an office user with email {owner_email} already exists")
        }
        other => other?,
    };
    let api_key = companies::issue_api_key(&mut tx, &company_id, "default").await?;
    tx.commit().await.map_err(StoreError::from)?;
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
