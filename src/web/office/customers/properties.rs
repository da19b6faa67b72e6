//! Adding a property to a customer, and editing a property's address or the
//! customer responsible for billing it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::detail::{PropertyFormState, render_detail};
use super::{CHOICES_LIMIT, FieldErrors, store_error};
use crate::app::Rejected;
use crate::app::properties::{self, PropertyChange, PropertyInput};
use crate::domain::ids::{CustomerId, PropertyId};
use crate::store::customers::{self, PropertyView};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status, refused};

// ---------------------------------------------------------------- properties

#[derive(Deserialize)]
pub(super) struct NewPropertyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    bill_to: String,
}

pub(super) async fn add_property(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
    Form(form): Form<NewPropertyForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let input = PropertyInput {
        address: &form.address,
        resident_customer_id: &id,
        bill_to_customer_id: Some(&form.bill_to),
    };
    match properties::create(&state.app, &user.as_actor(), &input).await {
        Ok(_) => Redirect::to(&format!("/office/customers/{id}?done=property")).into_response(),
        Err(Rejected::Refused(r)) => refused(&state, r),
        Err(rejected) => {
            let errors = rejected.by_field().unwrap_or_default();
            if errors.contains_key("resident_customer_id") {
                return state.views.not_found();
            }
            let bill_to_error = errors.contains_key("bill_to_customer_id");
            let form_state = PropertyFormState {
                address: form.address.clone(),
                bill_to: if bill_to_error {
                    id.to_string()
                } else {
                    form.bill_to.trim().to_string()
                },
                error: errors.get("address").cloned(),
                bill_to_error: bill_to_error.then(|| CHOOSE_A_CUSTOMER.to_string()),
            };
            render_detail(
                &state,
                &user,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form_state,
            )
            .await
        }
    }
}

/// What the office says when the bill-to is not one of the company's customers.
const CHOOSE_A_CUSTOMER: &str = "Choose a customer from the list.";

#[derive(Deserialize, Default)]
pub(super) struct FromQuery {
    #[serde(default)]
    from: String,
}

#[derive(Deserialize)]
pub(super) struct PropertyEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    bill_to: String,
    #[serde(default)]
    from: String,
}

#[allow(clippy::too_many_arguments)]
async fn property_page(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    property: &PropertyView,
    address: &str,
    bill_to: &str,
    from: &str,
    errors: &FieldErrors,
) -> Response {
    let choices = match customers::choices(&state.app.db, &user.company_id, CHOICES_LIMIT).await {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    page_with_status(
        state,
        user,
        status,
        "office/property_edit.html",
        "customers",
        minijinja::context! {
            property => minijinja::value::Serde(property),
            address => address,
            bill_to => bill_to,
            from => from,
            choices => minijinja::value::Serde(&choices),
            errors => minijinja::value::Serde(errors),
        },
    )
}

/// Where to go back to after editing a property: the customer the office came
/// from when it is one of the property's customers, else the resident.
fn back_to<'a>(from: &'a str, property: &'a PropertyView, new_bill_to: &'a str) -> &'a str {
    if from == property.resident_customer_id
        || from == property.bill_to_customer_id
        || from == new_bill_to
    {
        from
    } else {
        &property.resident_customer_id
    }
}

pub(super) async fn property_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<PropertyId>,
    Query(q): Query<FromQuery>,
) -> Response {
    match customers::property_view(&state.app.db, &user.company_id, &id).await {
        Ok(Some(p)) => {
            let from = back_to(&q.from, &p, &p.bill_to_customer_id).to_string();
            property_page(
                &state,
                &user,
                StatusCode::OK,
                &p,
                &p.address,
                &p.bill_to_customer_id,
                &from,
                &FieldErrors::new(),
            )
            .await
        }
        Ok(None) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

pub(super) async fn update_property(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<PropertyId>,
    Form(form): Form<PropertyEditForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let property = match customers::property_view(&state.app.db, &user.company_id, &id).await {
        Ok(Some(p)) => p,
        Ok(None) => return state.views.not_found(),
        Err(e) => return store_error(e),
    };
    let bill_to = form.bill_to.trim();
    let change = PropertyChange {
        address: Some(&form.address),
        bill_to_customer_id: Some(bill_to),
    };
    match properties::update(&state.app, &user.as_actor(), &id, &change).await {
        Ok(_) => {
            let back = back_to(&form.from, &property, bill_to);
            Redirect::to(&format!("/office/customers/{back}?done=property-saved")).into_response()
        }
        Err(Rejected::Refused(r)) => refused(&state, r),
        Err(rejected) => {
            let mut errors = FieldErrors::new();
            for (field, message) in rejected.by_field().unwrap_or_default() {
                match field {
                    "bill_to_customer_id" => errors.insert("bill_to", CHOOSE_A_CUSTOMER.into()),
                    other => errors.insert(other, message),
                };
            }
            let bill_to = if errors.contains_key("bill_to") {
                property.bill_to_customer_id.as_str()
            } else {
                bill_to
            };
            let from = back_to(&form.from, &property, &property.bill_to_customer_id);
            property_page(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &property,
                &form.address,
                bill_to,
                from,
                &errors,
            )
            .await
        }
    }
}
