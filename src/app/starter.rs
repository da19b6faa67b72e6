//! What every new company starts with, so that sending works on day one:
//! email templates for a new invoice, a reminder and a receipt in one
//! branded, responsive layout (logo, accent colour, a payment button that
//! Outlook and Gmail both draw, a plain-text part), SMS templates for a
//! reminder and a receipt, each also in Spanish for customers who read
//! Spanish, a default alert schedule and receipts on. Written
//! in the transaction that creates the company; all of it can be edited or
//! removed afterwards like anything the office made.

use crate::domain::i18n::Lang;
use crate::domain::ids::CompanyId;
use crate::domain::message::{EmailTranslations, SmsTranslation, SmsTranslations, TemplateEmail};
use crate::messaging::template::{
    check_email_fields, check_email_translation, check_sms_fields, check_sms_translation,
};
use crate::store::alerts::{self, ReceiptSettings, RuleFields, Timing};
use crate::store::templates::{self, EmailFields};
use crate::store::{Conn, StoreResult};

/// One starter email template.
pub struct StarterEmail {
    pub name: &'static str,
    pub subject: &'static str,
    /// The message inside the layout (HTML).
    pub message_html: &'static str,
    /// The plain-text part.
    pub text: &'static str,
    /// Whether the layout carries the payment button.
    pub button: bool,
    /// The same in Spanish.
    pub es: StarterText,
}

/// A starter email's words in another language.
pub struct StarterText {
    pub subject: &'static str,
    pub message_html: &'static str,
    pub text: &'static str,
}

pub const NEW_INVOICE: StarterEmail = StarterEmail {
    name: "New invoice",
    subject: "Invoice {{ invoice_number }} from {{ company_name }}",
    message_html: "<p style=\"margin:0 0 16px\">Hi {{ customer_first_name }},</p>\n<p style=\"margin:0 0 16px\">Your invoice <strong>{{ invoice_number }}</strong> for <strong>{{ invoice_total }}</strong> is ready. It is due <strong>{{ invoice_due_date }}</strong>.</p>\n<p style=\"margin:0\">Pay it online in a minute with the button below.</p>",
    text: "Hi {{ customer_first_name }},\n\nYour invoice {{ invoice_number }} from {{ company_name }} for {{ invoice_total }} is ready. It is due {{ invoice_due_date }}.\n\nPay online: {{ sms_payment_link }}\n{% if company_phone %}\nQuestions? Call {{ company_phone }}.\n{% endif %}",
    button: true,
    es: StarterText {
        subject: "Factura {{ invoice_number }} de {{ company_name }}",
        message_html: "<p style=\"margin:0 0 16px\">Hola {{ customer_first_name }}:</p>\n<p style=\"margin:0 0 16px\">Su factura <strong>{{ invoice_number }}</strong> por <strong>{{ invoice_total }}</strong> está lista. Vence el <strong>{{ invoice_due_date }}</strong>.</p>\n<p style=\"margin:0\">Páguela en línea en un minuto con el botón de abajo.</p>",
        text: "Hola {{ customer_first_name }}:\n\nSu factura {{ invoice_number }} de {{ company_name }} por {{ invoice_total }} está lista. Vence el {{ invoice_due_date }}.\n\nPague en línea: {{ sms_payment_link }}\n{% if company_phone %}\n¿Preguntas? Llame al {{ company_phone }}.\n{% endif %}",
    },
};

