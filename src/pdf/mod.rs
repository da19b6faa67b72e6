//! Invoice and statement PDFs, drawn in-process with krilla.
//!
//! `InvoiceDoc` and `StatementDoc` are plain data; `render_invoice` and
//! `render_statement` turn them into PDF bytes (US letter or A4, a header
//! repeated on every page with "Page N of M", the bundled DejaVu Sans
//! embedded, text extractable, title and language in the metadata). The
//! payment link, when Invoice Settings turn it on, is printed as text and as
//! a QR code of exactly the same URL. What a document holds is read by the
//! use cases in `app::documents`.

#[cfg(test)]
mod embedded_fonts;
pub mod layout;
mod render;

use serde::Serialize;
use time::Date;

use crate::domain::i18n::{self, Lang, tr};
use crate::domain::ids::CompanyId;
use crate::domain::money::{Currency, Money};
use crate::store::{Conn, Db, StoreError, StoreResult};
use render::{Align, Column, Row, Sheet};

#[derive(Debug)]
pub enum PdfError {
    Store(StoreError),
    /// The page could not be laid out (an impossible paper size).
    Layout,
    Render(String),
}

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PdfError::Store(e) => write!(f, "{e}"),
            PdfError::Layout => f.write_str("PDF layout failed"),
            PdfError::Render(e) => write!(f, "PDF rendering failed: {e}"),
        }
    }
}

impl std::error::Error for PdfError {}

impl From<StoreError> for PdfError {
    fn from(e: StoreError) -> Self {
        PdfError::Store(e)
    }
}

/// The company's paper: US letter unless it chose A4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PaperSize {
    #[default]
    Letter,
    A4,
}

impl PaperSize {
    pub fn parse(text: &str) -> Option<PaperSize> {
        match text.trim().to_ascii_lowercase().as_str() {
            "letter" => Some(PaperSize::Letter),
            "a4" => Some(PaperSize::A4),
            _ => None,
        }
    }

    /// `letter` or `a4`, as stored and as the API spells it.
    pub fn key(self) -> &'static str {
        match self {
            PaperSize::Letter => "letter",
            PaperSize::A4 => "a4",
        }
    }

    /// Width and height in PDF points (1/72 inch).
    pub fn size_pt(self) -> (f32, f32) {
        match self {
            PaperSize::Letter => (612.0, 792.0),
            PaperSize::A4 => (595.28, 841.89),
        }
    }
}

/// The company's paper size (Invoice Settings).
pub async fn paper_size(db: &Db, company_id: &CompanyId) -> StoreResult<PaperSize> {
    let key = crate::store::companies::paper_size(db, company_id).await?;
    Ok(key
        .as_deref()
        .and_then(PaperSize::parse)
        .unwrap_or_default())
}

pub async fn set_paper_size(
    conn: &mut Conn,
    company_id: &CompanyId,
    paper: PaperSize,
) -> StoreResult<()> {
    crate::store::companies::set_paper_size(conn, company_id, paper.key()).await
}

