//! A company created in the browser: `/setup` on first run, `/signup` when
//! the operator opened sign-up, the CLI otherwise.

use axum::http::{Method, StatusCode};

use crate::office_auth::csrf_of;
use crate::support::{Resp, TestApp};

/// Loads a sign-up page as a browser would: its cookie and CSRF token.
async fn open_form(t: &TestApp, path: &str) -> (String, String) {
    let page = t.get(path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let cookie = page
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (cookie, csrf_of(&page.body))
}

/// Posts a sign-up form loaded by `open_form`.
async fn post_form(
    t: &TestApp,
    path: &str,
    (cookie, csrf): &(String, String),
    fields: &[(&str, &str)],
) -> Resp {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("csrf", csrf);
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    t.request(
        Method::POST,
        path,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", cookie),
        ],
        Some(body.finish()),
    )
    .await
}

/// Loads a sign-up page and posts its form as a browser would.
pub async fn sign_up(t: &TestApp, path: &str, fields: &[(&str, &str)]) -> Resp {
    let form = open_form(t, path).await;
    post_form(t, path, &form, fields).await
}

pub fn company<'a>(name: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("company_name", name),
        ("owner_email", email),
        ("owner_password", "a long enough password"),
        ("time_zone", "America/Denver"),
    ]
}

async fn companies(t: &TestApp) -> i64 {
    t.count("SELECT COUNT(*) FROM companies").await
}

#[tokio::test]
async fn the_first_visitor_sets_up_the_company_and_lands_in_the_office() {
    let t = TestApp::empty().await;
    let page = t.get("/setup").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "name=\"company_name\"",
        "name=\"owner_email\"",
        "name=\"owner_password\"",
        "<select id=\"time_zone\" name=\"time_zone\"",
        "Central time (Chicago)",
        "name=\"csrf\"",
    ] {
        assert!(page.body.contains(text), "{text}");
    }

    // Mistakes are said next to the field, and nothing is created.
    for (field, value, words) in [
        ("owner_email", "not-an-email", "Enter your email address"),
        ("owner_password", "short", "at least 10 characters"),
        ("time_zone", "Mars/Olympus", "Choose your time zone"),
        ("company_name", "Bad\nName", "(one line)"),
    ] {
        let mut fields = company("Acme Pest", "owner@acme.test");
        fields.retain(|(k, _)| *k != field);
        fields.push((field, value));
        let r = sign_up(&t, "/setup", &fields).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.body
        );
        assert!(r.body.contains(words), "{field}: {}", r.body);
        assert!(r.body.contains("value=\"Acme Pest\"") || field == "company_name");
    }
    // Without the form's token: refused.
    let bare = t
        .request(
            Method::POST,
            "/setup",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(
                "company_name=X&owner_email=x%40x.test&owner_password=long+enough+pw&time_zone=UTC"
                    .into(),
            ),
        )
        .await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    assert_eq!(companies(&t).await, 0);

    let r = sign_up(&t, "/setup", &company("Acme Pest", "Owner@Acme.test")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.header("location"), "/office/dashboard");
    let session = r
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let dash = t
        .request(
            Method::GET,
            "/office/dashboard",
            &[("cookie", &session)],
            None,
        )
        .await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("Acme Pest"));
    let (zone, role, email): (String, String, String) = fieldpay::store::sql::query_as(
        "SELECT c.time_zone, u.role, u.email FROM companies c JOIN office_users u ON u.company_id = c.id",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(
        (zone.as_str(), role.as_str(), email.as_str()),
        ("America/Denver", "owner", "owner@acme.test")
    );

    // From then on /setup is a page like any unknown one.
    assert_eq!(t.get("/setup").await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get("/signup").await.status, StatusCode::NOT_FOUND);
    assert_eq!(companies(&t).await, 1);
}

#[tokio::test]
async fn two_first_visitors_at_once_make_one_company() {
    let t = TestApp::empty().await;
    let (first, second) = (
        company("First Pest", "first@pest.test"),
        company("Second Pest", "second@pest.test"),
    );
    // Both open the form while there is no company, then both submit.
    let (form_a, form_b) = (open_form(&t, "/setup").await, open_form(&t, "/setup").await);
    let (a, b) = tokio::join!(
        post_form(&t, "/setup", &form_a, &first),
        post_form(&t, "/setup", &form_b, &second),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 404], "{} / {}", a.body, b.body);
    assert_eq!(companies(&t).await, 1);
}

#[tokio::test]
async fn open_sign_up_makes_more_companies_and_off_makes_none() {
    let mut t = TestApp::new().await;
    // By default (first run) a server with a company has no sign-up.
    assert_eq!(t.get("/signup").await.status, StatusCode::NOT_FOUND);
    t.configure(|c| c.signup = fieldpay::config::Signup::Open);
    let r = sign_up(&t, "/signup", &company("Bugs Be Gone", "boss@bugs.test")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(companies(&t).await, 2);
    // An email that already has an office account: said, nothing made.
    let again = sign_up(&t, "/signup", &company("Bugs Again", "boss@bugs.test")).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.contains("exists already"));
    assert_eq!(companies(&t).await, 2);

    t.configure(|c| c.signup = fieldpay::config::Signup::Off);
    assert_eq!(t.get("/signup").await.status, StatusCode::NOT_FOUND);
    let empty = {
        let mut e = TestApp::empty().await;
        e.configure(|c| c.signup = fieldpay::config::Signup::Off);
        e
    };
    assert_eq!(empty.get("/setup").await.status, StatusCode::NOT_FOUND);
}
