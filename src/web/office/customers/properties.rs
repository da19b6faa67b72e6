//! Adding a property to a customer, and editing a property's address or the
//! customer responsible for billing it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::detail::{PropertyFormState, render_detail};
use super::{CHOICES_LIMIT, FieldErrors, store_error, validate_address};
use crate::store::customers::{self, PropertyView};
use crate::store::{StoreError, audit};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status};

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
    Path(id): Path<String>,
    Form(form): Form<NewPropertyForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let result: Result<Added, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::all_belong(&mut tx, &user.company_id, &[id.as_str()]).await? {
            return Ok(Added::NoSuchCustomer);
        }
        let bill_to = match form.bill_to.trim() {
            "" => id.clone(),
            chosen => chosen.to_string(),
        };
        let bill_to_ok = customers::all_belong(&mut tx, &user.company_id, &[&bill_to]).await?;
        let address = match (validate_address(&form.address), bill_to_ok) {
            (Ok(address), true) => address,
            (address, _) => {
                return Ok(Added::Invalid(PropertyFormState {
                    address: form.address.clone(),
                    bill_to: if bill_to_ok { bill_to } else { id.clone() },
                    error: address.err(),
                    bill_to_error: (!bill_to_ok)
                        .then(|| "Choose a customer from the list.".to_string()),
                }));
            }
        };
        let p =
            customers::create_property(&mut tx, &user.company_id, &address, &id, &bill_to).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "property.created",
            &p.id,
            serde_json::json!({ "resident": id, "bill_to": bill_to }),
        )
        .await?;
        tx.commit().await?;
        Ok(Added::Done)
    }
    .await;
    match result {
        Ok(Added::Done) => {
            Redirect::to(&format!("/office/customers/{id}?done=property")).into_response()
        }
        Ok(Added::NoSuchCustomer) => state.views.not_found(),
        Ok(Added::Invalid(form_state)) => {
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
        Err(e) => store_error(e),
    }
}

enum Added {
    Done,
    NoSuchCustomer,
    Invalid(PropertyFormState),
}

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
    Path(id): Path<String>,
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
    Path(id): Path<String>,
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
    let mut errors = FieldErrors::new();
    let address = validate_address(&form.address)
        .map_err(|e| errors.insert("address", e))
        .ok();
    let result: Result<bool, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::all_belong(&mut tx, &user.company_id, &[bill_to]).await? {
            errors.insert("bill_to", "Choose a customer from the list.".into());
        }
        let Some(address) = address.filter(|_| errors.is_empty()) else {
            return Ok(false);
        };
        if !customers::update_property(&mut tx, &user.company_id, &id, &address, bill_to).await? {
            return Err(StoreError::Invalid);
        }
        if bill_to != property.bill_to_customer_id {
            audit::record(
                &mut tx,
                &user.company_id,
                &user.actor(),
                "property.bill_to_changed",
                &id,
                serde_json::json!({ "from": property.bill_to_customer_id, "to": bill_to }),
            )
            .await?;
        }
        if address != property.address {
            audit::record(
                &mut tx,
                &user.company_id,
                &user.actor(),
                "property.address_changed",
                &id,
                serde_json::json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => {
            let back = back_to(&form.from, &property, bill_to);
            Redirect::to(&format!("/office/customers/{back}?done=property-saved")).into_response()
        }
        Ok(false) => {
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
        Err(e) => store_error(e),
    }
}