/// A company logo as stored: its media type and bytes. PNG, JPEG, GIF and
/// WebP are drawn; anything else (SVG) is left out.
#[derive(Debug, Clone)]
pub struct Logo {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// Who sends the document.
#[derive(Debug, Clone, Default)]
pub struct CompanyBlock {
    pub name: String,
    /// Free text; line breaks are kept.
    pub address: String,
    pub phone: String,
    pub email: String,
    pub logo: Option<Logo>,
}

impl CompanyBlock {
    fn lines(&self, lang: Lang) -> Vec<String> {
        let mut lines: Vec<String> = self
            .address
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if !self.phone.trim().is_empty() {
            lines.push(tr(
                lang,
                "pdf-phone",
                &[("phone", self.phone.trim().into())],
            ));
        }
        if !self.email.trim().is_empty() {
            lines.push(self.email.trim().to_string());
        }
        lines
    }
}

#[derive(Debug, Clone)]
pub struct DocLine {
    pub description: String,
    pub quantity: i64,
    /// Minor units.
    pub unit_price: i64,
    pub amount: i64,
}

/// Everything an invoice PDF prints. Amounts in minor units of `currency`.
#[derive(Debug, Clone)]
pub struct InvoiceDoc {
    pub paper: PaperSize,
    pub company: CompanyBlock,
    pub number: String,
    pub issue_date: Date,
    pub due_date: Date,
    /// `open`, `paid` or `void`.
    pub status: String,
    pub bill_to_name: String,
    pub bill_to_address: Option<String>,
    pub property_address: String,
    /// The resident's name when someone else is billed for the property.
    pub on_behalf_of: Option<String>,
    pub currency: Currency,
    pub lines: Vec<DocLine>,
    pub tax: i64,
    pub total: i64,
    /// Payments applied, less what was refunded.
    pub paid: i64,
    pub balance: i64,
    /// The payment link (public quick-pay URL or the portal), when on.
    pub pay_url: Option<String>,
    /// The language it is printed in: the customer's, else the company's.
    pub lang: Lang,
}

#[derive(Debug, Clone)]
pub struct StatementInvoice {
    pub number: String,
    pub issue_date: Date,
    pub due_date: Date,
    pub total: i64,
    pub balance: i64,
}

#[derive(Debug, Clone)]
pub struct StatementProperty {
    pub address: String,
    pub on_behalf_of: Option<String>,
    pub invoices: Vec<StatementInvoice>,
}

/// A customer's open invoices, by property.
#[derive(Debug, Clone)]
pub struct StatementDoc {
    pub paper: PaperSize,
    pub company: CompanyBlock,
    pub date: Date,
    pub customer_name: String,
    pub customer_address: Option<String>,
    pub currency: Currency,
    pub properties: Vec<StatementProperty>,
    pub pay_url: Option<String>,
    /// The language it is printed in: the customer's, else the company's.
    pub lang: Lang,
}

impl StatementDoc {
    pub fn total_due(&self) -> i64 {
        self.properties
            .iter()
            .flat_map(|p| &p.invoices)
            .map(|i| i.balance)
            .sum()
    }
}

fn party(name: &str, address: Option<&str>) -> Vec<String> {
    let mut v = vec![name.to_string()];
    if let Some(a) = address {
        v.extend(
            a.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    v
}

fn on_behalf_note(lang: Lang, resident: &str) -> String {
    tr(lang, "pdf-on-behalf", &[("resident", resident.into())])
}

fn contact(lang: Lang, company: &CompanyBlock) -> String {
    let (phone, email) = (company.phone.trim(), company.email.trim());
    let args = [("phone", phone.into()), ("email", email.into())];
    let key = match (phone, email) {
        ("", "") => return String::new(),
        (_, "") => "pdf-questions-call",
        ("", _) => "pdf-questions-email",
        _ => "pdf-questions-both",
    };
    format!(" {}", tr(lang, key, &args))
}

/// The invoice as a sheet: what goes where, before layout.
fn invoice_sheet(d: &InvoiceDoc) -> Sheet {
    let lang = d.lang;
    let t = |key: &str| i18n::t(lang, key);
    let money = |m: i64| i18n::money(lang, Money::new(m, d.currency));
    let void = d.status == "void";
    let mut facts = vec![
        (t("pdf-invoice-number"), d.number.clone()),
        (t("pdf-issue-date"), i18n::date(lang, d.issue_date)),
        (t("pdf-due-date"), i18n::date(lang, d.due_date)),
    ];
    if void {
        facts.push((t("pdf-status"), t("pdf-void")));
    } else {
        facts.push((t("pdf-balance-due"), money(d.balance)));
    }
    let mut service = vec![d.property_address.clone()];
    if let Some(r) = &d.on_behalf_of {
        service.push(on_behalf_note(lang, r));
    }
    let subtotal: i64 = d.lines.iter().map(|l| l.amount).sum();
    let mut summary = vec![(t("pdf-subtotal"), money(subtotal), false)];
    if d.tax != 0 {
        summary.push((t("pdf-tax"), money(d.tax), false));
    }
    summary.push((t("pdf-total"), money(d.total), false));
    summary.push((t("pdf-payments-applied"), money(-d.paid), false));
    summary.push((
        t("pdf-balance-due"),
        money(if void { 0 } else { d.balance }),
        true,
    ));
    let owed = !void && d.balance > 0;
    let closing = if void {
        Some(t("pdf-voided"))
    } else if !owed {
        Some(t("pdf-paid-in-full"))
    } else if d.pay_url.is_none() && !d.company.phone.trim().is_empty() {
        Some(tr(
            lang,
            "pdf-to-pay-call",
            &[("phone", d.company.phone.trim().into())],
        ))
    } else {
        None
    };
    let terms = if owed {
        let terms = tr(
            lang,
            "pdf-terms",
            &[
                ("amount", money(d.balance).into()),
                ("date", i18n::date(lang, d.due_date).into()),
                ("number", d.number.as_str().into()),
            ],
        );
        format!("{terms}{}", contact(lang, &d.company))
    } else {
        format!("{}{}", t("pdf-thanks"), contact(lang, &d.company))
    };
    let column = |key: &str, width: Option<f32>, align: Align| Column {
        title: t(key),
        width,
        align,
    };
    Sheet {
        paper: d.paper,
        lang,
        title: tr(
            lang,
            "pdf-invoice-title",
            &[
                ("number", d.number.as_str().into()),
                ("company", d.company.name.as_str().into()),
            ],
        ),
        company_name: d.company.name.clone(),
        company_lines: d.company.lines(lang),
        logo: d.company.logo.clone(),
        kind: t("pdf-invoice-kind"),
        facts,
        parties: vec![
            (
                t("pdf-bill-to"),
                party(&d.bill_to_name, d.bill_to_address.as_deref()),
            ),
            (t("pdf-service-address"), service),
        ],
        columns: vec![
            column("pdf-col-description", None, Align::Left),
            column("pdf-col-qty", Some(50.0), Align::Right),
            column("pdf-col-unit-price", Some(85.0), Align::Right),
            column("pdf-col-amount", Some(90.0), Align::Right),
        ],
        rows: d
            .lines
            .iter()
            .map(|l| {
                Row::Cells(vec![
                    l.description.clone(),
                    l.quantity.to_string(),
                    money(l.unit_price),
                    money(l.amount),
                ])
            })
            .collect(),
        summary,
        pay_url: if owed { d.pay_url.clone() } else { None },
        closing,
        footer: terms,
        footer_ref: tr(
            lang,
            "pdf-invoice-ref",
            &[("number", d.number.as_str().into())],
        ),
    }
}

fn statement_sheet(d: &StatementDoc) -> Sheet {
    let lang = d.lang;
    let t = |key: &str| i18n::t(lang, key);
    let money = |m: i64| i18n::money(lang, Money::new(m, d.currency));
    let total = d.total_due();
    let count: usize = d.properties.iter().map(|p| p.invoices.len()).sum();
    let mut rows = Vec::new();
    for p in &d.properties {
        rows.push(Row::Group(
            p.address.clone(),
            p.on_behalf_of.as_deref().map(|r| on_behalf_note(lang, r)),
        ));
        for i in &p.invoices {
            rows.push(Row::Cells(vec![
                i.number.clone(),
                i18n::date(lang, i.issue_date),
                i18n::date(lang, i.due_date),
                money(i.total),
                money(i.balance),
            ]));
        }
    }
    let owed = total > 0;
    let column = |key: &str, width: Option<f32>, align: Align| Column {
        title: t(key),
        width,
        align,
    };
    let name = d.customer_name.as_str();
    Sheet {
        paper: d.paper,
        lang,
        title: tr(
            lang,
            "pdf-statement-title",
            &[
                ("name", name.into()),
                ("company", d.company.name.as_str().into()),
            ],
        ),
        company_name: d.company.name.clone(),
        company_lines: d.company.lines(lang),
        logo: d.company.logo.clone(),
        kind: t("pdf-statement-kind"),
        facts: vec![
            (t("pdf-statement-date"), i18n::date(lang, d.date)),
            (t("pdf-open-invoices"), count.to_string()),
            (t("pdf-total-due"), money(total)),
        ],
        parties: vec![(
            t("pdf-statement-for"),
            party(&d.customer_name, d.customer_address.as_deref()),
        )],
        columns: vec![
            column("pdf-col-invoice", None, Align::Left),
            column("pdf-col-issued", Some(85.0), Align::Left),
            column("pdf-col-due", Some(85.0), Align::Left),
            column("pdf-col-total", Some(85.0), Align::Right),
            column("pdf-col-balance", Some(85.0), Align::Right),
        ],
        rows,
        summary: vec![(t("pdf-total-due"), money(total), true)],
        pay_url: if owed { d.pay_url.clone() } else { None },
        closing: if owed {
            None
        } else {
            Some(t("pdf-nothing-due"))
        },
        footer: format!(
            "{}{}",
            tr(
                lang,
                "pdf-as-of",
                &[("date", i18n::date(lang, d.date).into())]
            ),
            contact(lang, &d.company)
        ),
        footer_ref: tr(lang, "pdf-statement-ref", &[("name", name.into())]),
    }
}

/// Lays out and draws an invoice. Pure: no I/O.
pub fn render_invoice(doc: &InvoiceDoc) -> Result<Vec<u8>, PdfError> {
    render::render(&invoice_sheet(doc))
}

/// Lays out and draws a statement. Pure: no I/O.
pub fn render_statement(doc: &StatementDoc) -> Result<Vec<u8>, PdfError> {
    render::render(&statement_sheet(doc))
}

/// Runs a render off the async threads.
pub async fn render_blocking(
    work: impl FnOnce() -> Result<Vec<u8>, PdfError> + Send + 'static,
) -> Result<Vec<u8>, PdfError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PdfError::Render(e.to_string()))?
}

/// A file name for an invoice's PDF: `invoice-1001.pdf`, with anything but
/// letters, digits, `.`, `-` and `_` in the number replaced by `_`.
pub fn invoice_filename(number: &str) -> String {
    let safe: String = number
        .chars()
        .take(60)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("invoice-{safe}.pdf")
}

/// A demo invoice (`fieldpay` docs, benchmarks): one page, a QR code.
pub fn sample_invoice(lines: usize) -> InvoiceDoc {
    let services = [
        (
            "Quarterly general pest control, interior and exterior",
            1,
            12_500,
        ),
        ("Termite inspection, crawl space and garage", 1, 8_500),
        ("Rodent bait stations, refill", 4, 1_250),
        ("Mosquito yard treatment", 2, 4_500),
    ];
    let lines: Vec<DocLine> = (0..lines)
        .map(|i| {
            let (d, q, p) = services[i % services.len()];
            DocLine {
                description: d.to_string(),
                quantity: q,
                unit_price: p,
                amount: q * p,
            }
        })
        .collect();
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    InvoiceDoc {
        paper: PaperSize::Letter,
        company: CompanyBlock {
            name: "Greenleaf Pest Control".into(),
            address: "1200 Commerce St, Suite 4\nAustin, TX 78701".into(),
            phone: "(512) 555-0142".into(),
            email: "office@greenleaf.example".into(),
            logo: None,
        },
        number: "1042".into(),
        issue_date: time::macros::date!(2026 - 11 - 02),
        due_date: time::macros::date!(2026 - 12 - 02),
        status: "open".into(),
        bill_to_name: "Lena Landlord".into(),
        bill_to_address: Some("PO Box 118\nRound Rock, TX 78680".into()),
        property_address: "77 Elm Street, Unit B, Austin, TX 78704".into(),
        on_behalf_of: Some("Tom Tenant".into()),
        currency: Currency::USD,
        lines,
        tax: 0,
        total,
        paid: 5_000.min(total),
        balance: total - 5_000.min(total),
        pay_url: Some(
            "https://pay.greenleaf.example/pay/q1T3vXb9S0m8Zr2LkWc7eYpA5hN4uJdF6gHiKoPlMnQ".into(),
        ),
        lang: Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_sizes_parse_and_measure() {
        assert_eq!(PaperSize::parse("A4"), Some(PaperSize::A4));
        assert_eq!(PaperSize::parse(" letter "), Some(PaperSize::Letter));
        assert_eq!(PaperSize::parse("legal"), None);
        assert_eq!(PaperSize::default().size_pt(), (612.0, 792.0));
        assert_eq!(PaperSize::A4.key(), "a4");
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(invoice_filename("1001"), "invoice-1001.pdf");
        assert_eq!(invoice_filename("A/7 \"x\""), "invoice-A_7__x_.pdf");
    }

    #[test]
    fn invoice_sheet_says_on_behalf_and_drops_the_link_when_paid() {
        let mut doc = sample_invoice(2);
        let sheet = invoice_sheet(&doc);
        assert!(
            sheet.parties[1]
                .1
                .contains(&"Billed on behalf of the resident, Tom Tenant".to_string())
        );
        assert!(sheet.pay_url.is_some());
        assert_eq!(
            sheet.summary.last().map(|s| s.0.as_str()),
            Some("Balance due")
        );
        doc.balance = 0;
        doc.paid = doc.total;
        let sheet = invoice_sheet(&doc);
        assert!(sheet.pay_url.is_none());
        assert_eq!(sheet.closing.as_deref(), Some("Paid in full. Thank you!"));
    }

    #[test]
    fn png_logos_are_drawn_and_svg_logos_left_out() {
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
            .unwrap();
        let mut doc = sample_invoice(1);
        doc.company.logo = Some(Logo {
            media_type: "image/png".into(),
            bytes: png.clone(),
        });
        let with_logo = render_invoice(&doc).unwrap();
        let has_image = |pdf: &[u8]| pdf.windows(14).any(|w| w == b"/Subtype/Image");
        assert!(has_image(&with_logo));
        doc.company.logo = Some(Logo {
            media_type: "image/svg+xml".into(),
            bytes: b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        });
        assert!(!has_image(&render_invoice(&doc).unwrap()));
        doc.company.logo = Some(Logo {
            media_type: "image/png".into(),
            bytes: b"not a png".to_vec(),
        });
        assert!(render_invoice(&doc).is_ok());
        // A readable header over broken pixel data: drawn without the logo.
        let mut broken = png.clone();
        let idat = broken.windows(4).position(|w| w == b"IDAT").unwrap();
        for b in &mut broken[idat + 4..idat + 12] {
            *b ^= 0x5a;
        }
        doc.company.logo = Some(Logo {
            media_type: "image/png".into(),
            bytes: broken,
        });
        assert!(render_invoice(&doc).is_ok());
    }

    #[test]
    fn renders_a_pdf_with_the_chosen_paper() {
        let mut doc = sample_invoice(3);
        let letter = render_invoice(&doc).unwrap();
        assert!(letter.starts_with(b"%PDF-"));
        doc.paper = PaperSize::A4;
        let a4 = render_invoice(&doc).unwrap();
        assert!(a4.starts_with(b"%PDF-"));
        assert_ne!(letter, a4);
    }
}