pub const REMINDER: StarterEmail = StarterEmail {
    name: "Payment reminder",
    subject: "Reminder: invoice {{ invoice_number }}, {{ invoice_balance }} due {{ invoice_due_date }}",
    message_html: "<p style=\"margin:0 0 16px\">Hi {{ customer_first_name }},</p>\n<p style=\"margin:0 0 16px\">A friendly reminder: invoice <strong>{{ invoice_number }}</strong> has <strong>{{ invoice_balance }}</strong> to pay, due <strong>{{ invoice_due_date }}</strong>.</p>\n<p style=\"margin:0\">If you have paid already, thank you, and please ignore this message.</p>",
    text: "Hi {{ customer_first_name }},\n\nA friendly reminder: invoice {{ invoice_number }} from {{ company_name }} has {{ invoice_balance }} to pay, due {{ invoice_due_date }}.\n\nPay online: {{ sms_payment_link }}\n\nIf you have paid already, thank you, and please ignore this message.\n{% if company_phone %}\nQuestions? Call {{ company_phone }}.\n{% endif %}",
    button: true,
    es: StarterText {
        subject: "Recordatorio: factura {{ invoice_number }}, {{ invoice_balance }} vence el {{ invoice_due_date }}",
        message_html: "<p style=\"margin:0 0 16px\">Hola {{ customer_first_name }}:</p>\n<p style=\"margin:0 0 16px\">Un recordatorio amable: la factura <strong>{{ invoice_number }}</strong> tiene <strong>{{ invoice_balance }}</strong> por pagar, con vencimiento el <strong>{{ invoice_due_date }}</strong>.</p>\n<p style=\"margin:0\">Si ya pagó, muchas gracias; por favor ignore este mensaje.</p>",
        text: "Hola {{ customer_first_name }}:\n\nUn recordatorio amable: la factura {{ invoice_number }} de {{ company_name }} tiene {{ invoice_balance }} por pagar, con vencimiento el {{ invoice_due_date }}.\n\nPague en línea: {{ sms_payment_link }}\n\nSi ya pagó, muchas gracias; por favor ignore este mensaje.\n{% if company_phone %}\n¿Preguntas? Llame al {{ company_phone }}.\n{% endif %}",
    },
};

pub const RECEIPT: StarterEmail = StarterEmail {
    name: "Payment receipt",
    subject: "Receipt: {{ payment_amount }} paid to {{ company_name }}",
    message_html: "<p style=\"margin:0 0 16px\">Hi {{ customer_first_name }},</p>\n<p style=\"margin:0 0 16px\">Thank you! We received your payment of <strong>{{ payment_amount }}</strong>{% if card_last4 %} by {{ card_brand }} ending {{ card_last4 }}{% endif %}.</p>\n<p style=\"margin:0\">Your receipts and invoices are always in your account: <a href=\"{{ portal_link }}\" style=\"color:{{ company_accent_color }}\">{{ portal_link }}</a></p>",
    text: "Hi {{ customer_first_name }},\n\nThank you! {{ company_name }} received your payment of {{ payment_amount }}{% if card_last4 %} by {{ card_brand }} ending {{ card_last4 }}{% endif %}.\n\nYour receipts and invoices: {{ portal_link }}\n{% if company_phone %}\nQuestions? Call {{ company_phone }}.\n{% endif %}",
    button: false,
    es: StarterText {
        subject: "Recibo: {{ payment_amount }} pagado a {{ company_name }}",
        message_html: "<p style=\"margin:0 0 16px\">Hola {{ customer_first_name }}:</p>\n<p style=\"margin:0 0 16px\">¡Gracias! Recibimos su pago de <strong>{{ payment_amount }}</strong>{% if card_last4 %} con {{ card_brand }} terminada en {{ card_last4 }}{% endif %}.</p>\n<p style=\"margin:0\">Sus recibos y facturas están siempre en su cuenta: <a href=\"{{ portal_link }}\" style=\"color:{{ company_accent_color }}\">{{ portal_link }}</a></p>",
        text: "Hola {{ customer_first_name }}:\n\n¡Gracias! {{ company_name }} recibió su pago de {{ payment_amount }}{% if card_last4 %} con {{ card_brand }} terminada en {{ card_last4 }}{% endif %}.\n\nSus recibos y facturas: {{ portal_link }}\n{% if company_phone %}\n¿Preguntas? Llame al {{ company_phone }}.\n{% endif %}",
    },
};

/// The SMS reminder: one GSM-7 segment (160 characters) with a payment
/// link of up to about 75 characters and a short company name.
pub const SMS_REMINDER: (&str, &str) = (
    "Payment reminder (SMS)",
    "{{ company_name }}: {{ invoice_balance }} due {{ invoice_due_date }}. Pay: {{ sms_payment_link }}",
);

pub const SMS_RECEIPT: (&str, &str) = (
    "Payment receipt (SMS)",
    "{{ company_name }}: thank you, we received {{ payment_amount }}.",
);

