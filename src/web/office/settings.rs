//! Office: Settings › Configuration — Invoice Settings, Company, Users — and
//! the JSON API for invoice settings. Company settings and users are for
//! owners only; staff may read the invoice settings.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};

use super::{OfficeUser, page, page_with_status};
use crate::domain::contact::{self, EmailAddress, PhoneNumber};
use crate::domain::money::Currency;
use crate::domain::text::{self, FieldError};
use crate::pdf::PaperSize;
use crate::store::companies::{self, CompanyProfile, InvoiceSettings};
use crate::store::{StoreError, audit};
use crate::web::AppState;
use crate::web::api::CompanyKey;
use crate::web::error::ApiError;

/// Largest logo accepted, in bytes.
pub const LOGO_MAX_BYTES: usize = 200 * 1024;

/// The currencies a company may bill in: (code, label).
/// Countries offered for the company (phone numbers without a country code
/// are read as this country's).
pub const COUNTRIES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("CA", "Canada"),
    ("MX", "Mexico"),
    ("PR", "Puerto Rico"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("ZA", "South Africa"),
    ("ES", "Spain"),
];

pub const CURRENCIES: &[(&str, &str)] = &[
    ("usd", "US dollar (USD)"),
    ("cad", "Canadian dollar (CAD)"),
    ("aud", "Australian dollar (AUD)"),
    ("eur", "Euro (EUR)"),
    ("gbp", "Pound sterling (GBP)"),
    ("mxn", "Mexican peso (MXN)"),
    ("jpy", "Japanese yen (JPY)"),
];

/// Suggestions shown for the time zone field; any IANA zone is accepted.
const ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "Europe/London",
    "Europe/Paris",
    "Australia/Sydney",
    "Asia/Tokyo",
    "UTC",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/office/settings/invoice",
            get(invoice_page).post(save_invoice),
        )
        .route("/office/settings/invoice.js", get(invoice_script))
        .route(
            "/office/settings/company",
            get(company_page).post(save_company),
        )
        .route(
            "/office/settings/logo",
            get(office_logo)
                .post(upload_logo)
                .layer(DefaultBodyLimit::max(LOGO_MAX_BYTES + 16 * 1024)),
        )
        .route("/office/settings/logo/remove", post(remove_logo))
        .route("/logo/{company_id}", get(public_logo))
        .route("/office/settings/users", get(users_page).post(add_user))
        .route(
            "/office/settings/users/{id}/disable",
            get(disable_confirm).post(disable_user),
        )
}

/// `GET`/`PUT /api/v1/settings/invoice`, authenticated by the company API key.
pub fn api_routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/settings/invoice",
        get(api_get_invoice).put(api_put_invoice),
    )
}

// ---------------------------------------------------------------- pure rules

/// Where a payment link in a message sends the customer.
pub fn parse_link_target(text: &str) -> Option<&'static str> {
    match text.trim() {
        "portal" => Some("portal"),
        "public" => Some("public"),
        _ => None,
    }
}

/// `#rrggbb` (any case) as its three channels.
pub fn parse_hex_color(text: &str) -> Option<[u8; 3]> {
    let hex = text.trim().strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// WCAG 2 relative luminance of an sRGB colour, 0 (black) to 1 (white).
pub fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let s = f64::from(c) / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

/// The contrast ratio of white text on this colour (1 to 21).
pub fn contrast_with_white(rgb: [u8; 3]) -> f64 {
    1.05 / (relative_luminance(rgb) + 0.05)
}

/// WCAG AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// Checks an accent colour: `#rrggbb` on which white text meets WCAG AA.
/// Returns the colour in lowercase, or what is wrong.
pub fn check_accent(text: &str) -> Result<String, String> {
    let Some(rgb) = parse_hex_color(text) else {
        return Err("Enter the colour as # and six hexadecimal digits, like #1d5fbf.".into());
    };
    let ratio = contrast_with_white(rgb);
    if ratio < MIN_CONTRAST {
        return Err(format!(
            "This colour is too light: white text on it has a contrast of {:.2}:1, and WCAG AA needs at least 4.5:1. Choose a darker colour.",
            (ratio * 100.0).floor() / 100.0
        ));
    }
    Ok(text.trim().to_ascii_lowercase())
}

/// The media type of a logo, from its first bytes: PNG or JPEG only.
pub fn logo_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// What the Company form sends.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CompanyForm {
    #[serde(default, skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub accent_color: String,
    #[serde(default)]
    pub country: String,
}

