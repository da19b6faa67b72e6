//! The demo company: a handful of customers, a landlord billed for two rental
//! properties, open and overdue invoices. Seeding is idempotent.

use time::Duration;

use crate::app::invoices::IssueInvoice;
use crate::app::setup;
use crate::app::{Actor, App};
use crate::domain::LineInput;
use crate::domain::customer::CustomerInput;
use crate::domain::money::Currency;
use crate::store::companies::{self, NewCompany};
use crate::store::customers;
use crate::store::{Conn, StoreError};

pub const COMPANY_NAME: &str = "Greenleaf Pest Control";
pub const OFFICE_EMAIL: &str = "office@greenleaf.example";
pub const OFFICE_PASSWORD: &str = "greenleaf-demo-2026";

pub struct DemoInfo {
    pub company_id: crate::domain::ids::CompanyId,
    pub api_key: String,
    /// (customer name, quick-pay URL)
    pub links: Vec<(String, String)>,
}

struct Seeded {
    landlord: crate::domain::ids::CustomerId,
    homeowner: crate::domain::ids::CustomerId,
    tenant: crate::domain::ids::CustomerId,
}

/// Creates the demo company when missing; issues a fresh demo API key and
/// returns the quick-pay URLs.
pub async fn ensure(app: &App) -> anyhow::Result<DemoInfo> {
    let company_id = match companies::find_by_name(&app.db, COMPANY_NAME).await? {
        Some(id) => id,
        None => seed(app).await?,
    };
    let company = companies::get(&app.db, &company_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo company vanished"))?;
    let base = app.base_url(company.base_url.as_deref()).to_string();
    let mut tx = app.db.begin_write().await?;
    companies::revoke_api_keys_labelled(&mut tx, &company_id, "demo").await?;
    let api_key = companies::issue_api_key(&mut tx, &company_id, "demo").await?;
    let mut links = Vec::new();
    for c in customers::search(&app.db, &company_id, "", 50).await? {
        let link =
            crate::app::links::issue(&mut tx, &app.config.secret, &company_id, &c.id).await?;
        links.push((c.name, crate::domain::paylink::url(&base, &link.token)));
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(DemoInfo {
        company_id,
        api_key,
        links,
    })
}

async fn seed(app: &App) -> anyhow::Result<crate::domain::ids::CompanyId> {
    let company = NewCompany {
        name: COMPANY_NAME.into(),
        phone: "(512) 555-0142".into(),
        email: "billing@greenleaf.example".into(),
        address: "1200 Barton Springs Rd, Austin, TX 78704".into(),
        currency: Currency::USD,
        time_zone: "America/Chicago".into(),
        country: "US".into(),
    };
    let created = setup::create_company(&app.db, &company, OFFICE_EMAIL, OFFICE_PASSWORD).await?;
    let company_id = created.company_id;
    let today = app.clock.today_in(&company.time_zone);
    let demo = Actor::system(&company_id, "demo");
    let mut tx = app.db.begin_write().await?;
    let s = seed_customers(&mut tx, app, &demo).await?;
    let props = [
        // (address, resident, bill-to)
        (
            "418 Oak Hollow Dr, Austin, TX 78745",
            &s.landlord,
            &s.landlord,
        ),
        (
            "22 Riverside Ct, Unit B, Austin, TX 78741",
            &s.tenant,
            &s.landlord,
        ),
        ("915 Cedar Elm Ln, Austin, TX 78748", &s.tenant, &s.landlord),
        (
            "7 Lantana Way, Austin, TX 78704",
            &s.homeowner,
            &s.homeowner,
        ),
    ];
    let mut property_ids = Vec::new();
    for (address, resident, bill_to) in props {
        let p =
            crate::app::properties::create_in(&mut tx, &demo, address, resident, bill_to).await?;
        property_ids.push((p.id, p.bill_to_customer_id));
    }
    // (property, due in days from today, lines of (description, quantity, unit price))
    type DemoInvoice<'a> = (usize, i64, &'a [(&'a str, i64, i64)]);
    let invoices: [DemoInvoice; 6] = [
        (0, -20, &[("Quarterly pest control", 1, 8900)]),
        (
            1,
            -5,
            &[
                ("Quarterly pest control", 1, 8900),
                ("Rodent exclusion, garage", 1, 12600),
            ],
        ),
        (2, 10, &[("Termite inspection", 1, 7500)]),
        (2, 25, &[("Mosquito treatment", 2, 4500)]),
        (3, -35, &[("Bed bug heat treatment", 1, 45000)]),
        (
            3,
            14,
            &[
                ("Quarterly pest control", 1, 8900),
                ("Wasp nest removal", 1, 6500),
            ],
        ),
    ];
    let stored = companies::get(&app.db, &company_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo company vanished"))?;
    let actor = Actor::system(&company_id, "demo");
    for (prop, due_in, lines) in invoices {
        let lines: Vec<LineInput> = lines
            .iter()
            .map(|(d, q, p)| LineInput {
                description: d.to_string(),
                quantity: *q,
                unit_price: *p,
            })
            .collect();
        let (property_id, _) = &property_ids[prop];
        let issue = IssueInvoice {
            property_id: property_id.clone(),
            number: None,
            issue_date: Some(today + Duration::days(due_in - 30)),
            due_date: today + Duration::days(due_in),
            lines,
        };
        crate::app::invoices::issue_on(&mut tx, &actor, &stored, today, &issue)
            .await
            .map_err(|e| anyhow::anyhow!("demo invoice: {e}"))?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(company_id)
}

async fn seed_customers(tx: &mut Conn, app: &App, demo: &Actor) -> anyhow::Result<Seeded> {
    let mut make = async |name: &str, email: &str, phone: &str, address: &str| {
        let new = CustomerInput {
            name,
            email: Some(email),
            phone: Some(phone),
            billing_address: Some(address),
            language: None,
        }
        .check("US")
        .map_err(|e| anyhow::anyhow!("demo customer {name}: {e:?}"))?;
        anyhow::Ok(
            crate::app::customers::create_in(tx, app, demo, &new)
                .await?
                .id,
        )
    };
    let landlord = make(
        "Lena Landlord",
        "lena@example.com",
        "(512) 555-0101",
        "PO Box 1120, Austin, TX 78767",
    )
    .await?;
    let tenant = make(
        "Tom Tenant",
        "tom@example.com",
        "(512) 555-0102",
        "22 Riverside Ct, Unit B, Austin, TX 78741",
    )
    .await?;
    let homeowner = make(
        "Maria Homeowner",
        "maria@example.com",
        "(512) 555-0103",
        "7 Lantana Way, Austin, TX 78704",
    )
    .await?;
    Ok(Seeded {
        landlord,
        homeowner,
        tenant,
    })
}
