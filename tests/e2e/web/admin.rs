//! Admins' pages through the router: incidents, users, accounts, workflows, the sandbox clock.
//! Each page is for admins only; every change goes through the domain function the API
//! calls, so these check the pages' part: the forms, the problems at their fields, the
//! notices, and that what was done is done.

use super::{password, Site};
use crate::support::{world_with, Backend};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use l2c::settings::Settings;
use l2c_orders::model::OrderRequest;
use l2c_orders::users;
use l2c_orders::work::{self, Action};
use std::time::Duration;

scenarios!(
    the_admin_pages_are_for_admins_only,
    an_incident_is_retried_then_skipped_with_its_output_checked_at_the_field,
    a_user_created_on_the_page_signs_in_and_gets_a_new_password,
    accounts_are_created_and_a_billing_account_edited_with_problems_at_the_fields,
    the_api_patches_a_billing_account_with_the_same_rules,
    the_workflows_page_draws_each_and_counts_instances_per_version,
    the_sandbox_clock_moves_by_and_to_with_problems_at_the_field,
    without_a_sandbox_there_is_no_clock_page,
    definition_versions_count_instances,
);

const PAGES: [&str; 5] = [
    "/admin/incidents",
    "/admin/users",
    "/admin/accounts",
    "/admin/workflows",
    "/admin/clock",
];

/// A site whose network always fails, so a reservation becomes an incident; with workers
/// when `running` (the browser scenario runs its own in the server).
pub(super) async fn failing_site(backend: Backend, running: bool) -> Site {
    let mut settings = Settings::default();
    settings.network.failure_rate = 1.0;
    let world = world_with(backend, settings).await;
    for name in ["rita", "gus", "sam", "nina", "fred", "ada", "fay", "lena"] {
        users::set_password(&world.app.db, "test", name, &password(name), 0)
            .await
            .expect("password");
    }
    let router = l2c::server::router(world.app.clone());
    let workers = running.then(|| l2c::server::spawn_workers(&world.app, 2));
    Site {
        world,
        router,
        _workers: workers,
    }
}

