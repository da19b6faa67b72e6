//! Settings › Company: name, address, contacts, currency, time zone, country
//! and the accent colour (white text on it must meet WCAG AA).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::{FieldErrors, LOGO_MAX_BYTES, internal, owners_only};
use crate::domain::contact::{self, EmailAddress, PhoneNumber};
use crate::domain::i18n::Lang;
use crate::domain::money::Currency;
use crate::domain::text::{self, FieldError};
use crate::store::companies;
use crate::store::companies::CompanyProfile;
use crate::store::{StoreError, audit};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status};

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
    /// The customers' default language: `en` (also when left out) or `es`.
    #[serde(default)]
    pub language: String,
}

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
    let language = match f.language.trim() {
        "" => Some(Lang::En),
        code => Lang::parse(code).filter(|l| l.code() == code),
    };
    if language.is_none() {
        errors.insert("language", "Choose English or Spanish.".into());
    }
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
            language: language.unwrap_or_default(),
        }),
        _ => Err(errors),
    }
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
            zones => minijinja::value::Serde(crate::domain::dates::TIME_ZONES),
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
pub(super) async fn company_stored(
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
        language: company.language.code().to_string(),
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
pub(super) struct CompanyQuery {
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

pub(super) async fn company_page(
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

pub(super) async fn save_company(
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
}
