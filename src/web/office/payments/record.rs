//! Recording a payment the customer made: the form (open invoices, saved
//! cards, the processor's card fields) and its submission.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};

use super::{fail, fmt, nonce};
use crate::app::payments::{
    OfficeMethod, OfficePaid, PaymentKey, RecordPayment, Spread, record_office_payment,
};
use crate::domain::ids::{CustomerId, InvoiceId};
use crate::domain::money::{Currency, parse_amount};
use crate::store::payments as store;
use crate::store::{companies, customers};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, page, page_with_status};

#[derive(Deserialize, Default)]
pub(super) struct NewQuery {
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    q: String,
}

#[derive(Deserialize, Default, Serialize, Clone)]
pub(super) struct PaymentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customer_id: CustomerId,
    #[serde(default)]
    invoice_ids: Vec<InvoiceId>,
    /// `cash`, `check`, `card` (a processor token) or a saved card's id.
    #[serde(default)]
    method: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    check_number: String,
    #[serde(default)]
    card_token: String,
    #[serde(default)]
    nonce: String,
}

#[derive(Default, Serialize)]
struct FormErrors {
    general: Option<String>,
    invoice_ids: Option<String>,
    amount: Option<String>,
    check_number: Option<String>,
    card: Option<String>,
    method: Option<String>,
}

#[derive(Serialize)]
struct InvoiceRow {
    id: String,
    number: String,
    address: String,
    due: String,
    total: String,
    balance: String,
    locked: bool,
    checked: bool,
}

#[derive(Serialize)]
struct CardRow {
    id: String,
    label: String,
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<NewQuery>,
) -> Response {
    if q.customer_id.is_empty() {
        let hits = if q.q.trim().is_empty() {
            Vec::new()
        } else {
            match customers::search(&state.app.db, &user.company_id, q.q.trim(), 50).await {
                Ok(h) => h,
                Err(e) => return fail(e),
            }
        };
        return page(
            &state,
            &user,
            "office/payment_new.html",
            "payments",
            minijinja::context! { pick => true, find => q.q.as_str(), hits => minijinja::value::Serde(&hits) },
        );
    }
    let form = PaymentForm {
        customer_id: q.customer_id.as_str().into(),
        method: "cash".into(),
        nonce: nonce(),
        ..PaymentForm::default()
    };
    render_form(
        &state,
        &user,
        StatusCode::OK,
        form,
        FormErrors::default(),
        true,
    )
    .await
}

/// The record-payment form for a customer; 404 for another company's customer.
async fn render_form(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    form: PaymentForm,
    errors: FormErrors,
    select_all: bool,
) -> Response {
    let customer = match customers::get(&state.app.db, &user.company_id, &form.customer_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return fail(e),
    };
    let (invoices, cards) = match tokio::try_join!(
        store::office_open_invoices(&state.app.db, &user.company_id, &customer.id),
        store::saved_methods(&state.app.db, &user.company_id, &customer.id)
    ) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // A Stripe company's card is typed into Stripe.js's fields (pm_…).
    let processor = match crate::app::processors::page_processor(&state.app, &user.company_id).await
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let currency = invoices
        .first()
        .and_then(|i| Currency::parse(&i.currency))
        .unwrap_or(Currency::USD);
    let total: i64 = invoices.iter().map(|i| i.balance).sum();
    let rows: Vec<InvoiceRow> = invoices
        .iter()
        .map(|i| {
            let c = Currency::parse(&i.currency).unwrap_or(Currency::USD);
            InvoiceRow {
                id: i.id.to_string(),
                number: i.number.clone(),
                address: i.address.clone(),
                due: crate::domain::dates::display(i.due_date),
                total: fmt(i.total, c),
                balance: fmt(i.balance, c),
                locked: i.locked,
                checked: select_all || form.invoice_ids.contains(&i.id),
            }
        })
        .collect();
    let cards: Vec<CardRow> = cards
        .iter()
        .map(|m| CardRow {
            id: m.id.to_string(),
            label: format!(
                "{} ending {}, expires {:02}/{:02}",
                m.brand,
                m.last4,
                m.exp_month,
                m.exp_year % 100
            ),
        })
        .collect();
    let resp = page_with_status(
        state,
        user,
        status,
        "office/payment_new.html",
        "payments",
        minijinja::context! {
            pick => false,
            customer => minijinja::value::Serde(&customer),
            invoices => minijinja::value::Serde(&rows),
            open_total => fmt(total, currency),
            cards => minijinja::value::Serde(&cards),
            form => minijinja::value::Serde(&form),
            errors => minijinja::value::Serde(&errors),
            processor => minijinja::value::Serde(&processor),
        },
    );
    // Stripe.js is allowed on this page only, and only for a Stripe company.
    crate::web::with_processor_csp(resp, &processor)
}

