//! Office sign-in, sessions, CSRF and company isolation.

use axum::http::{Method, StatusCode};

use crate::support::{Resp, TestApp};

/// The value of a hidden `csrf` field on a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("csrf field") + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// A signed-in office session: its cookie and CSRF token.
pub struct Office {
    pub cookie: String,
    pub csrf: String,
}

impl Office {
    pub async fn sign_in(t: &TestApp, email: &str, password: &str) -> Office {
        let r = t
            .post_signin(
                "/office/login",
                &[("email", email), ("password", password)],
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let set = r.header("set-cookie").to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let dash = t
            .request(
                Method::GET,
                "/office/dashboard",
                &[("cookie", &cookie)],
                None,
            )
            .await;
        assert_eq!(dash.status, StatusCode::OK);
        Office {
            csrf: csrf_of(&dash.body),
            cookie,
        }
    }

    pub async fn get(&self, t: &TestApp, path: &str) -> Resp {
        t.request(Method::GET, path, &[("cookie", &self.cookie)], None)
            .await
    }

    /// Posts a form; `csrf` is added unless the fields carry one.
    pub async fn post(&self, t: &TestApp, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(format!("csrf={}", urlencode(&self.csrf)));
        }
        t.request(
            Method::POST,
            path,
            &[
                ("cookie", &self.cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(pairs.join("&")),
        )
        .await
    }
}

pub fn urlencode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test]
async fn sign_in_good_bad_and_rate_limited() {
    let t = TestApp::new().await;
    let office = Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD).await;
    let dash = office.get(&t, "/office/dashboard").await;
    assert!(dash.body.contains("Greenleaf Pest Control"));
    // Cookie flags. Signing in again from the same browser gets a fresh
    // session id and ends the session the browser had.
    let r = t
        .post_signin(
            "/office/login",
            &[
                ("email", &t.owner_email),
                ("password", "correct horse battery"),
            ],
            None,
            Some(&office.cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let set = r.header("set-cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/office"] {
        assert!(set.contains(flag), "{set}");
    }
    let fresh = set.split(';').next().unwrap().to_string();
    assert_ne!(fresh, office.cookie);
    let old = office.get(&t, "/office/dashboard").await;
    assert_eq!(old.status, StatusCode::SEE_OTHER, "the old session ended");
    let new = t
        .request(
            Method::GET,
            "/office/dashboard",
            &[("cookie", &fresh)],
            None,
        )
        .await;
    assert_eq!(new.status, StatusCode::OK);

    // The sign-in form carries a CSRF token bound to the browser: a post
    // without it, or with another browser's, signs no one in.
    let bare = t
        .request(
            Method::POST,
            "/office/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!(
                "email={}&password=correct+horse+battery",
                urlencode(&t.owner_email)
            )),
        )
        .await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN, "{}", bare.body);
    assert!(bare.body.contains("sign in again"), "{}", bare.body);
    assert!(!bare.header("set-cookie").contains("fp_office"));
    let page = t.get("/office/login").await;
    let token = csrf_of(&page.body);
    let theirs = t
        .request(
            Method::POST,
            "/office/login",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", "fp_signin=AAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
            Some(format!(
                "csrf={}&email={}&password=correct+horse+battery",
                urlencode(&token),
                urlencode(&t.owner_email)
            )),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);

    // Without a session: to the sign-in page.
    let anon = t.get("/office/dashboard").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.header("location"), "/office/login");

    // A wrong password, then too many.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = t
            .post_signin(
                "/office/login",
                &[("email", &t.owner_email), ("password", "wrong")],
                None,
                None,
            )
            .await;
        statuses.push(r.status.as_u16());
        assert!(r.header("set-cookie").is_empty());
    }
    assert!(
        statuses.contains(&401) && statuses.contains(&429),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let t = TestApp::new().await;
    let office = Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD).await;
    let r = office
        .post(&t, "/office/logout", &[("csrf", "forged")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Still signed in.
    assert_eq!(
        office.get(&t, "/office/dashboard").await.status,
        StatusCode::OK
    );
    let r = office.post(&t, "/office/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        office.get(&t, "/office/dashboard").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn password_change_ends_other_sessions() {
    let t = TestApp::new().await;
    let a = Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD).await;
    let b = Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD).await;
    let r = a
        .post(
            &t,
            "/office/account/password",
            &[
                ("current", "nope"),
                ("new", "a brand new pw"),
                ("confirm", "a brand new pw"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = a
        .post(
            &t,
            "/office/account/password",
            &[
                ("current", crate::support::OWNER_PASSWORD),
                ("new", "a brand new pw"),
                ("confirm", "a brand new pw"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(a.get(&t, "/office/dashboard").await.status, StatusCode::OK);
    assert_eq!(
        b.get(&t, "/office/dashboard").await.status,
        StatusCode::SEE_OTHER
    );
    Office::sign_in(&t, &t.owner_email, "a brand new pw").await;
}

#[tokio::test]
async fn search_finds_customers_by_many_keys_within_the_company() {
    let t = TestApp::new().await;
    let c = t.customer("Lena Landlord").await;
    let p = t.property("22 Riverside Ct", &c, None).await;
    let inv = t.invoice_json(&t.invoice(&p, 100, &t.day(3)).await).await;
    let number = inv["number"].as_str().unwrap().to_string();
    let office = Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD).await;
    for q in ["lena", "riverside", &number, "x%40example.com"] {
        let r = office.get(&t, &format!("/office/search?q={q}")).await;
        assert!(r.body.contains(&format!("/office/customers/{c}")), "{q}");
    }
    // The search box on other pages starts empty, whatever their own filters are called.
    let payments = office.get(&t, "/office/payments").await;
    assert!(
        payments
            .body
            .contains("placeholder=\"Name, phone, email, address or invoice number\" value=\"\"")
    );
    let none = office.get(&t, "/office/search?q=nobody").await;
    assert!(!none.body.contains("/office/customers/cus_"));
}
