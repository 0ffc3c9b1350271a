//! What every page shares: sign-in and sign-out, failed sign-in limits, the session cookie,
//! CSRF tokens, security headers, assets and the not-found pages.

use super::{password, Site};
use crate::support::Backend;
use axum::http::StatusCode;

scenarios!(
    pages_ask_for_sign_in_and_return_there_afterwards,
    a_wrong_password_and_an_unknown_user_get_the_same_answer,
    failed_sign_ins_are_limited_per_name_and_per_address,
    signing_out_ends_the_session_and_needs_the_token,
    a_form_with_another_sessions_token_is_refused_and_changes_nothing,
    every_page_carries_the_security_headers,
    assets_are_cached_by_their_content_hash,
);

async fn pages_ask_for_sign_in_and_return_there_afterwards(backend: Backend) {
    let site = Site::on(backend).await;
    let a = site.get("", "/orders?state=completed").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.header("location"),
        "/sign-in?next=%2Forders%3Fstate%3Dcompleted"
    );
    let form = site.get("", "/sign-in?next=%2Forders").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains(r#"name="next" value="/orders""#),
        "{}",
        form.body
    );

    let pw = password("rita");
    let signed = site
        .post(
            "",
            "/sign-in",
            &[("name", "rita"), ("password", &pw), ("next", "/orders")],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(signed.header("location"), "/orders");
    let cookie = signed.header("set-cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "not behind TLS by default: {cookie}"
    );
    let elsewhere = site
        .post(
            "",
            "/sign-in",
            &[
                ("name", "rita"),
                ("password", &pw),
                ("next", "//evil.example"),
            ],
        )
        .await;
    assert_eq!(
        elsewhere.header("location"),
        "/",
        "never redirects off the site"
    );
}

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(backend: Backend) {
    let site = Site::on(backend).await;
    let wrong = site
        .post(
            "",
            "/sign-in",
            &[("name", "rita"), ("password", "not-her-password")],
        )
        .await;
    let unknown = site
        .post(
            "",
            "/sign-in",
            &[("name", "nobody"), ("password", "not-her-password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let message = "That name and password do not match a user.";
    assert!(wrong.body.contains(message) && unknown.body.contains(message));
    assert!(
        wrong.header("set-cookie").is_empty(),
        "no session on failure"
    );
}

async fn failed_sign_ins_are_limited_per_name_and_per_address(backend: Backend) {
    let site = Site::on(backend).await;
    let attempt = |name: &'static str, pw: String, from: [u8; 4]| {
        let site = &site;
        async move {
            let body = serde_urlencoded::to_string([("name", name), ("password", pw.as_str())])
                .expect("form");
            let request = axum::http::Request::post("/sign-in")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .expect("request");
            site.send_from(request, from).await.status
        }
    };
    for i in 0..5u8 {
        let status = attempt("nina", "wrong-password".into(), [10, 0, 0, i]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {i} is answered");
    }
    let blocked = attempt("nina", password("nina"), [10, 0, 0, 9]).await;
    assert_eq!(
        blocked,
        StatusCode::TOO_MANY_REQUESTS,
        "the name is blocked, from any address"
    );
    assert_eq!(
        attempt("fred", password("fred"), [10, 0, 0, 9]).await,
        StatusCode::SEE_OTHER
    );

    for name in ["guess-a", "guess-b", "guess-c", "guess-d", "guess-e"] {
        let status = attempt(name, "x-wrong-pass".into(), [192, 0, 2, 1]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let from_there = attempt("sam", password("sam"), [192, 0, 2, 1]).await;
    assert_eq!(
        from_there,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is blocked, for any name"
    );
    assert_eq!(
        attempt("sam", password("sam"), [192, 0, 2, 2]).await,
        StatusCode::SEE_OTHER
    );
}

async fn signing_out_ends_the_session_and_needs_the_token(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/catalog").await;
    let refused = site.post(&cookie, "/sign-out", &[]).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "no token, no sign-out"
    );
    assert_eq!(site.get(&cookie, "/catalog").await.status, StatusCode::OK);
    let out = site.post(&cookie, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.header("set-cookie").contains("l2c_session=;"),
        "{}",
        out.header("set-cookie")
    );
    assert_eq!(
        site.get(&cookie, "/catalog").await.status,
        StatusCode::SEE_OTHER,
        "the session is gone"
    );
}

/// A complete WAN link order form, to place at once.
pub fn wan_form(csrf: &str) -> Vec<(&str, &str)> {
    vec![
        ("csrf", csrf),
        ("step", "place"),
        ("key", "k-1"),
        ("billing_account", "ACME-EUR"),
        ("c.bandwidth_mbps", "100"),
        ("c.a_end_site", "FRA-001"),
        ("c.b_end_site", "MUC-004"),
    ]
}

async fn a_form_with_another_sessions_token_is_refused_and_changes_nothing(backend: Backend) {
    let site = Site::on(backend).await;
    let (rita, rita_csrf) = site.session("rita", "/order/wan-link").await;
    let (_, gus_csrf) = site.session("gus", "/catalog").await;
    let gus_token = gus_csrf.as_str();
    let stolen = site
        .post(&rita, "/order/wan-link", &wan_form(gus_token))
        .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    assert!(
        stolen.body.contains("This form has expired"),
        "{}",
        stolen.body
    );
    let none: Vec<(&str, &str)> = wan_form("")
        .into_iter()
        .filter(|(k, _)| *k != "csrf")
        .collect();
    assert_eq!(
        site.post(&rita, "/order/wan-link", &none).await.status,
        StatusCode::FORBIDDEN
    );
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&site.world.app.db.pool)
        .await
        .expect("count");
    assert_eq!(orders, 0, "nothing was placed");
    let placed = site
        .post(&rita, "/order/wan-link", &wan_form(&rita_csrf))
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
}

async fn every_page_carries_the_security_headers(backend: Backend) {
    let site = Site::on(backend).await;
    let cookie = site.sign_in("rita").await;
    for path in ["/sign-in", "/catalog", "/orders", "/no-such-page"] {
        let a = site.get(&cookie, path).await;
        let csp = a.header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(a.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(a.header("referrer-policy"), "same-origin", "{path}");
        assert!(!a.body.contains("<script>"), "{path}: no inline script");
    }
    let missing = site.get(&cookie, "/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("content-type").starts_with("text/html"));
    let api = site.get("", "/api/v1/no-such-thing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.header("content-type"),
        "application/problem+json",
        "the API keeps its problems"
    );
}

async fn assets_are_cached_by_their_content_hash(backend: Backend) {
    let site = Site::on(backend).await;
    let page = site.get("", "/sign-in").await;
    let start = page
        .body
        .find("/static/desk.css?v=")
        .expect("the stylesheet is linked");
    let end = page.body[start..].find('"').expect("end") + start;
    let url = &page.body[start..end];
    let css = site.get("", url).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert_eq!(
        css.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let stale = site.get("", "/static/desk.css?v=0000000000000000").await;
    assert_eq!(
        stale.header("cache-control"),
        "no-cache",
        "an old hash revalidates"
    );
    let etag = css.header("etag").to_string();
    let request = axum::http::Request::get(url)
        .header("if-none-match", etag)
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(site.send(request).await.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        site.get("", "/static/nothing.js").await.status,
        StatusCode::NOT_FOUND
    );
}
