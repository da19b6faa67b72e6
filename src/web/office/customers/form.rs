//! Creating a customer (and its payment link) and editing its contact details.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{CustomerForm, FieldErrors, store_error, validate_customer};
use crate::store::customers;
use crate::store::{StoreError, audit};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status};

// ---------------------------------------------------------------- create and edit

fn customer_form_page(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    customer_id: Option<&str>,
    form: &CustomerForm,
    errors: &FieldErrors,
) -> Response {
    page_with_status(
        state,
        user,
        status,
        "office/customers_form.html",
        "customers",
        minijinja::context! {
            customer_id => customer_id,
            form => minijinja::value::Serde(form),
            errors => minijinja::value::Serde(errors),
        },
    )
}

pub(super) async fn new_form(State(state): State<AppState>, user: OfficeUser) -> Response {
    customer_form_page(
        &state,
        &user,
        StatusCode::OK,
        None,
        &CustomerForm::default(),
        &FieldErrors::new(),
    )
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(form): Form<CustomerForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let new = match validate_customer(&form, &user.country) {
        Ok(n) => n,
        Err(errors) => {
            return customer_form_page(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &form,
                &errors,
            );
        }
    };
    let result: Result<String, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let customer = customers::create(&mut tx, &user.company_id, &new).await?;
        // The payment link exists from the moment the customer does.
        crate::app::links::issue(
            &mut tx,
            &state.app.config.secret,
            &user.company_id,
            &customer.id,
        )
        .await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "customer.created",
            &customer.id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(customer.id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/office/customers/{id}?done=created")).into_response(),
        Err(e) => store_error(e),
    }
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Response {
    match customers::get(&state.app.db, &user.company_id, &id).await {
        Ok(Some(c)) => customer_form_page(
            &state,
            &user,
            StatusCode::OK,
            Some(&c.id),
            &CustomerForm::of(&c),
            &FieldErrors::new(),
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

pub(super) async fn update(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(form): Form<CustomerForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    match customers::get(&state.app.db, &user.company_id, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return state.views.not_found(),
        Err(e) => return store_error(e),
    }
    let new = match validate_customer(&form, &user.country) {
        Ok(n) => n,
        Err(errors) => {
            return customer_form_page(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&id),
                &form,
                &errors,
            );
        }
    };
    let result: Result<bool, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::update(&mut tx, &user.company_id, &id, &new).await? {
            return Ok(false);
        }
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "customer.updated",
            &id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => Redirect::to(&format!("/office/customers/{id}?done=saved")).into_response(),
        Ok(false) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}
