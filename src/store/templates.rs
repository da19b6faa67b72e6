//! A company's email and SMS templates. Sources are checked by
//! `crate::messaging::template::validate` before they reach these functions.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Conn, Db, StoreResult};
use crate::domain::i18n::Lang;
use crate::domain::ids::{CompanyId, EmailTemplateId, SmsTemplateId};
use crate::domain::message::{EmailTranslations, SmsTranslations, TemplateEmail};

#[derive(Debug, Clone, Serialize)]
pub struct EmailTemplate {
    pub id: EmailTemplateId,
    pub name: String,
    pub subject: String,
    pub html_body: String,
    pub text_body: Option<String>,
    /// Attach the invoice's PDF when the message is about an invoice.
    pub attach_invoice_pdf: bool,
    /// The subject and bodies in other languages (`es`).
    pub translations: EmailTranslations,
    /// The company's default email template (what sending uses when none
    /// is chosen).
    pub is_default: bool,
    #[serde(skip)]
    pub created_at: OffsetDateTime,
    #[serde(skip)]
    pub updated_at: OffsetDateTime,
}

impl EmailTemplate {
    /// The sources, for rendering.
    pub fn source(&self) -> TemplateEmail {
        TemplateEmail {
            subject: self.subject.clone(),
            html_body: self.html_body.clone(),
            text_body: self.text_body.clone(),
        }
    }

    /// The sources in `lang` where the template has them, else the main ones.
    pub fn source_for(&self, lang: Lang) -> TemplateEmail {
        self.translations
            .get(&lang)
            .cloned()
            .unwrap_or_else(|| self.source())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SmsTemplate {
    pub id: SmsTemplateId,
    pub name: String,
    pub body: String,
    /// The body in other languages (`es`).
    pub translations: SmsTranslations,
    /// The company's default SMS template.
    pub is_default: bool,
    #[serde(skip)]
    pub created_at: OffsetDateTime,
    #[serde(skip)]
    pub updated_at: OffsetDateTime,
}

impl SmsTemplate {
    /// The body in `lang` where the template has it, else the main one.
    pub fn body_for(&self, lang: Lang) -> &str {
        self.translations
            .get(&lang)
            .map_or(self.body.as_str(), |t| t.body.as_str())
    }
}

/// A stored `translations` column (JSON) as its map.
fn translations_of<T: serde::de::DeserializeOwned>(row: &crate::store::sql::Row) -> StoreResult<T> {
    let json: String = row.try_get("translations")?;
    serde_json::from_str(&json).map_err(|_| super::StoreError::Invalid)
}

fn translations_json<T: Serialize>(t: &T) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "{}".to_string())
}

/// What an email template is made of, for create and update.
#[derive(Debug, Clone)]
pub struct EmailFields<'a> {
    pub name: &'a str,
    pub subject: &'a str,
    pub html_body: &'a str,
    pub text_body: Option<&'a str>,
    pub attach_invoice_pdf: bool,
    pub translations: &'a EmailTranslations,
}

