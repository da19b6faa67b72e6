//! Rotating or revoking a customer's payment link, after a confirmation
//! page that says what will happen.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::store_error;
use crate::domain::ids::CustomerId;
use crate::store::customers;
use crate::web::AppState;
use crate::web::office::{OfficeUser, page, refused};

// ---------------------------------------------------------------- payment link

#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkAction {
    Rotate,
    Revoke,
}

impl LinkAction {
    fn parse(s: &str) -> Option<LinkAction> {
        match s {
            "rotate" => Some(LinkAction::Rotate),
            "revoke" => Some(LinkAction::Revoke),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LinkAction::Rotate => "rotate",
            LinkAction::Revoke => "revoke",
        }
    }
}

#[derive(Deserialize)]
pub(super) struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// The confirmation step: says what will happen; changes nothing.
async fn confirm_page(
    state: &AppState,
    user: &OfficeUser,
    id: &CustomerId,
    action: &str,
) -> Response {
    let Some(action) = LinkAction::parse(action) else {
        return state.views.not_found();
    };
    let customer = match customers::get(&state.app.db, &user.company_id, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return store_error(e),
    };
    let link = match crate::app::links::shown(
        state.app.db.reader(),
        &state.app.config.secret,
        &user.company_id,
        id,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let revoked = link.as_ref().is_none_or(|l| l.revoked);
    page(
        state,
        user,
        "office/customers_link.html",
        "customers",
        minijinja::context! {
            customer => minijinja::value::Serde(&customer),
            action => action.name(),
            revoked => revoked,
        },
    )
}

pub(super) async fn link_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path((id, action)): Path<(CustomerId, String)>,
) -> Response {
    confirm_page(&state, &user, &id, &action).await
}

pub(super) async fn link_action(
    State(state): State<AppState>,
    user: OfficeUser,
    Path((id, action)): Path<(CustomerId, String)>,
    Form(form): Form<LinkForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    if form.confirm != "yes" {
        return confirm_page(&state, &user, &id, &action).await;
    }
    let Some(action) = LinkAction::parse(&action) else {
        return state.views.not_found();
    };
    let actor = user.as_actor();
    let (result, done) = match action {
        LinkAction::Rotate => (
            crate::app::links::rotate(&state.app, &actor, &id)
                .await
                .map(drop),
            "rotated",
        ),
        LinkAction::Revoke => (
            crate::app::links::revoke(&state.app, &actor, &id).await,
            "revoked",
        ),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/office/customers/{id}?done={done}")).into_response(),
        Err(r) => refused(&state, r),
    }
}