pub type FieldErrors = BTreeMap<&'static str, String>;

/// Checks the Company form. `locked_currency` is the company's currency when it
/// can no longer change (it has invoices).
pub fn validate_company(
    f: &CompanyForm,
    locked_currency: Option<Currency>,
) -> Result<CompanyProfile, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut field = |r: Result<String, FieldError>| {
        r.unwrap_or_else(|e| {
            errors.insert(e.field, e.message);
            String::new()
        })
    };
    let name = if f.name.trim().is_empty() {
        field(Err(FieldError::new("name", "Enter the company's name.")))
    } else {
        field(text::single_line("name", &f.name, 200))
    };
    let address = field(
        text::optional_multi_line("address", Some(&f.address), 500).map(Option::unwrap_or_default),
    );
    let country = f.country.trim().to_ascii_uppercase();
    let country = if contact::is_known_region(&country) {
        country
    } else {
        field(Err(FieldError::new(
            "country",
            "Choose the company's country.",
        )))
    };
    let region = if country.is_empty() {
        contact::DEFAULT_REGION
    } else {
        &country
    };
    // Kept as people in the company's country write it: it is shown, not dialled.
    let phone = match text::optional_single_line("phone", Some(&f.phone), 40) {
        Ok(Some(p)) => field(
            PhoneNumber::parse("phone", &p, region)
                .map(|n| contact::display_phone(n.as_str(), region)),
        ),
        Ok(None) => String::new(),
        Err(e) => field(Err(e)),
    };
    let email = match text::optional_single_line("email", Some(&f.email), 254) {
        Ok(Some(e)) => field(
            EmailAddress::parse("email", &e)
                .map(EmailAddress::into_string)
                .map_err(|_| {
                    FieldError::new("email", "Enter an email address like office@example.com.")
                }),
        ),
        Ok(None) => String::new(),
        Err(e) => field(Err(e)),
    };
    let currency = Currency::parse(f.currency.trim())
        .filter(|c| CURRENCIES.iter().any(|(code, _)| *code == c.code()));
    match (currency, locked_currency) {
        (None, _) => {
            errors.insert("currency", "Choose one of the listed currencies.".into());
        }
        (Some(new), Some(old)) if new != old => {
            errors.insert(
                "currency",
                format!(
                    "The currency cannot change because the company already has invoices in {}. Their amounts would change meaning.",
                    old.code().to_ascii_uppercase()
                ),
            );
        }
        _ => {}
    }
    let time_zone = f.time_zone.trim();
    if !crate::domain::dates::is_known_zone(time_zone) || time_zone.is_empty() {
        errors.insert(
            "time_zone",
            format!(
                "'{time_zone}' is not a time zone fieldpay knows. Use an IANA name like America/Chicago."
            ),
        );
    }
    let accent = check_accent(&f.accent_color).unwrap_or_else(|why| {
        errors.insert("accent_color", why);
        String::new()
    });
    match currency {
        Some(currency) if errors.is_empty() => Ok(CompanyProfile {
            name,
            address,
            phone,
            email,
            currency,
            time_zone: time_zone.to_string(),
            accent_color: accent,
            country,
        }),
        _ => Err(errors),
    }
}

/// What the Add user form sends.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UserForm {
    #[serde(default, skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing)]
    pub password: String,
    #[serde(default)]
    pub role: String,
}

