//! The web desk in a real headless Chromium through WebDriver (chromedriver + fantoccini),
//! against the real server on port 0 with its workers. Built in when `L2C_TEST_BROWSER`
//! names a Chromium binary at build time (`.ci/run` installs Debian's `chromium` and
//! `chromium-driver` and sets it), reported as ignored otherwise; with it set, a browser that
//! cannot start fails the test. `L2C_TEST_CHROMEDRIVER` names the driver (default
//! `chromedriver` on the PATH). Every scenario saves screenshots to `target/ui-screenshots/`.
//! [`Browser`] and [`served`] serve the other pages' browser scenarios too.

use super::{password, Site};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use l2c::server::Server;
use l2c_orders::model::OrderRequest;
use l2c_orders::users::{NewUser, Role};
use l2c_orders::work::{self, Action};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Chromium driven through its own chromedriver, and the server it talks to.
pub(super) struct Browser {
    client: Client,
    driver: Child,
    base: String,
    scenario: &'static str,
    shots: u32,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

impl Browser {
    pub(super) async fn open(server: &Server, scenario: &'static str) -> Browser {
        let binary = std::env::var("L2C_TEST_BROWSER")
            .expect("the browser tests were built with L2C_TEST_BROWSER; run them with it set");
        let driver_bin =
            std::env::var("L2C_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("L2C_TEST_BROWSER is set but {driver_bin} does not start: {e}")
            });
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut client = None;
        let mut last = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let client = client.unwrap_or_else(|| {
            panic!("L2C_TEST_BROWSER is set but Chromium ({binary}) does not start: {last}")
        });
        Browser {
            client,
            driver,
            base: server.url(),
            scenario,
            shots: 0,
        }
    }

    pub(super) async fn go(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigates");
    }

