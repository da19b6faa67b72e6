//! Creating a customer (and its payment link) and editing its contact details.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{CustomerForm, FieldErrors, store_error};
use crate::app::Rejected;
use crate::domain::ids::CustomerId;
use crate::store::customers;
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status, refused};

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
    match crate::app::customers::create(&state.app, &user.as_actor(), &form.input()).await {
        Ok(c) => Redirect::to(&format!("/office/customers/{}?done=created", c.id)).into_response(),
        Err(Rejected::Refused(r)) => refused(&state, r),
        Err(rejected) => customer_form_page(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            &form,
            &rejected.by_field().unwrap_or_default(),
        ),
    }
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
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
    Path(id): Path<CustomerId>,
    Form(form): Form<CustomerForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    match crate::app::customers::update(&state.app, &user.as_actor(), &id, &form.input()).await {
        Ok(_) => Redirect::to(&format!("/office/customers/{id}?done=saved")).into_response(),
        Err(Rejected::Refused(r)) => refused(&state, r),
        Err(rejected) => customer_form_page(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&id),
            &form,
            &rejected.by_field().unwrap_or_default(),
        ),
    }
}