/// A checked new user: (email lowercased, name, role).
pub fn validate_user(f: &UserForm) -> Result<(String, String, &'static str), FieldErrors> {
    let mut errors = FieldErrors::new();
    let email = f.email.trim().to_ascii_lowercase();
    if EmailAddress::parse("email", &email).is_err() {
        errors.insert(
            "email",
            "Enter an email address like sam@example.com.".into(),
        );
    }
    let name = f.name.trim();
    if name.is_empty() {
        errors.insert("name", "Enter the person's name.".into());
    } else if let Err(e) = text::single_line("name", name, 200) {
        errors.insert("name", e.message);
    }
    if let Err(why) = crate::auth::check_new_password(&f.password) {
        errors.insert("password", why.to_string());
    }
    let role = match f.role.as_str() {
        "staff" => "staff",
        "owner" => "owner",
        _ => {
            errors.insert("role", "Choose Staff or Owner.".into());
            ""
        }
    };
    if errors.is_empty() {
        Ok((email, name.to_string(), role))
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------- shared

fn internal(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// The page staff see when an action is for owners.
fn owners_only(state: &AppState, user: &OfficeUser, what: &str) -> Response {
    page_with_status(
        state,
        user,
        StatusCode::FORBIDDEN,
        "office/settings_forbidden.html",
        "settings",
        minijinja::context! { what => what },
    )
}

// ---------------------------------------------------------------- invoice settings

#[derive(Deserialize, Default)]
struct NoticeQuery {
    #[serde(default)]
    saved: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn invoice_view(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    s: &InvoiceSettings,
    paper: PaperSize,
    saved: bool,
    error: Option<&str>,
    paper_error: Option<&str>,
) -> Response {
    page_with_status(
        state,
        user,
        status,
        "office/settings_invoice.html",
        "invoice-settings",
        minijinja::context! {
            settings => minijinja::value::Serde(s),
            paper_size => paper.key(),
            paper_error => paper_error,
            saved => saved,
            error => error,
            can_edit => user.is_owner(),
        },
    )
}

async fn invoice_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let paper = match crate::pdf::paper_size(&state.app.db, &user.company_id).await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    match companies::invoice_settings(&state.app.db, &user.company_id).await {
        Ok(Some(s)) => invoice_view(
            &state,
            &user,
            StatusCode::OK,
            &s,
            paper,
            q.saved.is_some(),
            None,
            None,
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct InvoiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    payment_link_enabled: Option<String>,
    #[serde(default)]
    payment_link_target: String,
    #[serde(default)]
    paper_size: String,
}

async fn save_invoice(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<InvoiceForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the invoice settings");
    }
    let current = match companies::invoice_settings(&state.app.db, &user.company_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return state.views.not_found(),
        Err(e) => return internal(e),
    };
    let enabled = f.payment_link_enabled.is_some();
    // A form without the field (an older page) keeps the stored paper size.
    let paper = match f.paper_size.trim() {
        "" => Ok(None),
        text => PaperSize::parse(text).map(Some).ok_or(()),
    };
    // The target only matters when the link is on; when off, the stored one stays.
    let target = if enabled {
        match parse_link_target(&f.payment_link_target) {
            Some(t) => t.to_string(),
            None => {
                let typed = InvoiceSettings {
                    payment_link_enabled: enabled,
                    payment_link_target: current.payment_link_target.clone(),
                };
                return invoice_view(
                    &state,
                    &user,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &typed,
                    paper.ok().flatten().unwrap_or_default(),
                    false,
                    Some("Choose where the payment link goes: Customer Portal or Public Link."),
                    None,
                );
            }
        }
    } else {
        current.payment_link_target.clone()
    };
    let new = InvoiceSettings {
        payment_link_enabled: enabled,
        payment_link_target: target,
    };
    let Ok(paper) = paper else {
        return invoice_view(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &new,
            PaperSize::default(),
            false,
            None,
            Some("Choose a paper size: US Letter or A4."),
        );
    };
    match write_invoice_settings(
        &state,
        &user.company_id,
        &user.actor(),
        &current,
        &new,
        paper,
    )
    .await
    {
        Ok(()) => Redirect::to("/office/settings/invoice?saved=1").into_response(),
        Err(e) => internal(e),
    }
}

async fn write_invoice_settings(
    state: &AppState,
    company_id: &str,
    actor: &str,
    old: &InvoiceSettings,
    new: &InvoiceSettings,
    paper: Option<PaperSize>,
) -> Result<(), StoreError> {
    let old_paper = crate::pdf::paper_size(&state.app.db, company_id).await?;
    let paper = paper.unwrap_or(old_paper);
    let mut tx = state.app.db.begin_write().await?;
    companies::set_invoice_settings(&mut tx, company_id, new).await?;
    crate::pdf::set_paper_size(&mut tx, company_id, paper).await?;
    audit::record(
        &mut tx,
        company_id,
        actor,
        "settings.invoice_updated",
        company_id,
        serde_json::json!({
            "from": {"payment_link_enabled": old.payment_link_enabled, "payment_link_target": old.payment_link_target, "paper_size": old_paper.key()},
            "to": {"payment_link_enabled": new.payment_link_enabled, "payment_link_target": new.payment_link_target, "paper_size": paper.key()},
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Shows the target select only while the payment link box is ticked. Without
/// JavaScript the select is always shown (and ignored when the box is off).
async fn invoice_script() -> Response {
    const JS: &str = "(function(){var b=document.getElementById('payment_link_enabled');\
var f=document.getElementById('target-field');if(!b||!f)return;\
function s(){f.hidden=!b.checked;}b.addEventListener('change',s);s();})();\n";
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        JS,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoiceSettingsBody {
    payment_link_enabled: bool,
    payment_link_target: String,
    /// `letter` or `a4`; left as it is when not sent.
    #[serde(default)]
    paper_size: Option<String>,
}

/// Invoice settings as the API shows them: the stored ones and the paper size.
fn invoice_settings_json(s: &InvoiceSettings, paper: PaperSize) -> Response {
    Json(serde_json::json!({
        "payment_link_enabled": s.payment_link_enabled,
        "payment_link_target": s.payment_link_target,
        "paper_size": paper.key(),
    }))
    .into_response()
}

async fn api_get_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
) -> Result<Response, ApiError> {
    let s = companies::invoice_settings(&state.app.db, &company)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let paper = crate::pdf::paper_size(&state.app.db, &company).await?;
    Ok(invoice_settings_json(&s, paper))
}

async fn api_put_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    body: Result<Json<InvoiceSettingsBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body?;
    let target = parse_link_target(&b.payment_link_target).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_field",
            "payment_link_target must be \"portal\" or \"public\"",
            "payment_link_target",
        )
    })?;
    let paper = match b.paper_size.as_deref() {
        None => None,
        Some(text) => Some(PaperSize::parse(text).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_field",
                "paper_size must be \"letter\" or \"a4\"",
                "paper_size",
            )
        })?),
    };
    let current = companies::invoice_settings(&state.app.db, &company)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let new = InvoiceSettings {
        payment_link_enabled: b.payment_link_enabled,
        payment_link_target: target.to_string(),
    };
    write_invoice_settings(&state, &company, "api", &current, &new, paper).await?;
    let paper = crate::pdf::paper_size(&state.app.db, &company).await?;
    Ok(invoice_settings_json(&new, paper))
}

// ---------------------------------------------------------------- company

/// What the Company page shows besides the form.
struct CompanyExtras<'a> {
    has_logo: bool,
    notice: Option<&'a str>,
    logo_error: Option<&'a str>,
}