/// Places a WAN link for rita and approves its feasibility as nina, so its port
/// reservation runs (and, on a failing site, fails).
pub(super) async fn approved_order(site: &Site, b_end: &str) -> String {
    let request: OrderRequest = serde_json::from_value(serde_json::json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "add", "offering": "wan-link",
                   "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": b_end}}]
    }))
    .expect("request");
    let orders = &site.world.app.orders;
    let order = l2c_orders::place::place(orders, &site.world.rita, &request, None)
        .await
        .expect("placed")
        .order_id;
    let groups = ["network-engineering".to_string()];
    for _ in 0..500 {
        let tasks = work::open_tasks(orders, &groups).await.expect("tasks");
        let mine = tasks.iter().find(|t| {
            t.business_key
                .as_deref()
                .is_some_and(|k| k.contains(&order))
        });
        if let Some(t) = mine {
            work::act(orders, &site.world.nina, &t.id, Action::Approve)
                .await
                .expect("approved");
            return order;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no feasibility task for {order}");
}

/// Moves the sandbox clock past the retry backoffs until `n` incidents wait.
pub(super) async fn incidents(site: &Site, n: usize) -> Vec<l2c_engine::runtime::IncidentView> {
    let app = &site.world.app;
    for _ in 0..400 {
        let list = app.engine.incidents().await.expect("incidents");
        if list.len() >= n {
            return list;
        }
        app.sandbox
            .as_ref()
            .expect("sandbox")
            .advance(chrono::Duration::minutes(2));
        app.engine.wake();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{n} incidents never appeared");
}

async fn the_admin_pages_are_for_admins_only(backend: Backend) {
    let site = Site::on(backend).await;
    let ada = site.sign_in("ada").await;
    for path in PAGES {
        let a = site.get(&ada, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert!(a.body.contains("aria-label=\"Admin\""), "{path}");
    }
    for who in ["fay", "rita"] {
        let cookie = site.sign_in(who).await;
        for path in PAGES {
            let a = site.get(&cookie, path).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{who} at {path}");
        }
        let (_, csrf) = site.session(who, "/orders").await;
        let a = site
            .post(
                &cookie,
                "/admin/clock",
                &[("csrf", &csrf), ("advance", "1h")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{who} moves no clock");
    }
}

async fn an_incident_is_retried_then_skipped_with_its_output_checked_at_the_field(
    backend: Backend,
) {
    let site = failing_site(backend, true).await;
    let order = approved_order(&site, "MUC-004").await;
    let step = incidents(&site, 1).await.remove(0).step_id;
    let (ada, csrf) = site.session("ada", "/admin/incidents").await;
    let page = site.get(&ada, "/admin/incidents").await;
    assert!(
        page.body.contains(&format!("href=\"/orders/{order}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("reserve-port"), "{}", page.body);

    let skip = format!("/admin/incidents/{step}/skip");
    let bad = site
        .post(
            &ada,
            &skip,
            &[("csrf", &csrf), ("output", "{\"port\": <b>}")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("line 1, column 10"), "{}", bad.body);
    assert!(
        bad.body.contains("{&#34;port&#34;: &#60;b&#62;}")
            || bad.body.contains("{&quot;port&quot;: &lt;b&gt;}"),
        "what was typed stays, escaped: {}",
        bad.body
    );
    assert!(bad.body.contains("aria-invalid=\"true\""));
    let list = site
        .post(&ada, &skip, &[("csrf", &csrf), ("output", "[1, 2]")])
        .await;
    assert_eq!(list.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        list.body.contains("output must be a JSON object"),
        "the API's rule: {}",
        list.body
    );
    assert_eq!(site.world.app.engine.incidents().await.expect("i").len(), 1);

    let retried = site
        .post(
            &ada,
            &format!("/admin/incidents/{step}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    let notice = site.get(&ada, retried.header("location")).await;
    assert!(
        notice.body.contains("was put back in the queue"),
        "{}",
        notice.body
    );
    let step = incidents(&site, 1).await.remove(0).step_id;

    let good = site
        .post(
            &ada,
            &format!("/admin/incidents/{step}/skip"),
            &[("csrf", &csrf), ("output", "{\"port\": \"manual-7\"}")],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
    assert!(site
        .world
        .app
        .engine
        .incidents()
        .await
        .expect("i")
        .is_empty());
    let page = site.get(&ada, "/admin/incidents").await;
    assert!(page.body.contains("No incidents"), "{}", page.body);
    let gone = site
        .post(
            &ada,
            &format!("/admin/incidents/{step}/retry"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        gone.status,
        StatusCode::CONFLICT,
        "a handled incident is no more"
    );
}

async fn a_user_created_on_the_page_signs_in_and_gets_a_new_password(backend: Backend) {
    let site = Site::on(backend).await;
    let (ada, csrf) = site.session("ada", "/admin/users").await;
    let refused = site
        .post(
            &ada,
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "bad name!"),
                ("role", "approver"),
                ("account", "ACME"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    for said in [
        "must be 1-64 letters",
        "only requesters have a customer account",
        "needs at least one group",
        "a password has 10 to 256 characters",
    ] {
        assert!(refused.body.contains(said), "{said}: {}", refused.body);
    }
    assert!(refused.body.contains("value=\"bad name!\""), "typed stays");

    let zed_pw = password("zed");
    let created = site
        .post(
            &ada,
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "zed"),
                ("role", "approver"),
                ("groups", "sales-managers"),
                ("groups", "network-engineering"),
                ("account", ""),
                ("password", &zed_pw),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(
        created.body.contains("id=\"token\">l2c_"),
        "{}",
        created.body
    );
    assert!(
        created.body.contains("network-engineering, sales-managers"),
        "listed with its groups"
    );
    let zed = site.sign_in("zed").await;
    assert_eq!(site.get(&zed, "/").await.header("location"), "/inbox");
    let taken = site
        .post(
            &ada,
            "/admin/users",
            &[("csrf", &csrf), ("name", "zed"), ("role", "finance")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.body.contains("already exists"), "{}", taken.body);

    let path = "/admin/users/zed/password";
    assert_eq!(site.get(&ada, path).await.status, StatusCode::OK);
    let differ = site
        .post(
            &ada,
            path,
            &[
                ("csrf", &csrf),
                ("password", "one-long-password"),
                ("password2", "another-one"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.body.contains("the two passwords differ"));
    let short = site
        .post(
            &ada,
            path,
            &[
                ("csrf", &csrf),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.body.contains("a password has 10 to 256"),
        "{}",
        short.body
    );
    let new_pw = "a-brand-new-password";
    let done = site
        .post(
            &ada,
            path,
            &[("csrf", &csrf), ("password", new_pw), ("password2", new_pw)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let notice = site.get(&ada, done.header("location")).await;
    assert!(
        notice.body.contains("zed has a new password."),
        "{}",
        notice.body
    );
    let user = users::user_by_password(&site.world.app.db, "zed", new_pw)
        .await
        .expect("lookup");
    assert!(user.is_some(), "the new password signs in");
    assert_eq!(
        site.get(&ada, "/admin/users/nobody/password").await.status,
        StatusCode::NOT_FOUND
    );
}

fn billing_form<'a>(csrf: &'a str, country: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("id", "INITECH-EUR"),
        ("customer_account", "INITECH"),
        ("name", "Initech EUR"),
        ("currency", "EUR"),
        ("cycle_day", "15"),
        ("time_zone", "Europe/Berlin"),
        ("payment_terms_days", "30"),
        ("tax.category", "S"),
        ("tax.percent", "19"),
        ("buyer.name", "Initech GmbH"),
        ("buyer.street", "Hauptstr. 1"),
        ("buyer.city", "Berlin"),
        ("buyer.postcode", "10115"),
        ("buyer.country", country),
        ("buyer.endpoint_scheme", "9930"),
        ("buyer.endpoint_id", "DE123456789"),
    ]
}

async fn accounts_are_created_and_a_billing_account_edited_with_problems_at_the_fields(
    backend: Backend,
) {
    let site = Site::on(backend).await;
    let (ada, csrf) = site.session("ada", "/admin/accounts").await;
    let bad = site
        .post(
            &ada,
            "/admin/accounts/customers",
            &[
                ("csrf", &csrf),
                ("customer.id", "INITECH"),
                ("customer.name", "Initech"),
                ("customer.segment", "enterprise"),
                ("customer.country", "Germany"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("is not an ISO 3166-1 alpha-2 code"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("id=\"customer-country\""));
    let ok = site
        .post(
            &ada,
            "/admin/accounts/customers",
            &[
                ("csrf", &csrf),
                ("customer.id", "INITECH"),
                ("customer.name", "Initech"),
                ("customer.segment", "enterprise"),
                ("customer.country", "DE"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let notice = site.get(&ada, ok.header("location")).await;
    assert!(notice.body.contains("Customer account INITECH was saved."));

    let wrong = site
        .post(
            &ada,
            "/admin/accounts/billing",
            &billing_form(&csrf, "germany"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = wrong.body.find("id=\"buyer-country\"").expect("the input");
    let error = wrong.body[at..]
        .find("must be an ISO 3166-1 alpha-2 code")
        .expect("its error");
    let next = wrong.body[at..]
        .find("id=\"buyer-vat_id\"")
        .expect("the next input");
    assert!(error < next, "the problem is at the buyer's country");
    let created = site
        .post(&ada, "/admin/accounts/billing", &billing_form(&csrf, "DE"))
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);

    let edit = "/admin/accounts/billing/INITECH-EUR";
    let form = site.get(&ada, edit).await;
    assert!(
        form.body.contains("value=\"Initech GmbH\""),
        "{}",
        form.body
    );
    let mut changed = billing_form(&csrf, "DE");
    changed.retain(|(k, _)| {
        ![
            "id",
            "customer_account",
            "name",
            "currency",
            "cycle_day",
            "time_zone",
        ]
        .contains(k)
    });
    changed.retain(|(k, _)| *k != "payment_terms_days");
    let mut too_long = changed.clone();
    too_long.push(("payment_terms_days", "400"));
    let refused = site.post(&ada, edit, &too_long).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("must be 0 to 365"),
        "{}",
        refused.body
    );
    changed.push(("payment_terms_days", "14"));
    changed.retain(|(k, _)| *k != "buyer.country");
    changed.push(("buyer.country", "AT"));
    let saved = site.post(&ada, edit, &changed).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let mut conn = site.world.app.db.pool.acquire().await.expect("conn");
    let account = l2c_orders::accounts::billing(&mut conn, "INITECH-EUR")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(account.payment_terms_days, 14);
    assert_eq!(
        account.buyer.as_ref().map(|b| b.country.as_str()),
        Some("AT")
    );
    assert_eq!(
        (account.currency.as_str(), account.cycle_day),
        ("EUR", 15),
        "fixed fields stay"
    );
}

async fn the_api_patches_a_billing_account_with_the_same_rules(backend: Backend) {
    let site = Site::on(backend).await;
    let token = site.world.tokens["ada"].clone();
    let patch = |body: serde_json::Value| {
        Request::patch("/api/v1/billing-accounts/ACME-EUR")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    let bad = site
        .send(patch(serde_json::json!({"payment_terms_days": 400})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("payment_terms_days"), "{}", bad.body);
    let fixed = site
        .send(patch(serde_json::json!({"currency": "USD"})))
        .await;
    assert!(
        fixed.status.is_client_error(),
        "the currency is fixed: {}",
        fixed.body
    );
    let ok = site
        .send(patch(
            serde_json::json!({"payment_terms_days": 10, "tax": {"category": "S", "percent": "7"}}),
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let body: serde_json::Value = serde_json::from_str(&ok.body).expect("json");
    assert_eq!(body["payment_terms_days"], 10);
    assert_eq!(body["tax"]["percent"], "7");
    let removed = site.send(patch(serde_json::json!({"tax": null}))).await;
    let body: serde_json::Value = serde_json::from_str(&removed.body).expect("json");
    assert_eq!(
        (body["tax"].is_null(), &body["payment_terms_days"]),
        (true, &serde_json::json!(10))
    );
}

async fn the_workflows_page_draws_each_and_counts_instances_per_version(backend: Backend) {
    let site = Site::on(backend).await;
    approved_order_without_workers(&site).await;
    let ada = site.sign_in("ada").await;
    let page = site.get(&ada, "/admin/workflows").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "a drawing");
    // The placed order's instance, counted here by hand.
    let (workflow, hash): (String, String) =
        sqlx::query_as("SELECT workflow, version FROM wf_instances")
            .fetch_one(&site.world.app.db.pool)
            .await
            .expect("one instance");
    let section = page
        .body
        .find(&format!("id=\"workflow-{workflow}\""))
        .expect("its section");
    let at = section
        + page.body[section..]
            .find(&format!(">{}</code>", &hash[..12]))
            .expect("the version's hash");
    let row = &page.body[at..at + page.body[at..].find("</tr>").expect("row end")];
    assert!(
        row.contains("<td class=\"num\">1</td><td class=\"num\">1</td>"),
        "{row}"
    );
}

/// An order placed on a site without workers: its instance is created and stays running.
async fn approved_order_without_workers(site: &Site) {
    let request: OrderRequest = serde_json::from_value(serde_json::json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "add", "offering": "wan-link",
                   "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-004"}}]
    }))
    .expect("request");
    l2c_orders::place::place(&site.world.app.orders, &site.world.rita, &request, None)
        .await
        .expect("placed");
}

async fn the_sandbox_clock_moves_by_and_to_with_problems_at_the_field(backend: Backend) {
    let site = Site::on(backend).await;
    let (ada, csrf) = site.session("ada", "/admin/clock").await;
    let before = site.world.app.clock.now();
    let moved = site
        .post(&ada, "/admin/clock", &[("csrf", &csrf), ("advance", "2d")])
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    assert_eq!(
        site.world.app.clock.now() - before,
        chrono::Duration::days(2)
    );
    let notice = site.get(&ada, moved.header("location")).await;
    assert!(
        notice.body.contains("The clock now reads"),
        "{}",
        notice.body
    );
    let bad = site
        .post(
            &ada,
            "/admin/clock",
            &[("csrf", &csrf), ("advance", "soon")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("value=\"soon\""), "typed stays");
    assert!(bad.body.contains("\"soon\""), "{}", bad.body);
    let past = site
        .post(
            &ada,
            "/admin/clock",
            &[("csrf", &csrf), ("to", "2001-01-01T00:00")],
        )
        .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        past.body.contains("time only moves forward"),
        "{}",
        past.body
    );
    let target = (site.world.app.clock.now() + chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let to = site
        .post(&ada, "/admin/clock", &[("csrf", &csrf), ("to", &target)])
        .await;
    assert_eq!(to.status, StatusCode::SEE_OTHER, "{}", to.body);
    assert_eq!(
        site.world
            .app
            .clock
            .now()
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        target
    );
}

async fn without_a_sandbox_there_is_no_clock_page(backend: Backend) {
    let world = crate::support::world_opts(backend, |_| {}).await;
    // world_opts always runs on the sandbox clock; an app without one is opened here.
    let mut options = l2c::app::AppOptions::new(world.url.clone());
    options.sandbox = false;
    let app = l2c::app::App::open(options).await.expect("app");
    users::set_password(&app.db, "test", "ada", &password("ada"), 0)
        .await
        .expect("password");
    let site = Site {
        router: l2c::server::router(app),
        world,
        _workers: None,
    };
    let ada = site.sign_in("ada").await;
    assert_eq!(
        site.get(&ada, "/admin/clock").await.status,
        StatusCode::NOT_FOUND
    );
    let page = site.get(&ada, "/admin/incidents").await;
    assert!(!page.body.contains("/admin/clock"), "no tab for it");
}

async fn definition_versions_count_instances(backend: Backend) {
    let world = crate::support::world(backend).await;
    let app = &world.app;
    let before = app.engine.definition_versions().await.expect("versions");
    assert!(before.iter().all(|v| v.instances == 0), "{backend:?}");
    let request: OrderRequest = serde_json::from_value(serde_json::json!({
            "billing_account": "ACME-EUR",
            "items": [{"action": "add", "offering": "wan-link",
                       "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-004"}}]
        }))
        .expect("request");
    l2c_orders::place::place(&app.orders, &world.rita, &request, None)
        .await
        .expect("placed");
    let after = app.engine.definition_versions().await.expect("versions");
    let counted: Vec<(i64, i64)> = after
        .iter()
        .filter(|v| v.instances > 0)
        .map(|v| (v.running, v.instances))
        .collect();
    assert_eq!(counted, [(1, 1)], "{backend:?}: {after:?}");
    assert_eq!(after.len(), before.len(), "one row per stored version");
}