/// The SMS templates in Spanish, worded without the accents GSM-7 lacks so
/// that they stay GSM-7 (an accent would make them UCS-2, 70 characters a
/// segment): the reminder fits one segment as the English one does.
pub const SMS_REMINDER_ES: &str = "{{ company_name }}: {{ invoice_balance }} vence {{ invoice_due_date }}. Pague: {{ sms_payment_link }}";
pub const SMS_RECEIPT_ES: &str =
    "{{ company_name }}: gracias, recibimos su pago de {{ payment_amount }}.";

/// The default alert schedule: `(timing, days, email?, sms?)` where the
/// email is the new-invoice template at issue and the reminder otherwise.
pub const SCHEDULE: &[(Timing, i64, bool, bool)] = &[
    (Timing::AtCreation, 0, true, false),
    (Timing::BeforeDue, 3, true, false),
    (Timing::AfterDue, 3, true, true),
    (Timing::AfterDue, 14, true, true),
    (Timing::AfterDue, 30, true, true),
];

/// The branded, responsive layout around a message: a 600 px table (100 % on
/// phones), the logo (or the name) on a band of the accent colour, the
/// message, the payment button (a VML round rectangle for Outlook on
/// Windows, a styled link everywhere else) and the company's phone.
pub fn email_html(message_html: &str, button: bool) -> String {
    email_html_in(Lang::En, message_html, button)
}

/// The layout's own words in a language: `(button, "or open this
/// address", "questions? call")`, and the payment button outside Outlook
/// (English: the `email_payment_link` variable's; Spanish: the same
/// styled link with its words).
fn layout_words(lang: Lang) -> (&'static str, &'static str, &'static str, &'static str) {
    match lang {
        Lang::En => (
            "Click Here to Make Payment",
            "Or open this address:",
            "Questions? Call",
            "{{ email_payment_link }}",
        ),
        Lang::Es => (
            "Haga clic aquí para pagar",
            "O abra esta dirección:",
            "¿Preguntas? Llame al",
            "<a href=\"{{ sms_payment_link }}\" style=\"display:inline-block;padding:14px 28px;background:{{ company_accent_color }};color:#ffffff;border-radius:6px;font:bold 17px/1.2 Arial,Helvetica,sans-serif;text-decoration:none\">Haga clic aquí para pagar</a>",
        ),
    }
}

/// `email_html` with the layout's words in `lang`.
pub fn email_html_in(lang: Lang, message_html: &str, button: bool) -> String {
    let (button_words, or_open, questions, anchor) = layout_words(lang);
    let code = lang.code();
    let button_html = if button {
        format!(
            "<tr><td align=\"center\" style=\"padding:8px 24px 24px\">\n<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" align=\"center\"><tr><td align=\"center\" bgcolor=\"{{{{ company_accent_color }}}}\" style=\"border-radius:6px;background:{{{{ company_accent_color }}}}\">\n<!--[if mso]><v:roundrect xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:w=\"urn:schemas-microsoft-com:office:word\" href=\"{{{{ sms_payment_link }}}}\" style=\"height:50px;v-text-anchor:middle;width:300px\" arcsize=\"12%\" stroke=\"f\" fillcolor=\"{{{{ company_accent_color }}}}\"><w:anchorlock/><center style=\"color:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:17px;font-weight:bold\">{button_words}</center></v:roundrect><![endif]-->\n<!--[if !mso]><!-->{anchor}<!--<![endif]-->\n</td></tr></table>\n<p style=\"margin:12px 0 0;font:13px/1.4 Arial,Helvetica,sans-serif;color:#57606a\">{or_open} <a href=\"{{{{ sms_payment_link }}}}\" style=\"color:#57606a;word-break:break-all\">{{{{ sms_payment_link }}}}</a></p>\n</td></tr>\n"
        )
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"x-apple-disable-message-reformatting\">\n<title>{{{{ company_name }}}}</title>\n</head>\n<body style=\"margin:0;padding:0;background:#f3f4f6\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"background:#f3f4f6\"><tr><td align=\"center\" style=\"padding:24px 8px\">\n<table role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" style=\"width:100%;max-width:600px;background:#ffffff;border-radius:8px\">\n<tr><td bgcolor=\"{{{{ company_accent_color }}}}\" style=\"padding:20px 24px;background:{{{{ company_accent_color }}}};border-radius:8px 8px 0 0;font:bold 20px/1.3 Arial,Helvetica,sans-serif;color:#ffffff\">{{% if company_logo_url %}}<img src=\"{{{{ company_logo_url }}}}\" alt=\"{{{{ company_name }}}}\" height=\"48\" style=\"display:block;height:48px;width:auto;max-width:240px;border:0;background:#ffffff;border-radius:4px;padding:4px\">{{% else %}}{{{{ company_name }}}}{{% endif %}}</td></tr>\n<tr><td style=\"padding:24px;font:16px/1.5 Arial,Helvetica,sans-serif;color:#1b1f24\">\n{message_html}\n</td></tr>\n{button_html}<tr><td style=\"padding:16px 24px 24px;border-top:1px solid #e5e7eb;font:14px/1.5 Arial,Helvetica,sans-serif;color:#57606a\">{{{{ company_name }}}}{{% if company_phone %}} &middot; {questions} <a href=\"tel:{{{{ company_phone }}}}\" style=\"color:#57606a\">{{{{ company_phone }}}}</a>{{% endif %}}</td></tr>\n</table>\n</td></tr></table>\n</body>\n</html>\n"
    )
}

