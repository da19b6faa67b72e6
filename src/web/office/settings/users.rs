//! Settings › Users: the company's office users, adding one (staff or
//! owner) and disabling one.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::{FieldErrors, internal, owners_only};
use crate::domain::contact::EmailAddress;
use crate::domain::ids::UserId;
use crate::domain::text;
use crate::store::{StoreError, audit, companies};
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, page, page_with_status};

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

// ---------------------------------------------------------------- users

#[derive(Deserialize, Default)]
pub(super) struct UsersQuery {
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

pub(super) async fn users_page(
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

pub(super) async fn add_user(
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
    let result: Result<UserId, StoreError> = async {
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
    id: &UserId,
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

pub(super) async fn disable_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<UserId>,
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

pub(super) async fn disable_user(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<UserId>,
    Form(f): Form<crate::web::office::CsrfForm>,
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
