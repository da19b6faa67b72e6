//! Creating companies and their first office user.

use crate::money::Currency;
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
    if !crate::dates::is_known_zone(&company.time_zone) {
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

pub fn default_company(name: &str) -> NewCompany {
    NewCompany {
        name: name.to_string(),
        phone: String::new(),
        email: String::new(),
        address: String::new(),
        currency: Currency::USD,
        time_zone: "America/Chicago".into(),
    }
}