fn company_view(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    form: &CompanyForm,
    errors: &FieldErrors,
    extras: CompanyExtras<'_>,
) -> Response {
    let CompanyExtras {
        has_logo,
        notice,
        logo_error,
    } = extras;
    page_with_status(
        state,
        user,
        status,
        "office/settings_company.html",
        "company",
        minijinja::context! {
            form => minijinja::value::Serde(form),
            errors => minijinja::value::Serde(errors),
            currencies => minijinja::value::Serde(CURRENCIES),
            zones => minijinja::value::Serde(ZONES),
            countries => minijinja::value::Serde(COUNTRIES),
            has_logo => has_logo,
            logo_max_kb => LOGO_MAX_BYTES / 1024,
            notice => notice,
            logo_error => logo_error,
            company_id => user.company_id.as_str(),
        },
    )
}

/// Renders the Company page from what is stored.
async fn company_stored(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    notice: Option<&str>,
    logo_error: Option<&str>,
) -> Response {
    let company = match companies::get(&state.app.db, &user.company_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return internal(e),
    };
    let has_logo = match companies::logo(&state.app.db, &user.company_id).await {
        Ok(l) => l.is_some(),
        Err(e) => return internal(e),
    };
    let form = CompanyForm {
        csrf: String::new(),
        name: company.name,
        address: company.address,
        phone: company.phone,
        email: company.email,
        currency: company.currency.code().to_string(),
        time_zone: company.time_zone,
        accent_color: company.accent_color,
        country: company.country,
    };
    company_view(
        state,
        user,
        status,
        &form,
        &FieldErrors::new(),
        CompanyExtras {
            has_logo,
            notice,
            logo_error,
        },
    )
}

#[derive(Deserialize, Default)]
struct CompanyQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn company_notice(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "saved" => Some("The company settings were saved."),
        "logo" => Some("The logo was saved."),
        "logo_removed" => Some("The logo was removed."),
        _ => None,
    }
}

async fn company_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<CompanyQuery>,
) -> Response {
    if !user.is_owner() {
        return owners_only(&state, &user, "change the company settings");
    }
    company_stored(
        &state,
        &user,
        StatusCode::OK,
        company_notice(q.notice.as_deref()),
        None,
    )
    .await
}