/// A starter email's Spanish text, in the Spanish layout.
pub fn spanish_email(t: &StarterEmail) -> EmailTranslations {
    let source = TemplateEmail {
        subject: t.es.subject.to_string(),
        html_body: email_html_in(Lang::Es, t.es.message_html, t.button),
        text_body: Some(t.es.text.to_string()),
    };
    EmailTranslations::from([(Lang::Es, source)])
}

fn spanish_sms(body: &str) -> SmsTranslations {
    let body = body.to_string();
    SmsTranslations::from([(Lang::Es, SmsTranslation { body })])
}

/// Writes the starter content for a new company in its creation
/// transaction. The templates are checked like any saved template (a unit
/// test renders each).
pub async fn write(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<()> {
    let mut email_ids = Vec::new();
    for t in [&NEW_INVOICE, &REMINDER, &RECEIPT] {
        let html = email_html(t.message_html, t.button);
        let translations = spanish_email(t);
        let saved = templates::create_email(
            conn,
            company_id,
            &EmailFields {
                name: t.name,
                subject: t.subject,
                html_body: &html,
                text_body: Some(t.text),
                attach_invoice_pdf: false,
                translations: &translations,
            },
        )
        .await?;
        email_ids.push(saved.id);
    }
    let (new_invoice, reminder, receipt) = (&email_ids[0], &email_ids[1], &email_ids[2]);
    templates::set_default_email(conn, company_id, reminder, true).await?;
    let sms_reminder = templates::create_sms(
        conn,
        company_id,
        SMS_REMINDER.0,
        SMS_REMINDER.1,
        &spanish_sms(SMS_REMINDER_ES),
    )
    .await?;
    templates::set_default_sms(conn, company_id, &sms_reminder.id, true).await?;
    templates::create_sms(
        conn,
        company_id,
        SMS_RECEIPT.0,
        SMS_RECEIPT.1,
        &spanish_sms(SMS_RECEIPT_ES),
    )
    .await?;
    let now = conn.now();
    for &(timing, days, email, sms) in SCHEDULE {
        let email_id = if timing == Timing::AtCreation {
            new_invoice
        } else {
            reminder
        };
        alerts::create(
            conn,
            company_id,
            &RuleFields {
                email_template_id: email.then_some(email_id.as_str()),
                sms_template_id: sms.then_some(sms_reminder.id.as_str()),
                timing,
                days,
                enabled: true,
            },
            now,
        )
        .await?;
    }
    alerts::set_receipt_settings(
        conn,
        company_id,
        &ReceiptSettings {
            email_template_id: Some(receipt.into()),
            sms_template_id: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Every starter template passes the checks a saved template passes.
pub fn check_all() -> Result<(), String> {
    for t in [&NEW_INVOICE, &REMINDER, &RECEIPT] {
        check_email_fields(
            t.name,
            t.subject,
            &email_html(t.message_html, t.button),
            t.text,
        )
        .map_err(|e| format!("{}: {e:?}", t.name))?;
        for (lang, es) in spanish_email(t) {
            let text = es.text_body.as_deref().unwrap_or("");
            check_email_translation(lang, &es.subject, &es.html_body, text)
                .map_err(|e| format!("{} (es): {e:?}", t.name))?;
        }
    }
    for (name, body) in [SMS_REMINDER, SMS_RECEIPT] {
        check_sms_fields(name, body).map_err(|e| format!("{name}: {e:?}"))?;
    }
    for body in [SMS_REMINDER_ES, SMS_RECEIPT_ES] {
        check_sms_translation(Lang::Es, body).map_err(|e| format!("{body}: {e:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messaging::template::{MessageVars, render_email, render_sms, sms_segments};

    #[test]
    fn starter_templates_pass_the_template_checks() {
        check_all().unwrap();
    }

    #[test]
    fn the_email_has_a_button_for_outlook_and_for_everyone_else() {
        let vars = MessageVars {
            payment_url:
                "https://pay.greenleafpest.com/pay/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
                    .into(),
            company_accent_color: "#2e7d32".into(),
            ..MessageVars::sample("https://pay.greenleafpest.com")
        };
        let t = crate::domain::message::TemplateEmail {
            subject: NEW_INVOICE.subject.into(),
            html_body: email_html(NEW_INVOICE.message_html, true),
            text_body: Some(NEW_INVOICE.text.into()),
        };
        let out = render_email(&t, &vars).unwrap();
        let html = out.html.unwrap();
        assert!(html.contains("<v:roundrect"), "{html}");
        assert!(html.contains(&format!("href=\"{}\"", vars.payment_url)));
        assert!(html.contains("fillcolor=\"#2e7d32\""));
        assert!(html.contains(">Click Here to Make Payment</a>"));
        assert!(html.contains("max-width:600px"));
        assert!(html.contains(&vars.company_name));
        assert!(
            out.text
                .contains(&format!("Pay online: {}", vars.payment_url))
        );
        assert!(!out.text.contains('<'), "{}", out.text);
        let with_logo = MessageVars {
            company_logo_url: "https://pay.greenleafpest.com/logo/co_1".into(),
            ..vars
        };
        let html = render_email(&t, &with_logo).unwrap().html.unwrap();
        assert!(html.contains("<img src=\"https://pay.greenleafpest.com/logo/co_1\""));
    }

    #[test]
    fn the_spanish_email_speaks_spanish_around_the_same_button() {
        let vars = MessageVars {
            company_accent_color: "#2e7d32".into(),
            ..MessageVars::sample("https://pay.greenleafpest.com")
        };
        let es = spanish_email(&REMINDER).remove(&Lang::Es).unwrap();
        let out = render_email(&es, &vars).unwrap();
        let html = out.html.unwrap();
        assert!(html.contains("<html lang=\"es\">"), "{html}");
        assert!(html.contains("<v:roundrect"), "{html}");
        assert!(html.contains(&format!("href=\"{}\"", vars.payment_url)));
        assert!(html.contains(">Haga clic aquí para pagar</a>"), "{html}");
        assert!(!html.contains("Click Here"), "{html}");
        assert!(out.subject.starts_with("Recordatorio: factura"));
        assert!(
            out.text
                .contains(&format!("Pague en línea: {}", vars.payment_url))
        );
    }

    #[test]
    fn the_sms_reminder_fits_one_segment_with_a_real_link() {
        // A real link: an https origin and a 43-character token.
        let vars = MessageVars {
            payment_url: format!("https://pay.greenleafpest.com/pay/{}", "x".repeat(43)),
            company_name: "Greenleaf Pest Control".into(),
            invoice_balance: "$1,149.00".into(),
            invoice_due_date: "Dec 15, 2026".into(),
            ..MessageVars::sample("https://pay.greenleafpest.com")
        };
        for body in [SMS_REMINDER.1, SMS_REMINDER_ES] {
            let text = render_sms(body, &vars).unwrap().text;
            let n = sms_segments(&text);
            assert_eq!(n.segments, 1, "{} characters: {text}", n.units);
            assert_eq!(n.encoding, crate::messaging::template::SmsEncoding::Gsm7);
        }
    }
}