    pub(super) fn css<'a>(selector: &'a str) -> Locator<'a> {
        Locator::Css(selector)
    }

    pub(super) async fn fill(&self, selector: &str, text: &str) {
        let e = self.client.find(Self::css(selector)).await.expect(selector);
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    pub(super) async fn click(&self, selector: &str) {
        self.client
            .find(Self::css(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Marks the current document, so [`Browser::settled`] can tell when another has loaded.
    pub(super) async fn mark(&self) {
        self.client
            .execute("window.__l2cStale = true;", vec![])
            .await
            .expect("mark the page");
    }

    /// Waits until the marked document has been replaced by a new one that has loaded.
    pub(super) async fn settled(&self) {
        for _ in 0..200 {
            let fresh = self
                .client
                .execute(
                    "return window.__l2cStale === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(fresh, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page after 10 s at {}", self.path().await);
    }

    /// Clicks what leads to another page (a link, a form's button) and waits for that page.
    pub(super) async fn follow(&self, selector: &str) {
        self.mark().await;
        self.click(selector).await;
        self.settled().await;
    }

    /// Presses `key` on the focused element and waits for the page it leads to.
    pub(super) async fn press_to_page(&self, key: &str) {
        self.mark().await;
        self.client
            .active_element()
            .await
            .expect("focus")
            .send_keys(key)
            .await
            .expect("key");
        self.settled().await;
    }

    pub(super) async fn text(&self, selector: &str) -> String {
        match self.client.find(Self::css(selector)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub(super) async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    pub(super) async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Saves a screenshot as `target/ui-screenshots/<scenario>-<n>-<name>.png`.
    pub(super) async fn shot(&mut self, name: &str) {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_string());
        let dir = std::path::Path::new(&target).join("ui-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let file = dir.join(format!("{}-{:02}-{name}.png", self.scenario, self.shots));
        std::fs::write(file, png).expect("screenshot saved");
    }

    pub(super) async fn sign_in(&self, name: &str) {
        self.go("/sign-in").await;
        self.fill("#name", name).await;
        self.fill("#password", &password(name)).await;
        self.follow("form[action='/sign-in'] button").await;
    }

    pub(super) async fn sign_out(&self) {
        self.follow("form.who button").await;
    }

    /// Reloads `path` until its page contains `text`.
    pub(super) async fn until(&self, path: &str, text: &str) {
        for _ in 0..300 {
            self.go(path).await;
            if self.source().await.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} never showed {text:?}: {}", self.source().await);
    }

    pub(super) async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub(super) async fn served() -> (Site, Server) {
    let site = Site::new().await;
    let server = Server::start(
        site.world.app.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        2,
    )
    .await
    .expect("server starts");
    (site, server)
}

/// Places a WAN link for rita through the same function the form calls.
async fn wan_order(site: &Site, b_end: &str) -> String {
    let request: OrderRequest = serde_json::from_value(serde_json::json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "add", "offering": "wan-link",
                   "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": b_end}}]
    }))
    .expect("request");
    l2c_orders::place::place(&site.world.app.orders, &site.world.rita, &request, None)
        .await
        .expect("placed")
        .order_id
}

/// The order id of the newest task of the first inbox row.
async fn first_row_order(b: &Browser) -> String {
    b.text("#inbox-rows tr.task td:nth-child(4)").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(l2c_browser),
    ignore = "browser: set L2C_TEST_BROWSER to a Chromium binary"
)]
async fn an_order_from_the_form_to_delivery_in_a_browser() {
    let (site, server) = served().await;
    let mut b = Browser::open(&server, "order").await;
    b.go("/").await;
    assert!(b.path().await.starts_with("/sign-in"), "{}", b.path().await);
    b.shot("sign-in").await;
    b.sign_in("rita").await;
    assert_eq!(b.path().await, "/catalog");
    b.shot("catalog").await;
    b.follow("a[href='/order/wan-link']").await;
    b.client
        .find(Browser::css("#c-bandwidth_mbps"))
        .await
        .expect("bandwidth")
        .select_by_value("100")
        .await
        .expect("choose");
    b.fill("#c-a_end_site", "fra-1").await;
    b.fill("#notes", "<script>alert(1)</script>").await;
    b.follow("button[value='review']").await;
    let source = b.source().await;
    assert!(
        source.contains("id=\"c-a_end_site\""),
        "the form again: {source}"
    );
    assert!(
        b.text(".field.invalid .error").await.len() > 3,
        "a problem at the field"
    );
    assert!(
        b.client.find(Browser::css(".invalid")).await.is_ok(),
        "fields are marked"
    );
    b.shot("field-errors").await;
    b.fill("#c-a_end_site", "FRA-001").await;
    b.fill("#c-b_end_site", "MUC-004").await;
    for _ in 0..100 {
        if b.text("[data-total=one_time]").await == "1,500.00 EUR" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.text("[data-total=one_time]").await,
        "1,500.00 EUR",
        "the live quote"
    );
    assert_eq!(b.text("[data-total=monthly]").await, "450.00 EUR");
    b.shot("live-quote").await;
    b.follow("button[value='review']").await;
    assert!(b.source().await.contains("Place order"));
    b.shot("review").await;
    b.follow("button[value='place']").await;
    let path = b.path().await;
    assert!(
        path.contains("?placed=1"),
        "{path}: {}",
        b.text("main").await
    );
    let order = path
        .trim_start_matches("/orders/")
        .trim_end_matches("?placed=1")
        .to_string();
    assert_eq!(
        b.text("dd.pre").await,
        "<script>alert(1)</script>",
        "the note is text"
    );
    b.shot("placed").await;
    let second = wan_order(&site, "HAM-002").await;
    b.sign_out().await;

    b.sign_in("nina").await;
    b.until("/inbox", &second).await;
    assert_eq!(
        first_row_order(&b).await,
        order,
        "the oldest deadline first"
    );
    b.shot("inbox").await;
    b.follow("#inbox-rows tr.task a").await;
    b.follow("form[action$='/reject'] button").await;
    assert!(
        b.text("#reason-error").await.contains("reason"),
        "{}",
        b.source().await
    );
    b.shot("reject-without-reason").await;
    b.follow("#approve").await;
    let landed = b.path().await;
    assert!(
        landed.starts_with("/tasks/") && landed.contains("did=approved"),
        "{landed}"
    );
    assert!(b
        .text(".notice")
        .await
        .contains("You approved Technical feasibility"));
    assert!(
        b.source().await.contains(&second),
        "the next task is the other order's"
    );
    b.shot("next-task").await;
    b.sign_out().await;

    b.sign_in("fred").await;
    b.until("/inbox", "Install the CPE on site").await;
    b.follow("#inbox-rows tr.task a").await;
    b.fill("#key0", "cpe_serial").await;
    b.fill("#value0", "SN-4711").await;
    b.shot("cpe-task").await;
    b.follow("form[action$='/complete'] button").await;
    b.sign_out().await;

    b.sign_in("rita").await;
    b.until(&format!("/orders/{order}"), "Order completed")
        .await;
    let page = b.source().await;
    for words in [
        "Technical feasibility approved by nina",
        "Install the CPE on site: done by fred",
        "Billing started",
    ] {
        assert!(page.contains(words), "{words:?}: {page}");
    }
    let item_drawing = b
        .client
        .find_all(Browser::css("figure:nth-of-type(2) g.stage"))
        .await
        .expect("stages");
    assert!(!item_drawing.is_empty(), "the item's workflow is drawn");
    for g in &item_drawing {
        let class = g.attr("class").await.expect("class").unwrap_or_default();
        assert!(class.ends_with(" done"), "every stage done: {class}");
    }
    b.shot("completed").await;
    b.sign_out().await;

    b.sign_in("gus").await;
    b.go(&format!("/orders/{order}")).await;
    assert_eq!(b.text("h1").await, "Not found");
    b.shot("other-account").await;
    b.close().await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(l2c_browser),
    ignore = "browser: set L2C_TEST_BROWSER to a Chromium binary"
)]
async fn bulk_approval_and_a_keyboard_only_approval_in_a_browser() {
    let (site, server) = served().await;
    let nora = NewUser {
        name: "nora".into(),
        role: Role::Approver,
        account: None,
        groups: vec!["network-engineering".into()],
        password: None,
    };
    let (nora, _) = site.world.app.add_user("test", &nora).await.expect("nora");
    let mut orders = Vec::new();
    for b_end in ["HAM-001", "HAM-002", "HAM-003", "HAM-004"] {
        orders.push(wan_order(&site, b_end).await);
    }
    let mut b = Browser::open(&server, "bulk").await;
    b.sign_in("nina").await;
    b.until("/inbox", &orders[3]).await;
    let boxes = b
        .client
        .find_all(Browser::css("#inbox-rows input[type=checkbox]"))
        .await
        .expect("rows");
    assert_eq!(boxes.len(), 4);
    let taken = boxes[1]
        .attr("value")
        .await
        .expect("value")
        .unwrap_or_default();
    let key = work::visible_task(&site.world.app.orders, &site.world.nina, &taken)
        .await
        .expect("task")
        .business_key
        .unwrap_or_default();
    let taken_order = l2c_orders::payload::business_key_order(&key).unwrap_or_default();
    for tick in &boxes[..3] {
        tick.click().await.expect("tick");
    }
    work::act(&site.world.app.orders, &nora, &taken, Action::Approve)
        .await
        .expect("nora takes one meanwhile");
    b.shot("ticked").await;
    b.follow("button[value='approve']").await;
    let report = b.text(".notice").await;
    assert_eq!(report.matches(": approved").count(), 2, "{report}");
    assert!(
        report.contains(&format!("of order {taken_order}: not approved")),
        "{report}"
    );
    b.shot("bulk-report").await;

    b.go("/inbox").await;
    let body = b.client.find(Browser::css("body")).await.expect("body");
    body.send_keys("j").await.expect("j");
    b.press_to_page(&Key::Enter.to_string()).await;
    assert!(
        b.path().await.starts_with("/tasks/"),
        "Enter opens the task: {}",
        b.path().await
    );
    b.shot("keyboard-task").await;
    b.client
        .find(Browser::css("body"))
        .await
        .expect("body")
        .send_keys("?")
        .await
        .expect("?");
    assert!(
        b.client
            .find(Browser::css("#shortcuts[open]"))
            .await
            .is_ok(),
        "? shows the shortcuts"
    );
    b.shot("shortcuts").await;
    b.client
        .active_element()
        .await
        .expect("focus")
        .send_keys(&Key::Escape.to_string())
        .await
        .expect("esc");
    b.mark().await;
    b.client
        .find(Browser::css("body"))
        .await
        .expect("body")
        .send_keys("a")
        .await
        .expect("a");
    b.settled().await;
    assert!(
        b.path().await.contains("did=approved"),
        "a approves: {}",
        b.path().await
    );
    assert!(b.text(".notice").await.contains("You approved"));
    b.shot("keyboard-approved").await;
    b.close().await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(l2c_browser),
    ignore = "browser: set L2C_TEST_BROWSER to a Chromium binary"
)]
async fn a_form_without_its_csrf_token_is_refused_in_a_browser() {
    let (site, server) = served().await;
    let mut b = Browser::open(&server, "csrf").await;
    b.sign_in("rita").await;
    b.go("/order/wan-link").await;
    b.fill("#c-a_end_site", "FRA-001").await;
    b.fill("#c-b_end_site", "MUC-004").await;
    b.client
        .execute(
            "document.querySelector('form.order-form input[name=csrf]').remove()",
            vec![],
        )
        .await
        .expect("the token is removed");
    b.follow("button[value='review']").await;
    assert_eq!(b.text("h1").await, "This form has expired");
    b.shot("refused").await;
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&site.world.app.db.pool)
        .await
        .expect("count");
    assert_eq!(orders, 0);
    b.close().await;
    server.shutdown().await.expect("shutdown");
}
