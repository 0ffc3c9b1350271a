//! An admin works incidents in a real browser: the list, a skip refused for bad JSON with
//! the problem at the textarea, the same skip with good JSON, and a retry of another; then
//! a look at the other admin pages, and a user's access page: a token made, the user
//! deactivated.

use super::admin::{approved_order, failing_site, incidents};
use super::browser::Browser;
use l2c::server::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(l2c_browser),
    ignore = "browser: set L2C_TEST_BROWSER to a Chromium binary"
)]
async fn an_admin_skips_one_incident_and_retries_another_in_a_browser() {
    let site = failing_site(crate::support::Backend::Sqlite, false).await;
    let server = Server::start(
        site.world.app.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        2,
    )
    .await
    .expect("server starts");
    let first = approved_order(&site, "MUC-004").await;
    let second = approved_order(&site, "HAM-002").await;
    let list = incidents(&site, 2).await;
    let step_of = |order: &str| {
        list.iter()
            .find(|i| i.business_key.as_deref().is_some_and(|k| k.contains(order)))
            .map(|i| i.step_id.clone())
            .expect("its incident")
    };
    let (skip, retry) = (step_of(&first), step_of(&second));

    let mut b = Browser::open(&server, "admin").await;
    b.sign_in("ada").await;
    b.go("/admin/incidents").await;
    assert!(b.source().await.contains(&format!("/orders/{first}")));
    b.shot("incidents").await;

    let area = format!("#output-{skip}");
    b.fill(&area, "{\"port\": manual-7}").await;
    b.follow(&format!("#incident-{skip} form[action$='/skip'] button"))
        .await;
    let error = b.text(&format!("#output-{skip}-error")).await;
    assert!(error.contains("line 1, column"), "{error}");
    b.shot("bad-json").await;

    b.fill(&area, "{\"port\": \"manual-7\"}").await;
    b.follow(&format!("#incident-{skip} form[action$='/skip'] button"))
        .await;
    assert!(b.text(".notice").await.contains("was skipped"));
    assert!(!b.source().await.contains(&format!("incident-{skip}")));
    b.shot("skipped").await;

    b.follow(&format!("#incident-{retry} form[action$='/retry'] button"))
        .await;
    assert!(b.text(".notice").await.contains("put back in the queue"));
    b.shot("retried").await;
    // The other admin pages, to look at (their flows are the router tests').
    for page in ["workflows", "accounts", "users", "clock"] {
        b.go(&format!("/admin/{page}")).await;
        b.shot(page).await;
    }
    // A user's access: a token made (its secret shown once), then the deactivation asked.
    b.go("/admin/users/rita").await;
    b.fill("#name", "billing-portal").await;
    b.fill("#expires_days", "90").await;
    b.follow("#new-token button").await;
    assert!(b.text("#token").await.starts_with("l2c_"));
    b.shot("user-token").await;
    b.follow("#deactivate").await;
    b.follow("form.once button.danger").await;
    assert!(b.text(".notice").await.contains("rita is deactivated"));
    b.shot("user-deactivated").await;
    b.go("/admin/audit").await;
    b.follow("#verify").await;
    assert!(b.text("#verified").await.contains("Every chain holds"));
    b.shot("audit").await;
    b.close().await;
    server.shutdown().await.expect("shutdown");
}
