//! A user's access page through the router: tokens made with problems at their fields, shown
//! once, rotated and revoked; a user deactivated after a confirmation, signed out at once and
//! refused at sign-in, then reactivated; the audit log page lists the changes and verifies
//! the chains. The changes go through the functions the API calls.

use super::{password, Site};
use crate::support::Backend;
use axum::http::StatusCode;
use l2c_orders::tokens;

scenarios!(
    tokens_are_made_rotated_and_revoked_on_a_users_page,
    a_user_is_deactivated_after_a_confirmation_and_reactivated,
    the_audit_log_page_lists_changes_and_verifies_the_chains,
);

/// The secret a page shows once.
fn secret_on(body: &str) -> String {
    let start = body.find("id=\"token\">").expect("a secret is shown") + "id=\"token\">".len();
    let end = body[start..].find('<').expect("closed") + start;
    body[start..end].to_string()
}

async fn works(site: &Site, secret: &str) -> bool {
    let now = l2c::access::wall_now();
    tokens::authenticate(&site.world.app.db, secret, now)
        .await
        .expect("looked up")
        .is_some()
}

async fn tokens_are_made_rotated_and_revoked_on_a_users_page(backend: Backend) {
    let site = Site::on(backend).await;
    let rita = site.sign_in("rita").await;
    assert_eq!(
        site.get(&rita, "/admin/users/rita").await.status,
        StatusCode::FORBIDDEN
    );
    let (ada, csrf) = site.session("ada", "/admin/users/rita").await;
    let page = site.get(&ada, "/admin/users").await;
    assert!(
        page.body.contains("href=\"/admin/users/rita\""),
        "names link to their page"
    );
    let shown = site.get(&ada, "/admin/users/rita").await;
    assert!(shown.body.contains("<td>initial</td>"), "{}", shown.body);

    let path = "/admin/users/rita/tokens";
    let refused = site
        .post(
            &ada,
            path,
            &[("csrf", &csrf), ("name", "no/slash"), ("expires_days", "0")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("must be a whole number of days"),
        "{}",
        refused.body
    );
    let refused = site
        .post(
            &ada,
            path,
            &[("csrf", &csrf), ("name", "no/slash"), ("expires_days", "")],
        )
        .await;
    assert!(
        refused.body.contains("must be 1-64 letters"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"no/slash\""), "typed stays");

    let made = site
        .post(
            &ada,
            path,
            &[("csrf", &csrf), ("name", "portal"), ("expires_days", "30")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let secret = secret_on(&made.body);
    assert!(works(&site, &secret).await);
    let listed = tokens::list(&site.world.app.db, "rita")
        .await
        .expect("tokens");
    let portal = listed.iter().find(|t| t.name == "portal").expect("made");
    assert!(portal.expires_at.is_some());
    assert!(
        !site
            .get(&ada, "/admin/users/rita")
            .await
            .body
            .contains(&secret),
        "once"
    );

    let rotate = format!("/admin/users/rita/tokens/{}/rotate", portal.id);
    let rotated = site.post(&ada, &rotate, &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let fresh = secret_on(&rotated.body);
    assert!(!works(&site, &secret).await, "the old secret stops");
    assert!(works(&site, &fresh).await);

    let listed = tokens::list(&site.world.app.db, "rita")
        .await
        .expect("tokens");
    let live = listed
        .iter()
        .find(|t| t.name == "portal" && t.revoked_at.is_none())
        .expect("the rotated token");
    let revoke = format!("/admin/users/rita/tokens/{}/revoke", live.id);
    let revoked = site.post(&ada, &revoke, &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let after = site.get(&ada, revoked.header("location")).await;
    assert!(
        after.body.contains("The token was revoked"),
        "{}",
        after.body
    );
    assert!(!works(&site, &fresh).await);
}

async fn a_user_is_deactivated_after_a_confirmation_and_reactivated(backend: Backend) {
    let site = Site::on(backend).await;
    let nina = site.sign_in("nina").await;
    assert_eq!(site.get(&nina, "/inbox").await.status, StatusCode::OK);
    let (ada, csrf) = site.session("ada", "/admin/users/nina").await;
    let confirm = site.get(&ada, "/admin/users/nina/deactivate").await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("Yes, deactivate nina"),
        "{}",
        confirm.body
    );

    let done = site
        .post(&ada, "/admin/users/nina/deactivate", &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body
            .contains("nina is deactivated: 1 token(s) revoked, 1 session(s) ended"),
        "{}",
        done.body
    );
    assert!(done.body.contains("id=\"reactivate\""), "{}", done.body);
    let out = site.get(&nina, "/inbox").await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "signed out at once");
    let pw = password("nina");
    let again = site
        .post(
            "",
            "/sign-in",
            &[("name", "nina"), ("password", &pw), ("next", "/")],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "a deactivated user cannot sign in"
    );
    let list = site.get(&ada, "/admin/users").await;
    assert!(list.body.contains("deactivated"), "{}", list.body);
    let own = site
        .post(&ada, "/admin/users/ada/deactivate", &[("csrf", &csrf)])
        .await;
    assert_eq!(own.status, StatusCode::CONFLICT);

    let back = site
        .post(&ada, "/admin/users/nina/reactivate", &[("csrf", &csrf)])
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    let shown = site.get(&ada, back.header("location")).await;
    assert!(
        shown.body.contains("nina may sign in again"),
        "{}",
        shown.body
    );
    let nina = site.sign_in("nina").await;
    assert_eq!(site.get(&nina, "/inbox").await.status, StatusCode::OK);
}

async fn the_audit_log_page_lists_changes_and_verifies_the_chains(backend: Backend) {
    let site = Site::on(backend).await;
    let rita = site.sign_in("rita").await;
    assert_eq!(
        site.get(&rita, "/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    let (ada, csrf) = site.session("ada", "/admin/users/nina").await;
    let done = site
        .post(&ada, "/admin/users/nina/deactivate", &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, StatusCode::OK);
    let page = site.get(&ada, "/admin/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<td>user.deactivate</td><td>user:nina</td>"),
        "{}",
        page.body
    );
    let only = site.get(&ada, "/admin/audit?subject=user:nina").await;
    assert!(
        !only.body.contains("user:rita"),
        "the filter keeps to nina: {}",
        only.body
    );
    let verified = site.get(&ada, "/admin/audit?verify=1").await;
    assert!(
        verified.body.contains("Every chain holds"),
        "{}",
        verified.body
    );
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE position = 1")
        .execute(&site.world.app.db.pool)
        .await
        .expect("tampered");
    let broken = site.get(&ada, "/admin/audit?verify=1").await;
    assert!(
        broken
            .body
            .contains("Broken: audit_log, chain audit, row 1"),
        "{}",
        broken.body
    );
}
