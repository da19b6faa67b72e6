//! "Remind all overdue": how many reminders, to how many customers, and the
//! first one as it will be sent; then one press sends them
//! (`app::messages::remind_overdue`).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::internal;
use crate::app::Rejected;
use crate::messaging::Channel;
use crate::web::AppState;
use crate::web::office::communications::sms_count_of;
use crate::web::office::{OfficeUser, page_with_status, refused};

#[derive(Deserialize, Default)]
pub(super) struct RemindForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    nonce: String,
}

fn channel_of(text: Option<&str>) -> Channel {
    match text {
        Some("sms") => Channel::Sms,
        _ => Channel::Email,
    }
}

async fn render(
    state: &AppState,
    user: &OfficeUser,
    channel: Channel,
    outcome: Option<String>,
) -> Response {
    let plan = match crate::app::messages::plan_overdue_reminders(
        &state.app,
        &user.as_actor(),
        channel,
        None,
    )
    .await
    {
        Ok(p) => p,
        Err(Rejected::Refused(r)) => return refused(state, r),
        Err(Rejected::Fields(p)) => {
            return internal(crate::store::StoreError::Unavailable(
                p.into_iter()
                    .map(|p| p.message)
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
    };
    let preview = plan.preview.as_ref().map(|p| {
        minijinja::context! {
            subject => p.rendered.subject.clone(),
            html => p.rendered.html.clone(),
            text => p.rendered.text.clone(),
            count => p.segments.map(|s| minijinja::value::Serde(sms_count_of(s))),
        }
    });
    page_with_status(
        state,
        user,
        StatusCode::OK,
        "office/invoices_remind.html",
        "invoices",
        minijinja::context! {
            channel => channel.as_str(),
            count => plan.invoices.len(),
            customers => plan.customers,
            preview => preview,
            problem => plan.problem,
            nonce => crate::crypto::random_token(16),
            outcome => outcome,
        },
    )
}

/// GET: the count and the first reminder; sends nothing.
pub(super) async fn confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<RemindForm>,
) -> Response {
    render(&state, &user, channel_of(q.channel.as_deref()), None).await
}

/// POST: sends one reminder per overdue invoice.
pub(super) async fn send(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<RemindForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let channel = channel_of(f.channel.as_deref());
    if !crate::app::messages::valid_key(&f.nonce) {
        return render(
            &state,
            &user,
            channel,
            Some("This form has expired: nothing was sent. Press the button again.".into()),
        )
        .await;
    }
    match crate::app::messages::remind_overdue(
        &state.app,
        &user.as_actor(),
        channel,
        None,
        &f.nonce,
    )
    .await
    {
        Ok(done) => {
            let mut text = format!(
                "Queued {} reminder{}.",
                done.queued,
                if done.queued == 1 { "" } else { "s" }
            );
            if done.skipped > 0 {
                text.push_str(&format!(
                    " {} not sent: no {} on file, or opted out.",
                    done.skipped,
                    if channel == Channel::Sms {
                        "phone number"
                    } else {
                        "email address"
                    }
                ));
            }
            if done.duplicates > 0 {
                text.push_str(&format!(
                    " {} were already sent by this button.",
                    done.duplicates
                ));
            }
            render(&state, &user, channel, Some(text)).await
        }
        Err(Rejected::Refused(r)) => refused(&state, r),
        Err(Rejected::Fields(p)) => {
            let text = p
                .into_iter()
                .map(|p| p.message)
                .collect::<Vec<_>>()
                .join(" ");
            render(
                &state,
                &user,
                channel,
                Some(format!("Nothing was sent: {text}")),
            )
            .await
        }
    }
}