fn email_from_row(row: &crate::store::sql::Row) -> StoreResult<EmailTemplate> {
    Ok(EmailTemplate {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        subject: row.try_get("subject")?,
        html_body: row.try_get("html_body")?,
        text_body: row.try_get("text_body")?,
        attach_invoice_pdf: row.try_get::<i64, _>("attach_invoice_pdf")? != 0,
        translations: translations_of(row)?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn sms_from_row(row: &crate::store::sql::Row) -> StoreResult<SmsTemplate> {
    Ok(SmsTemplate {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        body: row.try_get("body")?,
        translations: translations_of(row)?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// One kind of template (email or SMS): its table, the columns a read
/// selects and how a row becomes the template. The reads below are written
/// once for both.
struct Kind<T> {
    table: &'static str,
    columns: &'static str,
    from_row: fn(&crate::store::sql::Row) -> StoreResult<T>,
}

const EMAIL: Kind<EmailTemplate> = Kind {
    table: "email_templates",
    columns: "id, name, subject, html_body, text_body, attach_invoice_pdf, translations,
    is_default, created_at, updated_at",
    from_row: email_from_row,
};

const SMS: Kind<SmsTemplate> = Kind {
    table: "sms_templates",
    columns: "id, name, body, translations, is_default, created_at, updated_at",
    from_row: sms_from_row,
};

impl<T> Kind<T> {
    async fn get(&self, db: &Db, company_id: &CompanyId, id: &str) -> StoreResult<Option<T>> {
        let row = crate::store::sql::query(super::dynamic_sql(format!(
            "SELECT {} FROM {} WHERE company_id = $1 AND id = $2",
            self.columns, self.table
        )))
        .bind(company_id)
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
        row.as_ref().map(self.from_row).transpose()
    }

    async fn list(&self, db: &Db, company_id: &CompanyId) -> StoreResult<Vec<T>> {
        let rows = crate::store::sql::query(super::dynamic_sql(format!(
            "SELECT {} FROM {} WHERE company_id = $1
         ORDER BY lower(name), name, id",
            self.columns, self.table
        )))
        .bind(company_id)
        .fetch_all(db.reader())
        .await?;
        rows.iter().map(self.from_row).collect()
    }

    async fn default(&self, db: &Db, company_id: &CompanyId) -> StoreResult<Option<T>> {
        let row = crate::store::sql::query(super::dynamic_sql(format!(
            "SELECT {} FROM {} WHERE company_id = $1 AND is_default = 1",
            self.columns, self.table
        )))
        .bind(company_id)
        .fetch_optional(db.reader())
        .await?;
        row.as_ref().map(self.from_row).transpose()
    }

    /// Deletes a template; `false` when it is not the company's.
    async fn delete(&self, conn: &mut Conn, company_id: &CompanyId, id: &str) -> StoreResult<bool> {
        let done = crate::store::sql::query(super::dynamic_sql(format!(
            "DELETE FROM {} WHERE company_id = $1 AND id = $2",
            self.table
        )))
        .bind(company_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Makes the template the company's default (`true`) or no longer its
    /// default (`false`); another default stops being one.
    async fn set_default(
        &self,
        conn: &mut Conn,
        company_id: &CompanyId,
        id: &str,
        default: bool,
    ) -> StoreResult<()> {
        if default {
            crate::store::sql::query(super::dynamic_sql(format!(
                "UPDATE {} SET is_default = 0
             WHERE company_id = $1 AND is_default = 1 AND id <> $2",
                self.table
            )))
            .bind(company_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        crate::store::sql::query(super::dynamic_sql(format!(
            "UPDATE {} SET is_default = $3 WHERE company_id = $1 AND id = $2",
            self.table
        )))
        .bind(company_id)
        .bind(id)
        .bind(i64::from(default))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------- email

pub async fn create_email(
    conn: &mut Conn,
    company_id: &CompanyId,
    f: &EmailFields<'_>,
) -> StoreResult<EmailTemplate> {
    let id = EmailTemplateId::new();
    let at = conn.now();
    crate::store::sql::query(
        "INSERT INTO email_templates
         (id, company_id, name, subject, html_body, text_body, attach_invoice_pdf, created_at,
          updated_at, translations)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(f.name)
    .bind(f.subject)
    .bind(f.html_body)
    .bind(f.text_body)
    .bind(i64::from(f.attach_invoice_pdf))
    .bind(at)
    .bind(at)
    .bind(translations_json(f.translations))
    .execute(&mut *conn)
    .await?;
    Ok(EmailTemplate {
        id,
        name: f.name.to_string(),
        subject: f.subject.to_string(),
        html_body: f.html_body.to_string(),
        text_body: f.text_body.map(str::to_string),
        attach_invoice_pdf: f.attach_invoice_pdf,
        translations: f.translations.clone(),
        is_default: false,
        created_at: at,
        updated_at: at,
    })
}

pub async fn get_email(
    db: &Db,
    company_id: &CompanyId,
    id: &EmailTemplateId,
) -> StoreResult<Option<EmailTemplate>> {
    EMAIL.get(db, company_id, id).await
}

pub async fn list_email(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<EmailTemplate>> {
    EMAIL.list(db, company_id).await
}

/// Replaces an email template's fields; `None` when it is not the company's.
pub async fn update_email(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &EmailTemplateId,
    f: &EmailFields<'_>,
) -> StoreResult<Option<EmailTemplate>> {
    let row = crate::store::sql::query(super::dynamic_sql(format!(
        "UPDATE email_templates SET name = $1, subject = $2, html_body = $3, text_body = $4,
         updated_at = $5, attach_invoice_pdf = $8, translations = $9
         WHERE company_id = $6 AND id = $7
         RETURNING {}",
        EMAIL.columns
    )))
    .bind(f.name)
    .bind(f.subject)
    .bind(f.html_body)
    .bind(f.text_body)
    .bind(conn.now())
    .bind(company_id)
    .bind(id)
    .bind(i64::from(f.attach_invoice_pdf))
    .bind(translations_json(f.translations))
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(email_from_row).transpose()
}

/// Deletes an email template; `false` when it is not the company's.
pub async fn delete_email(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &EmailTemplateId,
) -> StoreResult<bool> {
    EMAIL.delete(conn, company_id, id).await
}

// ---------------------------------------------------------------- sms

pub async fn create_sms(
    conn: &mut Conn,
    company_id: &CompanyId,
    name: &str,
    body: &str,
    translations: &SmsTranslations,
) -> StoreResult<SmsTemplate> {
    let id = SmsTemplateId::new();
    let at = conn.now();
    crate::store::sql::query(
        "INSERT INTO sms_templates (id, company_id, name, body, created_at, updated_at,
         translations) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(name)
    .bind(body)
    .bind(at)
    .bind(at)
    .bind(translations_json(translations))
    .execute(&mut *conn)
    .await?;
    Ok(SmsTemplate {
        id,
        name: name.to_string(),
        body: body.to_string(),
        translations: translations.clone(),
        is_default: false,
        created_at: at,
        updated_at: at,
    })
}

pub async fn get_sms(
    db: &Db,
    company_id: &CompanyId,
    id: &SmsTemplateId,
) -> StoreResult<Option<SmsTemplate>> {
    SMS.get(db, company_id, id).await
}

pub async fn list_sms(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<SmsTemplate>> {
    SMS.list(db, company_id).await
}

/// Replaces an SMS template's name and body; `None` when it is not the company's.
pub async fn update_sms(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &SmsTemplateId,
    name: &str,
    body: &str,
    translations: &SmsTranslations,
) -> StoreResult<Option<SmsTemplate>> {
    let row = crate::store::sql::query(super::dynamic_sql(format!(
        "UPDATE sms_templates SET name = $1, body = $2, updated_at = $3, translations = $6
         WHERE company_id = $4 AND id = $5 RETURNING {}",
        SMS.columns
    )))
    .bind(name)
    .bind(body)
    .bind(conn.now())
    .bind(company_id)
    .bind(id)
    .bind(translations_json(translations))
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(sms_from_row).transpose()
}

/// Deletes an SMS template; `false` when it is not the company's.
pub async fn delete_sms(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &SmsTemplateId,
) -> StoreResult<bool> {
    SMS.delete(conn, company_id, id).await
}

// ---------------------------------------------------------------- defaults

/// The company's default email template, if it has one.
pub async fn default_email(db: &Db, company_id: &CompanyId) -> StoreResult<Option<EmailTemplate>> {
    EMAIL.default(db, company_id).await
}

/// The company's default SMS template, if it has one.
pub async fn default_sms(db: &Db, company_id: &CompanyId) -> StoreResult<Option<SmsTemplate>> {
    SMS.default(db, company_id).await
}

/// Makes the email template the company's default (`true`) or no longer
/// its default (`false`); another default stops being one.
pub async fn set_default_email(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &EmailTemplateId,
    default: bool,
) -> StoreResult<()> {
    EMAIL.set_default(conn, company_id, id, default).await
}

/// As `set_default_email`, for an SMS template.
pub async fn set_default_sms(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &SmsTemplateId,
    default: bool,
) -> StoreResult<()> {
    SMS.set_default(conn, company_id, id, default).await
}