/// Whether a typed card's reference is one the company's processor takes:
/// a PaymentMethod id from Stripe.js for Stripe, a sandbox token otherwise.
fn card_reference_ok(reference: &str, stripe: bool) -> bool {
    let prefix = if stripe { "pm_" } else { "tok_" };
    reference.len() > prefix.len() && reference.len() <= 255 && reference.starts_with(prefix)
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(form): Form<PaymentForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    let mut errors = FormErrors::default();
    if form.invoice_ids.is_empty() {
        errors.invoice_ids = Some("Select at least one invoice.".into());
    }
    let amount = if form.amount.trim().is_empty() {
        None
    } else {
        // Amounts are typed in the invoices' currency (the company's).
        let currency = companies::get(&state.app.db, &user.company_id)
            .await
            .ok()
            .flatten()
            .map(|c| c.currency)
            .unwrap_or(Currency::USD);
        match parse_amount(&form.amount, currency.minor_digits()) {
            Ok(a) => Some(a),
            Err(m) => {
                errors.amount = Some(m.into());
                None
            }
        }
    };
    let method = form.method.as_str();
    if !matches!(method, "cash" | "check" | "card") && !method.starts_with("pmt_") {
        errors.method = Some("Choose how the customer paid.".into());
    }
    if method == "check" && form.check_number.trim().is_empty() {
        errors.check_number = Some("Enter the check number.".into());
    }
    if method == "card" {
        let stripe =
            match crate::app::processors::page_processor(&state.app, &user.company_id).await {
                Ok(p) => p.is_stripe(),
                Err(e) => return fail(e),
            };
        if !card_reference_ok(form.card_token.trim(), stripe) {
            errors.card = Some(if stripe {
                "Enter the card in the card fields. Card entry needs JavaScript turned on.".into()
            } else {
                "Enter the card token (tok_…) that the processor's card form produced.".into()
            });
        }
    }
    if errors.invoice_ids.is_some()
        || errors.amount.is_some()
        || errors.method.is_some()
        || errors.check_number.is_some()
        || errors.card.is_some()
    {
        return render_form(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            errors,
            false,
        )
        .await;
    }

    let method = match method {
        "cash" => OfficeMethod::Cash,
        "check" => OfficeMethod::Check {
            number: form.check_number.clone(),
        },
        "card" => OfficeMethod::Card {
            payment_method: form.card_token.trim().to_string(),
        },
        saved => OfficeMethod::Card {
            payment_method: saved.to_string(),
        },
    };
    let req = RecordPayment {
        customer_id: form.customer_id.clone(),
        method,
        spread: Spread::InOrder {
            invoice_ids: form.invoice_ids.iter().map(|i| i.to_string()).collect(),
            amount,
        },
        key: PaymentKey::Form(form.nonce.clone()),
    };
    let e = match record_office_payment(&state.app, &user.as_actor(), &req).await {
        Ok(OfficePaid::Recorded { payment_id, .. }) => {
            return Redirect::to(&format!("/office/payments/{payment_id}?done=recorded"))
                .into_response();
        }
        Ok(OfficePaid::Declined(d)) => {
            errors.card = Some(d.message);
            return render_form(
                &state,
                &user,
                StatusCode::PAYMENT_REQUIRED,
                form,
                errors,
                false,
            )
            .await;
        }
        Ok(OfficePaid::Pending { .. }) => {
            errors.general = Some(crate::web::error::PENDING_MESSAGE.into());
            return render_form(&state, &user, StatusCode::ACCEPTED, form, errors, false).await;
        }
        Err(e) => ApiError::from(e),
    };
    if e.status == StatusCode::NOT_FOUND {
        return state.views.not_found();
    }
    let retry = [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE];
    if e.status.is_server_error() && !retry.contains(&e.status) {
        return e.into_response();
    }
    match e.field.as_deref() {
        Some("payment_method") => errors.card = Some(e.message),
        Some("invoice_ids" | "allocations") => errors.invoice_ids = Some(e.message),
        Some("amount") => errors.amount = Some(e.message),
        Some("check_number") => errors.check_number = Some(e.message),
        _ => errors.general = Some(e.message),
    }
    render_form(&state, &user, e.status, form, errors, false).await
}

#[cfg(test)]
mod tests {
    use super::card_reference_ok;

    #[test]
    fn a_typed_card_is_the_processors_own_reference() {
        assert!(card_reference_ok("tok_abc", false));
        assert!(!card_reference_ok("pm_abc", false));
        assert!(card_reference_ok("pm_abc", true));
        assert!(!card_reference_ok("tok_abc", true));
        assert!(!card_reference_ok("pm_", true));
        assert!(!card_reference_ok(&format!("pm_{}", "x".repeat(300)), true));
    }
}