async fn save_company(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<CompanyForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the company settings");
    }
    let result: Result<Result<(), FieldErrors>, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let Some(current) = companies::get(&state.app.db, &user.company_id).await? else {
            return Err(StoreError::Invalid);
        };
        let locked = if companies::has_invoices(&mut tx, &user.company_id).await? {
            Some(current.currency)
        } else {
            None
        };
        let profile = match validate_company(&f, locked) {
            Ok(p) => p,
            Err(errors) => return Ok(Err(errors)),
        };
        companies::update_profile(&mut tx, &user.company_id, &profile).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "settings.company_updated",
            &user.company_id,
            serde_json::json!({
                "name": profile.name,
                "currency": profile.currency.code(),
                "time_zone": profile.time_zone,
                "accent_color": profile.accent_color,
                "currency_changed": profile.currency != current.currency,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
    .await;
    match result {
        Ok(Ok(())) => Redirect::to("/office/settings/company?notice=saved").into_response(),
        Ok(Err(errors)) => {
            let has_logo = companies::logo(&state.app.db, &user.company_id)
                .await
                .map(|l| l.is_some())
                .unwrap_or(false);
            company_view(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                &errors,
                CompanyExtras {
                    has_logo,
                    notice: None,
                    logo_error: None,
                },
            )
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- logo

fn logo_response(kind: String, bytes: Vec<u8>, cache: &'static str) -> Response {
    let kind = HeaderValue::from_str(&kind)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes,
    )
        .into_response()
}

async fn office_logo(State(state): State<AppState>, user: OfficeUser) -> Response {
    match companies::logo(&state.app.db, &user.company_id).await {
        Ok(Some((kind, bytes))) => logo_response(kind, bytes, "private, no-cache"),
        Ok(None) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

/// The logo for public pages (pay page, emails): cacheable for a long time.
async fn public_logo(State(state): State<AppState>, Path(company_id): Path<String>) -> Response {
    if company_id.len() > 100 {
        return state.views.not_found();
    }
    match companies::logo(&state.app.db, &company_id).await {
        Ok(Some((kind, bytes))) => logo_response(kind, bytes, "public, max-age=604800"),
        Ok(None) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

async fn upload_logo(
    State(state): State<AppState>,
    user: OfficeUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let refuse = |why: &str| {
        let why = why.to_string();
        let state = state.clone();
        let user = user.clone();
        async move {
            company_stored(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(&why),
            )
            .await
        }
    };
    let too_big = format!(
        "The logo must be at most {} KB. Save it smaller and try again.",
        LOGO_MAX_BYTES / 1024
    );
    let Ok(mut multipart) = multipart else {
        return refuse("Choose a PNG or JPEG file to upload.").await;
    };
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("logo") => match field.bytes().await {
                    Ok(b) => file = Some(b.to_vec()),
                    Err(_) => {
                        if let Some(r) = user.csrf_refusal(&csrf) {
                            return r;
                        }
                        return refuse(&too_big).await;
                    }
                },
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                if let Some(r) = user.csrf_refusal(&csrf) {
                    return r;
                }
                return refuse(&too_big).await;
            }
        }
    }
    if let Some(r) = user.csrf_refusal(&csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the company logo");
    }
    let bytes = match file {
        Some(b) if !b.is_empty() => b,
        _ => return refuse("Choose a PNG or JPEG file to upload.").await,
    };
    if bytes.len() > LOGO_MAX_BYTES {
        return refuse(&too_big).await;
    }
    let Some(kind) = logo_media_type(&bytes) else {
        return refuse("The logo must be a PNG or JPEG image.").await;
    };
    let result: Result<(), StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        companies::set_logo(&mut tx, &user.company_id, Some((kind, &bytes))).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "settings.logo_updated",
            &user.company_id,
            serde_json::json!({"type": kind, "bytes": bytes.len()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/office/settings/company?notice=logo").into_response(),
        Err(e) => internal(e),
    }
}

async fn remove_logo(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<super::CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the company logo");
    }
    let result: Result<(), StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        companies::set_logo(&mut tx, &user.company_id, None).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "settings.logo_removed",
            &user.company_id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/office/settings/company?notice=logo_removed").into_response(),
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- users

#[derive(Deserialize, Default)]
struct UsersQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn users_notice(key: Option<&str>) -> Option<&'static str> {
    match key? {
        "added" => Some(
            "The user was added. Give them their temporary password in person or by phone; they can change it under their email at the top right.",
        ),
        "disabled" => Some("The user was disabled and signed out."),
        _ => None,
    }
}

async fn users_view(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    form: &UserForm,
    errors: &FieldErrors,
    notice: Option<&str>,
    alert: Option<&str>,
) -> Response {
    let users = match companies::list_office_users(&state.app.db, &user.company_id).await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    page_with_status(
        state,
        user,
        status,
        "office/users.html",
        "users",
        minijinja::context! {
            active => users.iter().filter(|u| !u.disabled).count(),
            users => minijinja::value::Serde(&users),
            form => minijinja::value::Serde(form),
            errors => minijinja::value::Serde(errors),
            notice => notice,
            alert => alert,
            me => user.user_id.as_str(),
        },
    )
}

async fn users_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<UsersQuery>,
) -> Response {
    if !user.is_owner() {
        return owners_only(&state, &user, "manage users");
    }
    let form = UserForm {
        role: "staff".into(),
        ..UserForm::default()
    };
    users_view(
        &state,
        &user,
        StatusCode::OK,
        &form,
        &FieldErrors::new(),
        users_notice(q.notice.as_deref()),
        None,
    )
    .await
}

async fn add_user(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<UserForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "manage users");
    }
    let (email, name, role) = match validate_user(&f) {
        Ok(v) => v,
        Err(errors) => {
            return users_view(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                &errors,
                None,
                None,
            )
            .await;
        }
    };
    let password = f.password.clone();
    let hash =
        match tokio::task::spawn_blocking(move || crate::auth::hash_password(&password)).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return ApiError::internal(e).into_response(),
            Err(e) => return ApiError::internal(e).into_response(),
        };
    let result: Result<String, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let id = companies::create_named_office_user(
            &mut tx,
            &user.company_id,
            &email,
            &name,
            &hash,
            role,
        )
        .await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "office_user.created",
            &id,
            serde_json::json!({"email": email, "role": role}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/office/settings/users?notice=added").into_response(),
        Err(StoreError::Conflict) => {
            let mut errors = FieldErrors::new();
            errors.insert(
                "email",
                "That email already has a fieldpay office account. Use another email.".into(),
            );
            users_view(&state, &user, StatusCode::CONFLICT, &f, &errors, None, None).await
        }
        Err(e) => internal(e),
    }
}

