//! The requester's pages: the catalog, the order form with its field problems, review and
//! placing, my orders, the order page, escaping, and other accounts' orders.

use super::desk::wan_form;
use super::{hidden, Site};
use crate::support::Backend;
use axum::http::StatusCode;

scenarios!(
    the_catalog_shows_what_the_account_may_order_with_its_service_definition,
    the_order_form_explains_fields_shows_problems_at_them_and_keeps_what_was_typed,
    placing_twice_with_the_forms_key_places_one_order,
    the_live_quote_answers_the_forms_values_as_json,
    notes_are_shown_as_text_and_other_accounts_orders_are_not_found,
    my_orders_filter_by_state_search_and_page,
    a_requester_cancels_with_a_reason,
);

async fn the_catalog_shows_what_the_account_may_order_with_its_service_definition(
    backend: Backend,
) {
    let site = Site::on(backend).await;
    let cookie = site.sign_in("rita").await;
    let home = site.get(&cookie, "/").await;
    assert_eq!(
        home.header("location"),
        "/catalog",
        "requesters start at the catalog"
    );
    let catalog = site.get(&cookie, "/catalog").await;
    assert!(
        catalog.body.contains(r#"href="/order/wan-link""#),
        "{}",
        catalog.body
    );
    assert!(catalog.body.contains(r#"href="/order/lan-setup""#));
    assert!(
        !catalog.body.contains("/order/bandwidth-upgrade"),
        "a change is ordered from a product"
    );
    assert!(
        !catalog.body.contains("sd-wan-edge"),
        "drafts are not offered"
    );
    let wan = site.get(&cookie, "/catalog/wan-link").await;
    for part in [
        "What is included",
        "Lead time",
        "How to get help",
        "Installation: by bandwidth_mbps: 1,500.00 EUR at 10..100",
    ] {
        assert!(wan.body.contains(part), "{part} in {}", wan.body);
    }
    assert_eq!(
        site.get(&cookie, "/catalog/sd-wan-edge").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn the_order_form_explains_fields_shows_problems_at_them_and_keeps_what_was_typed(
    backend: Backend,
) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let form = site.get(&cookie, "/order/wan-link").await;
    assert!(
        form.body
            .contains("3 capital letters, then “-”, then 3 digits"),
        "{}",
        form.body
    );
    assert!(
        form.body
            .contains(r#"<option value="100">100 Mbit/s</option>"#),
        "{}",
        form.body
    );
    let key = hidden(&form.body, "key").expect("an idempotency key");
    let review = site
        .post(
            &cookie,
            "/order/wan-link",
            &[
                ("csrf", &csrf),
                ("key", &key),
                ("step", "review"),
                ("billing_account", "ACME-EUR"),
                ("c.bandwidth_mbps", "700"),
                ("c.a_end_site", "fra-1"),
                ("c.b_end_site", "MUC-004"),
                ("quantity", "1"),
                ("notes", "call Bob <first>"),
            ],
        )
        .await;
    assert_eq!(
        review.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        review.body
    );
    let bw = field_html(&review.body, "c-bandwidth_mbps");
    assert!(
        bw.contains("aria-invalid") && bw.contains("class=\"error\""),
        "{bw}"
    );
    let site_a = field_html(&review.body, "c-a_end_site");
    assert!(
        site_a.contains(r#"value="fra-1""#),
        "what was typed stays: {site_a}"
    );
    assert!(site_a.contains("class=\"error\""), "{site_a}");
    assert!(
        review.body.contains("call Bob &#60;first&#62;")
            || review.body.contains("call Bob &lt;first&gt;")
    );
    assert_eq!(
        hidden(&review.body, "key").as_deref(),
        Some(key.as_str()),
        "the same key"
    );

    let fixed = site
        .post(
            &cookie,
            "/order/wan-link",
            &[
                ("csrf", &csrf),
                ("key", &key),
                ("step", "review"),
                ("billing_account", "ACME-EUR"),
                ("c.bandwidth_mbps", "100"),
                ("c.a_end_site", "FRA-001"),
                ("c.b_end_site", "MUC-004"),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.body);
    assert!(
        fixed.body.contains("1,500.00 EUR"),
        "the installation: {}",
        fixed.body
    );
    assert!(
        fixed.body.contains("450.00 EUR"),
        "the monthly service: {}",
        fixed.body
    );
    assert!(fixed.body.contains(r#"value="place""#), "a place button");
}

/// The HTML of the form field whose input has `id`.
fn field_html<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no input {id}"));
    let start = body[..at].rfind("<div class=\"field").unwrap_or(0);
    let end = body[at..].find("</div>").map_or(body.len(), |e| at + e);
    &body[start..end]
}

async fn placing_twice_with_the_forms_key_places_one_order(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let first = site
        .post(&cookie, "/order/wan-link", &wan_form(&csrf))
        .await;
    let second = site
        .post(&cookie, "/order/wan-link", &wan_form(&csrf))
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let to = first.header("location").to_string();
    assert!(
        to.starts_with("/orders/") && to.ends_with("?placed=1"),
        "{to}"
    );
    assert_eq!(
        second.header("location"),
        to,
        "the double click lands on the same order"
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&site.world.app.db.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
    let page = site.get(&cookie, &to).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("is placed"), "{}", page.body);
    assert!(
        page.body.contains("Order received"),
        "the timeline in words"
    );
    assert!(page.body.contains("<svg"), "the workflow is drawn");
}

async fn the_live_quote_answers_the_forms_values_as_json(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let mut form = wan_form(&csrf);
    form.retain(|(k, _)| *k != "step");
    let ok = site.post(&cookie, "/order/wan-link/quote", &form).await;
    let body: serde_json::Value = serde_json::from_str(&ok.body).expect("json");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["one_time_total"], "1,500.00 EUR");
    assert_eq!(body["monthly_total"], "450.00 EUR");
    form.retain(|(k, _)| *k != "c.b_end_site");
    let missing = site.post(&cookie, "/order/wan-link/quote", &form).await;
    let body: serde_json::Value = serde_json::from_str(&missing.body).expect("json");
    assert_eq!(body["ok"], false);
    assert!(body["problems"]["c.b_end_site"].is_array(), "{body}");
}

async fn notes_are_shown_as_text_and_other_accounts_orders_are_not_found(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let mut form = wan_form(&csrf);
    form.push(("notes", "<script>alert(1)</script>"));
    let placed = site.post(&cookie, "/order/wan-link", &form).await;
    let to = placed.header("location").to_string();
    let page = site.get(&cookie, &to).await;
    assert!(
        !page.body.contains("<script>alert(1)</script>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.body.contains("&lt;script&gt;")
    );

    let gus = site.sign_in("gus").await;
    let theirs = site.get(&gus, &to).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(
        theirs.body.contains("Not found") && theirs.body.contains("My orders"),
        "a page with the desk's navigation: {}",
        theirs.body
    );
    let list = site.get(&gus, "/orders").await;
    assert!(list.body.contains("No orders match."), "{}", list.body);
}

async fn my_orders_filter_by_state_search_and_page(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let sites: Vec<String> = (0..27).map(|i| format!("MUC-{i:03}")).collect();
    for (i, b) in sites.iter().enumerate() {
        let key = format!("k-{i}");
        let form = [
            ("csrf", csrf.as_str()),
            ("step", "place"),
            ("key", key.as_str()),
            ("billing_account", "ACME-EUR"),
            ("c.bandwidth_mbps", "100"),
            ("c.a_end_site", "FRA-001"),
            ("c.b_end_site", b.as_str()),
            ("external_id", if i == 3 { "PO-4711" } else { "" }),
        ];
        let a = site.post(&cookie, "/order/wan-link", &form).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    }
    let first = site.get(&cookie, "/orders").await;
    assert_eq!(
        first.body.matches("<tr><td><a href=\"/orders/").count(),
        25,
        "25 a page"
    );
    assert!(first.body.contains("rel=\"next\""));
    let second = site.get(&cookie, "/orders?page=2").await;
    assert_eq!(second.body.matches("<tr><td><a href=\"/orders/").count(), 2);
    assert!(second.body.contains("rel=\"prev\"") && !second.body.contains("rel=\"next\""));
    let by_site = site.get(&cookie, "/orders?q=muc-026").await;
    assert_eq!(
        by_site.body.matches("<tr><td><a href=\"/orders/").count(),
        1,
        "site codes, any case"
    );
    let by_ref = site.get(&cookie, "/orders?q=PO-4711").await;
    assert_eq!(by_ref.body.matches("<tr><td><a href=\"/orders/").count(), 1);
    assert!(by_ref.body.contains("PO-4711"));
    let wildcard = site.get(&cookie, "/orders?q=%25").await;
    assert!(
        wildcard.body.contains("No orders match."),
        "% is a character, not a wildcard"
    );
    let done = site.get(&cookie, "/orders?state=completed").await;
    assert!(done.body.contains("No orders match."));
    let bad = site.get(&cookie, "/orders?state=shipped").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_requester_cancels_with_a_reason(backend: Backend) {
    let site = Site::on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let to = site
        .post(&cookie, "/order/wan-link", &wan_form(&csrf))
        .await
        .header("location")
        .to_string();
    let path = to.trim_end_matches("?placed=1");
    let page = site.get(&cookie, path).await;
    assert!(page.body.contains("Request cancellation"), "{}", page.body);
    let cancel = format!("{path}/cancel");
    let without = site
        .post(&cookie, &cancel, &[("csrf", &csrf), ("reason", " ")])
        .await;
    assert_eq!(without.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        without.body.contains("a cancellation needs a reason"),
        "{}",
        without.body
    );
    let with = site
        .post(
            &cookie,
            &cancel,
            &[("csrf", &csrf), ("reason", "ordered twice")],
        )
        .await;
    assert_eq!(with.status, StatusCode::SEE_OTHER);
    let after = site.get(&cookie, with.header("location")).await;
    assert!(
        after.body.contains("ordered twice"),
        "the reason is on the timeline: {}",
        after.body
    );
}
