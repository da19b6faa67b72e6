//! Writing checked rows, each in its own savepoint (a batch of rows shares
//! one transaction, so one bad row undoes only itself).

use std::collections::{HashMap, HashSet};
use std::io::Read;

use time::Date;

use crate::app::invoices::IssueInvoice;
use crate::app::{Actor, App, Refusal};
use crate::domain::ids::{CompanyId, CustomerId, PropertyId};
use crate::store::customers::NewCustomer;
use crate::store::{Conn, StoreError, Tx, audit, companies};

use super::parse::*;
use super::{ImportError, ImportReport, Outcome, Progress, RowResult};
use crate::store::imports as sql;

/// Rows written per transaction (each in its own savepoint).
const BATCH: usize = 200;

// ---------------------------------------------------------------- writing

/// Batches rows into transactions; each row runs in its own savepoint.
struct Writer<'a> {
    app: &'a App,
    tx: Option<Tx>,
    in_batch: usize,
}

impl<'a> Writer<'a> {
    fn new(app: &'a App) -> Self {
        Writer {
            app,
            tx: None,
            in_batch: 0,
        }
    }

    async fn conn(&mut self) -> Result<&mut Tx, StoreError> {
        if self.tx.is_none() {
            self.tx = Some(self.app.db.begin_write().await?);
            self.in_batch = 0;
        }
        match self.tx.as_mut() {
            Some(tx) => Ok(tx),
            None => Err(StoreError::Unavailable("no transaction".into())),
        }
    }