/// The user a disable action is about, when it is allowed; otherwise the refusal.
async fn disable_target(
    state: &AppState,
    user: &OfficeUser,
    id: &str,
) -> Result<companies::OfficeUserRow, Response> {
    if !user.is_owner() {
        return Err(owners_only(state, user, "manage users"));
    }
    let target = match companies::office_user(&state.app.db, &user.company_id, id).await {
        Ok(Some(t)) => t,
        Ok(None) => return Err(state.views.not_found()),
        Err(e) => return Err(internal(e)),
    };
    if target.id == user.user_id {
        return Err(users_view(
            state,
            user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &UserForm {
                role: "staff".into(),
                ..UserForm::default()
            },
            &FieldErrors::new(),
            None,
            Some("You cannot disable your own account. Ask another owner to do it."),
        )
        .await);
    }
    if target.disabled {
        return Err(Redirect::to("/office/settings/users").into_response());
    }
    Ok(target)
}

async fn disable_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Response {
    match disable_target(&state, &user, &id).await {
        Ok(target) => page(
            &state,
            &user,
            "office/users_disable.html",
            "users",
            minijinja::context! { target => minijinja::value::Serde(&target) },
        ),
        Err(r) => r,
    }
}

async fn disable_user(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(f): Form<super::CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let target = match disable_target(&state, &user, &id).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let result: Result<bool, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let done = companies::disable_office_user(&mut tx, &user.company_id, &target.id).await?;
        if done {
            audit::record(
                &mut tx,
                &user.company_id,
                &user.actor(),
                "office_user.disabled",
                &target.id,
                serde_json::json!({"email": target.email}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }
    .await;
    match result {
        Ok(true) => Redirect::to("/office/settings/users?notice=disabled").into_response(),
        Ok(false) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_colours_parse() {
        assert_eq!(parse_hex_color("#1d5fbf"), Some([0x1d, 0x5f, 0xbf]));
        assert_eq!(parse_hex_color("#FFFFFF"), Some([255, 255, 255]));
        assert_eq!(parse_hex_color("1d5fbf"), None);
        assert_eq!(parse_hex_color("#1d5fb"), None);
        assert_eq!(parse_hex_color("#1d5fbg"), None);
        assert_eq!(parse_hex_color("#+1+1+1"), None);
    }

    #[test]
    fn luminance_and_contrast_match_wcag() {
        assert!((relative_luminance([0, 0, 0]) - 0.0).abs() < 1e-9);
        assert!((relative_luminance([255, 255, 255]) - 1.0).abs() < 1e-9);
        assert!((contrast_with_white([0, 0, 0]) - 21.0).abs() < 1e-9);
        assert!((contrast_with_white([255, 255, 255]) - 1.0).abs() < 1e-9);
        // #767676 is the classic lightest grey that passes AA on white (4.54:1).
        let grey = contrast_with_white([0x76, 0x76, 0x76]);
        assert!((grey - 4.54).abs() < 0.01, "{grey}");
        // #777777 just fails (4.48:1).
        assert!(contrast_with_white([0x77, 0x77, 0x77]) < MIN_CONTRAST);
    }

    #[test]
    fn accent_check() {
        assert_eq!(check_accent("#1D5FBF").as_deref(), Ok("#1d5fbf"));
        assert!(check_accent("#767676").is_ok());
        let light = check_accent("#ffcc00").unwrap_err();
        assert!(
            light.contains("too light") && light.contains("4.5:1"),
            "{light}"
        );
        assert!(
            check_accent("blue")
                .unwrap_err()
                .contains("six hexadecimal")
        );
    }

    #[test]
    fn logo_types_by_magic_bytes() {
        assert_eq!(logo_media_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(logo_media_type(b"\xff\xd8\xff\xe0rest"), Some("image/jpeg"));
        assert_eq!(logo_media_type(b"GIF89a"), None);
        assert_eq!(logo_media_type(b"<svg></svg>"), None);
        assert_eq!(logo_media_type(b""), None);
    }

    #[test]
    fn link_targets() {
        assert_eq!(parse_link_target("portal"), Some("portal"));
        assert_eq!(parse_link_target("public"), Some("public"));
        assert_eq!(parse_link_target("elsewhere"), None);
    }

    fn good_form() -> CompanyForm {
        CompanyForm {
            name: "Greenleaf".into(),
            currency: "usd".into(),
            time_zone: "America/Chicago".into(),
            accent_color: "#1d5fbf".into(),
            country: "US".into(),
            ..CompanyForm::default()
        }
    }

    #[test]
    fn company_form_rules() {
        assert!(validate_company(&good_form(), None).is_ok());
        let bad_zone = CompanyForm {
            time_zone: "Mars/Olympus".into(),
            ..good_form()
        };
        let errors = validate_company(&bad_zone, None).unwrap_err();
        assert!(errors["time_zone"].contains("Mars/Olympus"));
        let cad = CompanyForm {
            currency: "cad".into(),
            ..good_form()
        };
        assert!(validate_company(&cad, None).is_ok());
        let errors = validate_company(&cad, Some(Currency::USD)).unwrap_err();
        assert!(errors["currency"].contains("already has invoices"));
        // Keeping the locked currency is fine.
        assert!(validate_company(&good_form(), Some(Currency::USD)).is_ok());
        let junk = CompanyForm {
            currency: "xyz".into(),
            email: "not an email".into(),
            name: " ".into(),
            ..good_form()
        };
        let errors = validate_company(&junk, None).unwrap_err();
        assert!(errors.contains_key("currency"));
        assert!(errors.contains_key("email"));
        assert!(errors.contains_key("name"));
    }

    #[test]
    fn user_form_rules() {
        let ok = UserForm {
            email: " Sam@Example.com ".into(),
            name: "Sam".into(),
            password: "ten chars!".into(),
            role: "staff".into(),
            ..UserForm::default()
        };
        assert_eq!(
            validate_user(&ok).unwrap(),
            ("sam@example.com".into(), "Sam".into(), "staff")
        );
        let bad = UserForm {
            password: "short".into(),
            role: "admin".into(),
            ..ok
        };
        let errors = validate_user(&bad).unwrap_err();
        assert!(errors.contains_key("password"));
        assert!(errors.contains_key("role"));
    }
}
