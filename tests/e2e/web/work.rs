//! The work queues through the pages, with the workflows running: an approver's inbox, the
//! task page, a rejection without a reason, approving and landing on the next task, the
//! engineer's completion, the requester's finished timeline, and a bulk approval with one
//! task taken meanwhile.

use super::desk::wan_form;
use super::{password, Site};
use crate::support::Backend;
use axum::http::StatusCode;
use l2c_orders::users::{NewUser, Role};
use l2c_orders::work::{self, Action};

scenarios!(
    an_order_from_placing_to_delivery_through_the_pages,
    a_bulk_approval_reports_each_task_and_one_taken_meanwhile,
    only_queue_members_see_a_task_and_requesters_have_no_inbox,
);

/// Places a WAN link as rita (form key `key`) and returns the order id.
async fn place(site: &Site, cookie: &str, csrf: &str, key: &str) -> String {
    let mut form = wan_form(csrf);
    form.retain(|(k, _)| *k != "key");
    form.push(("key", key));
    let a = site.post(cookie, "/order/wan-link", &form).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    a.header("location")
        .trim_start_matches("/orders/")
        .trim_end_matches("?placed=1")
        .to_string()
}

/// The task ids of the inbox page, top to bottom.
fn task_ids(html: &str) -> Vec<String> {
    html.match_indices("data-href=\"/tasks/")
        .map(|(at, m)| {
            let rest = &html[at + m.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .collect()
}

async fn an_order_from_placing_to_delivery_through_the_pages(backend: Backend) {
    let site = Site::running_on(backend).await;
    let (rita, rita_csrf) = site.session("rita", "/order/wan-link").await;
    let order = place(&site, &rita, &rita_csrf, "k-1").await;
    let (nina, csrf) = site.session("nina", "/inbox").await;
    assert_eq!(site.get(&nina, "/").await.header("location"), "/inbox");
    let inbox = site.wait_for(&nina, "/inbox", &order).await;
    let task = task_ids(&inbox.body).into_iter().next().expect("a task");
    assert!(
        inbox.body.contains("Technical feasibility"),
        "{}",
        inbox.body
    );
    assert!(
        inbox
            .body
            .contains("network-engineering <span class=\"count\">1</span>"),
        "{}",
        inbox.body
    );

    let page = site.get(&nina, &format!("/tasks/{task}")).await;
    assert!(
        page.body.contains("Approve") && page.body.contains("Reason to reject"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("the group is reminded"),
        "the SLA steps: {}",
        page.body
    );
    assert!(
        page.body.contains("FRA-001") && page.body.contains("rita"),
        "the order summary"
    );

    let no_reason = site
        .post(
            &nina,
            &format!("/tasks/{task}/reject"),
            &[("csrf", &csrf), ("reason", "  ")],
        )
        .await;
    assert_eq!(
        no_reason.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_reason.body
    );
    assert!(
        no_reason.body.contains("id=\"reason-error\""),
        "{}",
        no_reason.body
    );

    let approved = site
        .post(&nina, &format!("/tasks/{task}/approve"), &[("csrf", &csrf)])
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let landed = approved.header("location").to_string();
    assert_eq!(
        landed,
        format!("/inbox?did=approved&task={task}"),
        "no other task waits"
    );
    let notice = site.get(&nina, &landed).await;
    assert!(
        notice
            .body
            .contains("You approved Technical feasibility of order"),
        "{}",
        notice.body
    );

    let (fred, fred_csrf) = site.session("fred", "/inbox").await;
    let inbox = site
        .wait_for(&fred, "/inbox", "Install the CPE on site")
        .await;
    let install = task_ids(&inbox.body)
        .into_iter()
        .next()
        .expect("the CPE task");
    let done = site
        .post(
            &fred,
            &format!("/tasks/{install}/complete"),
            &[
                ("csrf", &fred_csrf),
                ("key0", "cpe_serial"),
                ("value0", "SN-42"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    let page = site
        .wait_for(&rita, &format!("/orders/{order}"), "Order completed")
        .await;
    for words in [
        "Technical feasibility approved by nina",
        "Install the CPE on site: done by fred",
        "Billing started",
        "Delivered",
    ] {
        assert!(
            page.body.contains(words),
            "{words:?} in the timeline: {}",
            page.body
        );
    }
    assert!(
        !page.body.contains("class=\"stage task active\""),
        "nothing is left active"
    );
    assert!(
        page.body.contains("class=\"stage end done\"") || page.body.contains("end done"),
        "{}",
        page.body
    );
}

async fn a_bulk_approval_reports_each_task_and_one_taken_meanwhile(backend: Backend) {
    let site = Site::running_on(backend).await;
    let nora = NewUser {
        name: "nora".into(),
        role: Role::Approver,
        account: None,
        groups: vec!["network-engineering".into()],
        password: Some(password("nora")),
    };
    let (nora, _) = site.world.app.add_user("test", &nora).await.expect("nora");
    let (rita, rita_csrf) = site.session("rita", "/order/wan-link").await;
    let mut orders = Vec::new();
    for key in ["b-1", "b-2", "b-3"] {
        orders.push(place(&site, &rita, &rita_csrf, key).await);
    }
    let (nina, csrf) = site.session("nina", "/inbox").await;
    let mut inbox = site.wait_for(&nina, "/inbox", &orders[2]).await;
    while task_ids(&inbox.body).len() < 3 {
        inbox = site.get(&nina, "/inbox").await;
    }
    let tasks = task_ids(&inbox.body);
    work::act(&site.world.app.orders, &nora, &tasks[1], Action::Approve)
        .await
        .expect("nora approves one first");
    let form = [
        ("csrf", csrf.as_str()),
        ("do", "approve"),
        ("task", tasks[0].as_str()),
        ("task", tasks[1].as_str()),
        ("task", tasks[2].as_str()),
    ];
    let result = site.post(&nina, "/inbox/bulk", &form).await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.body);
    assert_eq!(
        result.body.matches(": approved</li>").count(),
        2,
        "{}",
        result.body
    );
    let taken = work::visible_task(&site.world.app.orders, &site.world.nina, &tasks[1])
        .await
        .expect("the taken task");
    let key = taken.business_key.unwrap_or_default();
    let order = l2c_orders::payload::business_key_order(&key).unwrap_or_default();
    let line = format!("of order {order}: not approved");
    assert!(result.body.contains(&line), "{}", result.body);
}

async fn only_queue_members_see_a_task_and_requesters_have_no_inbox(backend: Backend) {
    let site = Site::running_on(backend).await;
    let (rita, rita_csrf) = site.session("rita", "/order/wan-link").await;
    let order = place(&site, &rita, &rita_csrf, "k-1").await;
    let nina = site.sign_in("nina").await;
    let inbox = site.wait_for(&nina, "/inbox", &order).await;
    let task = task_ids(&inbox.body).into_iter().next().expect("a task");
    let fred = site.sign_in("fred").await;
    assert_eq!(
        site.get(&fred, &format!("/tasks/{task}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        site.get(&rita, "/inbox").await.status,
        StatusCode::FORBIDDEN
    );
    let ada = site.sign_in("ada").await;
    let seen = site.get(&ada, &format!("/tasks/{task}")).await;
    assert_eq!(seen.status, StatusCode::OK, "admins see every queue");
    assert!(
        !seen.body.contains("/approve"),
        "but act only through the API's rules: {}",
        seen.body
    );
}