    async fn row_done(&mut self) -> Result<(), StoreError> {
        self.in_batch += 1;
        if self.in_batch >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A row's failure: a message for the report, or a database error that stops
/// the import.
enum RowError {
    Row(String),
    Store(StoreError),
}

impl From<StoreError> for RowError {
    fn from(e: StoreError) -> Self {
        RowError::Store(e)
    }
}

impl From<Refusal> for RowError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Store(e) => RowError::Store(e),
            Refusal::NotFound => RowError::Row("a record this row names is not there.".into()),
            other => RowError::Row(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for RowError {
    fn from(e: sqlx::Error) -> Self {
        RowError::Store(e.into())
    }
}

/// Runs `work` in a savepoint of the writer's transaction: its writes stay
/// only if it returns `Ok`. Constraint errors become row failures.
macro_rules! in_savepoint {
    ($writer:expr, |$conn:ident| $body:expr) => {{
        let tx = $writer.conn().await?;
        crate::store::savepoint(tx, "import_row").await?;
        let result: Result<_, RowError> = {
            let $conn: &mut Conn = &mut **tx;
            $body
        };
        let result = match result {
            Ok(v) => {
                crate::store::release_savepoint(tx, "import_row").await?;
                Ok(v)
            }
            Err(e) => {
                crate::store::rollback_to_savepoint(tx, "import_row").await?;
                crate::store::release_savepoint(tx, "import_row").await?;
                match e {
                    RowError::Row(m) => Err(m),
                    RowError::Store(StoreError::Conflict) => Err(
                        "another record already uses one of this row's ids or numbers.".to_string(),
                    ),
                    RowError::Store(StoreError::Invalid) => Err(
                        "the values break a rule of the data (a reference or a limit).".to_string(),
                    ),
                    RowError::Store(e) => return Err(ImportError::Store(e)),
                }
            }
        };
        $writer.row_done().await?;
        result
    }};
}

fn result(line: u64, key: &str, name: &str, outcome: Outcome, message: &str) -> RowResult {
    RowResult {
        line,
        key: key.to_string(),
        name: name.to_string(),
        outcome,
        message: message.to_string(),
    }
}

/// Imports customers (and their service addresses) from CSV.
pub async fn import_customers(
    app: &App,
    company_id: &CompanyId,
    input: impl Read,
    actor: &str,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(ImportError::UnknownCompany)?;
    // The rows are written by the customers' and properties' own use cases,
    // as the company's import, named in the audit log as whoever started it.
    let who = Actor::system(company_id, actor);
    let (table, notes) = read_table(input, &["external_id", "name"], CUSTOMER_COLUMNS)?;
    let total = table.rows.len();
    let mut results: Vec<RowResult> = Vec::with_capacity(total);
    // Check every row first: bill-to references may point at later rows.
    let mut pending: Vec<(u64, CustomerRow)> = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut property_lines: HashMap<String, u64> = HashMap::new();
    for row in &table.rows {
        let key = row.get("external_id").to_string();
        let name = row.get("name").to_string();
        let parsed = parse_customer_row(row, &company.country).and_then(|c| {
            if let Some(first) = first_line.get(&c.external_id) {
                return Err(format!(
                    "external_id '{}' is already on line {first}; put each customer on one row.",
                    c.external_id
                ));
            }
            if let Some(p) = &c.property
                && let Some(first) = property_lines.get(&p.external_id)
            {
                return Err(format!(
                    "the service address id '{}' is already on line {first}; give each address its own property_external_id.",
                    p.external_id
                ));
            }
            Ok(c)
        });
        match parsed {
            Ok(c) => {
                first_line.insert(c.external_id.clone(), row.line);
                if let Some(p) = &c.property {
                    property_lines.insert(p.external_id.clone(), row.line);
                }
                pending.push((row.line, c));
            }
            Err(m) => results.push(result(row.line, &key, &name, Outcome::Failed, &m)),
        }
    }
    let mut done = results.len();
    progress(done, total);

    let mut writer = Writer::new(app);
    let in_file: HashSet<String> = pending.iter().map(|(_, c)| c.external_id.clone()).collect();
    // Lines of rows that failed, by external id.
    let mut failed_ids: HashMap<String, u64> = HashMap::new();
    for r in &results {
        if !in_file.contains(&r.key) {
            failed_ids.entry(r.key.clone()).or_insert(r.line);
        }
    }
    let mut written: HashSet<String> = HashSet::new();
    // Rows whose bill-to is ready go first; repeat until nothing moves.
    loop {
        let mut next = Vec::new();
        let mut moved = false;
        for (line, c) in std::mem::take(&mut pending) {
            let target = c.property.as_ref().and_then(|p| p.bill_to.clone());
            let ready = match &target {
                None => true,
                Some(t) => {
                    written.contains(t) || !in_file.contains(t) || failed_ids.contains_key(t)
                }
            };
            if !ready {
                next.push((line, c));
                continue;
            }
            moved = true;
            let outcome = in_savepoint!(writer, |conn| write_customer(app, conn, &who, &c).await);
            match outcome {
                Ok(o) => {
                    written.insert(c.external_id.clone());
                    results.push(result(line, &c.external_id, &c.name, o, ""));
                }
                Err(m) => {
                    failed_ids.entry(c.external_id.clone()).or_insert(line);
                    let m = match &target {
                        Some(t) if failed_ids.get(t).is_some_and(|l| *l != line) => format!(
                            "bill_to_external_id '{t}' is on line {}, which failed; fix that row first.",
                            failed_ids[t]
                        ),
                        _ => m,
                    };
                    results.push(result(line, &c.external_id, &c.name, Outcome::Failed, &m));
                }
            }
            done += 1;
            progress(done, total);
        }
        pending = next;
        if pending.is_empty() || !moved {
            break;
        }
    }
    for (line, c) in pending {
        let target = c
            .property
            .as_ref()
            .and_then(|p| p.bill_to.clone())
            .unwrap_or_default();
        results.push(result(
            line,
            &c.external_id,
            &c.name,
            Outcome::Failed,
            &format!("bill_to_external_id '{target}' leads back to this customer through other rows; break the loop."),
        ));
        done += 1;
        progress(done, total);
    }
    writer.flush().await?;
    finish(app, company_id, actor, "import.customers", notes, results).await
}

async fn finish(
    app: &App,
    company_id: &CompanyId,
    actor: &str,
    action: &str,
    notes: Vec<String>,
    mut results: Vec<RowResult>,
) -> Result<ImportReport, ImportError> {
    results.sort_by_key(|r| r.line);
    let mut report = ImportReport {
        notes,
        ..ImportReport::default()
    };
    for r in results {
        report.push(r);
    }
    let mut tx = app.db.begin_write_for(company_id).await?;
    audit::record(
        &mut tx,
        company_id,
        actor,
        action,
        company_id,
        serde_json::json!({
            "rows": report.rows, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "skipped": report.skipped, "failed": report.failed,
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(report)
}

async fn write_customer(
    app: &App,
    conn: &mut Conn,
    actor: &Actor,
    c: &CustomerRow,
) -> Result<Outcome, RowError> {
    let company_id = actor.company_id();
    let existing = sql::customer_by_external(conn, company_id, &c.external_id).await?;
    let mut outcome = Outcome::Unchanged;
    let customer_id = match existing {
        None => {
            let new = NewCustomer {
                name: c.name.clone(),
                email: c.email.clone().flatten(),
                phone: c.phone.clone().flatten(),
                billing_address: c.billing_address.clone().flatten(),
                language: c.language.flatten(),
            };
            let created = crate::app::customers::create_in(conn, app, actor, &new).await?;
            sql::set_customer_external(conn, company_id, &created.id, &c.external_id).await?;
            outcome = Outcome::Created;
            created.id
        }
        Some(e) => {
            let wanted = NewCustomer {
                name: c.name.clone(),
                email: c.email.clone().unwrap_or(e.email.clone()),
                phone: c.phone.clone().unwrap_or(e.phone.clone()),
                billing_address: c
                    .billing_address
                    .clone()
                    .unwrap_or(e.billing_address.clone()),
                language: c.language.unwrap_or(e.language),
            };
            if wanted.name != e.name
                || wanted.email != e.email
                || wanted.phone != e.phone
                || wanted.billing_address != e.billing_address
                || wanted.language != e.language
            {
                crate::app::customers::update_in(
                    conn,
                    actor,
                    &CustomerId::from(e.id.as_str()),
                    &wanted,
                )
                .await?;
                outcome = Outcome::Updated;
            }
            e.id.into()
        }
    };
    if let Some(p) = &c.property {
        let bill_to = match &p.bill_to {
            None => customer_id.clone(),
            Some(t) => sql::customer_id_by_external(conn, company_id, t)
                .await?
                .map(|(id, _)| crate::domain::ids::CustomerId::from(id))
                .ok_or_else(|| {
                    RowError::Row(format!(
                        "bill_to_external_id '{t}' matches no customer in this file or in fieldpay; check the id or add that customer."
                    ))
                })?,
        };
        match sql::property_by_external(conn, company_id, &p.external_id).await? {
            None => {
                let prop = crate::app::properties::create_in(
                    conn,
                    actor,
                    &p.address,
                    &customer_id,
                    &bill_to,
                )
                .await?;
                sql::set_property_external(conn, company_id, &prop.id, &p.external_id).await?;
                if outcome == Outcome::Unchanged {
                    outcome = Outcome::Updated;
                }
            }
            Some((id, address, resident, current_bill_to)) => {
                if resident != customer_id {
                    return Err(RowError::Row(format!(
                        "service address id '{}' belongs to another customer; give this address its own property_external_id.",
                        p.external_id
                    )));
                }
                if address != p.address || current_bill_to != bill_to {
                    crate::app::properties::update_in(
                        conn,
                        actor,
                        &PropertyId::from(id.as_str()),
                        &p.address,
                        &bill_to,
                    )
                    .await?;
                    if outcome == Outcome::Unchanged {
                        outcome = Outcome::Updated;
                    }
                }
            }
        }
    }
    Ok(outcome)
}

/// Imports invoices from CSV. Invoices whose number exists are skipped.
pub async fn import_invoices(
    app: &App,
    company_id: &CompanyId,
    input: impl Read,
    actor: &str,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(ImportError::UnknownCompany)?;
    let (table, notes) = read_table(input, &["number"], INVOICE_COLUMNS)?;
    let has_amount = ["lines", "total"]
        .iter()
        .any(|c| table.columns.iter().any(|k| k == c));
    let has_target = ["customer_external_id", "property_external_id"]
        .iter()
        .any(|c| table.columns.iter().any(|k| k == c));
    if !has_amount || !has_target || !table.columns.iter().any(|k| k == "due_date") {
        return Err(ImportError::File(format!(
            "The first line must name the columns number, due_date, customer_external_id or property_external_id, and lines or total. Columns fieldpay reads: {}.",
            INVOICE_COLUMNS.join(", ")
        )));
    }
    let digits = company.currency.minor_digits();
    let today = app.clock.today_in(&company.time_zone);
    let total = table.rows.len();
    let mut results = Vec::with_capacity(total);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut writer = Writer::new(app);
    for (done, row) in table.rows.iter().enumerate() {
        let key = row.get("number").to_string();
        let label = row.get("customer_external_id").to_string();
        let parsed = parse_invoice_row(row, digits).and_then(|inv| match seen.get(&inv.number) {
            Some(first) => Err(format!(
                "number '{}' is already on line {first}; each invoice needs its own number.",
                inv.number
            )),
            None => Ok(inv),
        });
        let r = match parsed {
            Err(m) => result(row.line, &key, &label, Outcome::Failed, &m),
            Ok(inv) => {
                seen.insert(inv.number.clone(), row.line);
                let outcome = in_savepoint!(writer, |conn| {
                    write_invoice(conn, &company, actor, today, &inv).await
                });
                match outcome {
                    Ok((o, name, message)) => result(row.line, &key, &name, o, &message),
                    Err(m) => result(row.line, &key, &label, Outcome::Failed, &m),
                }
            }
        };
        results.push(r);
        progress(done + 1, total);
    }
    writer.flush().await?;
    finish(app, company_id, actor, "import.invoices", notes, results).await
}

async fn write_invoice(
    conn: &mut Conn,
    company: &companies::Company,
    actor: &str,
    today: Date,
    inv: &InvoiceRow,
) -> Result<(Outcome, String, String), RowError> {
    let company_id = &company.id;
    if sql::invoice_exists(conn, company_id, &inv.number).await? {
        return Ok((
            Outcome::Skipped,
            inv.customer.clone().unwrap_or_default(),
            format!(
                "invoice {} already exists; it was left as it is.",
                inv.number
            ),
        ));
    }
    if let Some(ext) = &inv.external_id
        && let Some(number) = sql::invoice_external_taken(conn, company_id, ext).await?
    {
        return Err(RowError::Row(format!(
            "external_id '{ext}' is already used by invoice {number}; give this invoice its own."
        )));
    }
    let customer = match &inv.customer {
        None => None,
        Some(ext) => Some(
            sql::customer_id_by_external(conn, company_id, ext)
                .await?
                .ok_or_else(|| {
                    RowError::Row(format!(
                        "customer_external_id '{ext}' matches no customer; import the customers first or correct the id."
                    ))
                })?,
        ),
    };
    let (property_id, bill_to) = match (&inv.property, &customer) {
        (Some(ext), _) => {
            let (id, _, resident, bill_to) = sql::property_by_external(conn, company_id, ext)
                .await?
                .ok_or_else(|| {
                    RowError::Row(format!(
                        "property_external_id '{ext}' matches no service address; import the customers (with service_address) first or correct the id."
                    ))
                })?;
            if let Some((cid, _)) = &customer
                && *cid != resident
                && *cid != bill_to
            {
                return Err(RowError::Row(format!(
                    "property_external_id '{ext}' is not a service address of customer '{}'; correct one of them.",
                    inv.customer.clone().unwrap_or_default()
                )));
            }
            (id, bill_to)
        }
        (None, Some((cid, _))) => {
            let props =
                sql::properties_of(conn, company_id, &CustomerId::from(cid.as_str())).await?;
            let ext = inv.customer.clone().unwrap_or_default();
            match props.as_slice() {
                [(id, _, bill_to)] => (id.clone(), bill_to.clone()),
                [] => {
                    return Err(RowError::Row(format!(
                        "customer '{ext}' has no service address; add one (service_address in the customers import) or give property_external_id."
                    )));
                }
                many => {
                    return Err(RowError::Row(format!(
                        "customer '{ext}' has {} service addresses; say which with property_external_id.",
                        many.len()
                    )));
                }
            }
        }
        (None, None) => {
            return Err(RowError::Row(
                "customer_external_id and property_external_id are both empty; fill one.".into(),
            ));
        }
    };
    let name = sql::customer_name(conn, company_id, &CustomerId::from(bill_to.as_str())).await?;
    let issue = IssueInvoice {
        property_id: property_id.into(),
        number: Some(inv.number.clone()),
        issue_date: Some(inv.issue_date.unwrap_or(today).min(inv.due_date)),
        due_date: inv.due_date,
        lines: inv.lines.clone(),
    };
    let created = crate::app::invoices::issue_on(
        conn,
        &Actor::system(company_id, actor),
        company,
        today,
        &issue,
    )
    .await
    .map_err(|r| match r {
        Refusal::Store(e) => RowError::Store(e),
        Refusal::NotFound => RowError::Row(format!(
            "invoice {}: its service address is not one of this company's.",
            inv.number
        )),
        other => RowError::Row(format!("invoice {}: {other}", inv.number)),
    })?;
    if let Some(ext) = &inv.external_id {
        sql::set_invoice_external(conn, company_id, &created.id, ext).await?;
    }
    if inv.amount_paid > 0 {
        sql::apply_paid_elsewhere(conn, company_id, &created.id, inv.amount_paid).await?;
        audit::record(
            conn,
            company_id,
            actor,
            "invoice.imported_paid",
            &created.id,
            serde_json::json!({
                "number": inv.number,
                "amount_paid": inv.amount_paid,
                "currency": company.currency.code(),
            }),
        )
        .await?;
    }
    if let Some(next) = counter_after(&inv.number) {
        sql::bump_counter(conn, company_id, next).await?;
    }
    Ok((Outcome::Created, name, String::new()))
}
