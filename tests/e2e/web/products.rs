//! My products and my invoices after a delivered order: modifying with the current values
//! filled in, an upgrade that goes down refused at its field, disconnecting after a
//! confirmation, and the invoice with its document page and UBL download.

use super::desk::wan_form;
use super::Site;
use crate::support::billing::{run_on, set_buyers};
use crate::support::Backend;
use axum::http::StatusCode;
use l2c_orders::work::{self, Action};

scenarios!(running_products_are_modified_and_disconnected_and_invoiced,);

/// Works every open task of `order` as its queue's member until the order is completed.
async fn deliver(site: &Site, order: &str) {
    let w = &site.world;
    for _ in 0..1500 {
        let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(&w.app.db.pool)
            .await
            .expect("order");
        if state == "completed" {
            return;
        }
        for (user, group) in [
            (&w.nina, "network-engineering"),
            (&w.fred, "field-engineers"),
        ] {
            for t in work::open_tasks(&w.app.orders, &[group.to_string()])
                .await
                .expect("tasks")
            {
                let action = if t.kind == "approval" {
                    Action::Approve
                } else {
                    Action::Complete(serde_json::Value::Null)
                };
                let _ = work::act(&w.app.orders, user, &t.id, action).await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("order {order} was not delivered");
}

async fn running_products_are_modified_and_disconnected_and_invoiced(backend: Backend) {
    let site = Site::running_on(backend).await;
    let (cookie, csrf) = site.session("rita", "/order/wan-link").await;
    let placed = site
        .post(&cookie, "/order/wan-link", &wan_form(&csrf))
        .await;
    let order = placed
        .header("location")
        .trim_start_matches("/orders/")
        .trim_end_matches("?placed=1")
        .to_string();
    deliver(&site, &order).await;

    let products = site.get(&cookie, "/products").await;
    let start = products
        .body
        .find("/order/bandwidth-upgrade?product=")
        .expect("a Modify link");
    let end = products.body[start..].find('"').expect("end") + start;
    let modify = products.body[start..end]
        .replace("&#61;", "=")
        .replace("&amp;", "&");
    let product = modify.rsplit('=').next().expect("product id").to_string();
    assert!(products
        .body
        .contains(&format!("/products/{product}/disconnect")));

    let form = site.get(&cookie, &modify).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains(r#"<option value="100" selected>"#),
        "the current bandwidth: {}",
        form.body
    );
    assert!(
        form.body.contains("These may only go up: bandwidth_mbps"),
        "{}",
        form.body
    );
    let down = site
        .post(
            &cookie,
            "/order/bandwidth-upgrade",
            &[
                ("csrf", &csrf),
                ("step", "review"),
                ("product", &product),
                ("billing_account", "ACME-EUR"),
                ("c.bandwidth_mbps", "50"),
            ],
        )
        .await;
    assert_eq!(
        down.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        down.body
    );
    assert!(
        down.body.contains("class=\"error\""),
        "the problem is at the field: {}",
        down.body
    );

    set_buyers(&site.world.app).await;
    let today = site.world.app.orders.today().to_string();
    run_on(&site.world.app, &today).await;
    let list = site.get(&cookie, "/invoices").await;
    let start = list.body.find("href=\"/invoices/").expect("an invoice") + "href=\"".len();
    let end = list.body[start..].find('"').expect("end") + start;
    let path = list.body[start..end].to_string();
    let doc = site.get(&cookie, &path).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.body);
    for part in [
        "Acme Corp",
        "VAT",
        "Payable",
        "Download UBL",
        "Open PDF",
        "SEPA credit transfer to DE89370400440532013000",
    ] {
        assert!(doc.body.contains(part), "{part} in {}", doc.body);
    }
    let ubl = site.get(&cookie, &format!("{path}/ubl")).await;
    assert_eq!(ubl.status, StatusCode::OK, "{}", ubl.body);
    assert_eq!(ubl.header("content-type"), "application/xml");
    assert!(ubl
        .header("content-disposition")
        .starts_with("attachment; filename="));
    assert!(
        ubl.body.contains("<Invoice") || ubl.body.contains(":Invoice"),
        "{}",
        ubl.body
    );
    let pdf = site.get(&cookie, &format!("{path}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.header("content-type"), "application/pdf");
    assert!(pdf.body.starts_with("%PDF-"), "a PDF document");
    let gus = site.sign_in("gus").await;
    assert_eq!(site.get(&gus, &path).await.status, StatusCode::NOT_FOUND);
    let theirs = site.get(&gus, &format!("{path}/pdf")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);

    let confirm = site
        .get(&cookie, &format!("/products/{product}/disconnect"))
        .await;
    assert!(confirm.body.contains("Yes, disconnect"), "{}", confirm.body);
    let key = super::hidden(&confirm.body, "key").expect("a key");
    let gone = site
        .post(
            &cookie,
            &format!("/products/{product}/disconnect"),
            &[("csrf", &csrf), ("key", &key)],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.body);
    let page = site.get(&cookie, gone.header("location")).await;
    assert!(
        page.body.contains("delete wan-link"),
        "a delete order: {}",
        page.body
    );
    let other = site
        .get(&gus, &format!("/products/{product}/disconnect"))
        .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "another account's product"
    );
}
