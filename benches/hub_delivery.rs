//! Delivery throughput of the TMF622 hub: `--orders` orders are placed (one
//! ProductOrderCreateEvent each) with the server stopped, a listener on a local receiver is
//! registered, then the real server starts (no engine workers, so no other events) and the
//! bench times until the receiver has every event: events/s, signed, over loopback HTTP, with
//! `--batch` deliveries in flight per round.
//!
//! ```text
//! cargo bench --bench hub_delivery -- [--backend sqlite|postgres] [--orders 5000]
//!     [--batch 64] [--database-url URL]
//! ```

mod common;

use common::{eur_customer, fresh_database, hub_admin, receiver, Failure};
use l2c::app::{App, AppOptions};
use l2c::server::Server;
use l2c_orders::model::{OrderItemRequest, OrderRequest};
use l2c_orders::users::{NewUser, Role};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

struct Args {
    backend: String,
    orders: usize,
    batch: usize,
    url: Option<String>,
}

fn parse_args() -> Result<Args, Failure> {
    let mut args = Args {
        backend: "sqlite".into(),
        orders: 5000,
        batch: 64,
        url: std::env::var("L2C_TEST_DATABASE_URL").ok(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => args.backend = value()?,
            "--orders" => args.orders = value()?.parse()?,
            "--batch" => args.batch = value()?.parse()?,
            "--database-url" => args.url = Some(value()?),
            "--bench" => {}
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

fn lan() -> OrderRequest {
    let characteristics = [
        ("site".to_string(), serde_json::json!("FRA-001")),
        ("port_count".to_string(), serde_json::json!(24)),
        ("poe".to_string(), serde_json::json!(false)),
    ];
    OrderRequest {
        billing_account: "BENCH-EUR".into(),
        external_id: None,
        requested_completion_date: None,
        notes: None,
        items: vec![OrderItemRequest {
            action: l2c_catalog::OrderAction::Add,
            offering: "lan-setup".into(),
            version: None,
            quantity: 1,
            characteristics: characteristics.into_iter().collect(),
            product: None,
        }],
    }
}

async fn place_all(app: &App, n: usize) -> Result<(), Failure> {
    let requester = NewUser {
        name: "bench".into(),
        role: Role::Requester,
        account: Some("BENCH".into()),
        groups: vec![],
        password: None,
    };
    let (user, _) = app.add_user("bench", &requester).await?;
    let request = lan();
    let mut left = n;
    while left > 0 {
        let now = left.min(200);
        let batch = (0..now).map(|_| app.place_order(&user, &request, None));
        for placed in futures::future::join_all(batch).await {
            placed?;
        }
        left -= now;
    }
    Ok(())
}

fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (url, _dir) =
            fresh_database(&args.backend, args.url.as_deref(), "hub.db", "l2c_hub").await?;
        let mut options = AppOptions::new(url);
        options.settings.hub.batch = args.batch;
        options.settings.hub.poll_interval = "5ms".into();
        let app = App::open(options).await?;
        eur_customer(&app, "BENCH").await?;
        let token = hub_admin(&app).await?;
        place_all(&app, args.orders).await?;
        let (callback, count) = receiver().await?;
        let now = l2c::access::wall_now();
        let admin = l2c_orders::tokens::authenticate(&app.db, &token, now)
            .await?
            .ok_or("the admin")?
            .user;
        l2c_orders::hub::listeners::register(&app.db, &admin, &callback, None, app.now_ms())
            .await?;
        let started = Instant::now();
        let server = Server::start(app, "127.0.0.1:0".parse()?, 0).await?;
        let want = args.orders as u64;
        while count.load(Ordering::Relaxed) < want {
            if started.elapsed() > Duration::from_secs(600) {
                return Err("timed out".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let took = started.elapsed();
        println!(
            "hub_delivery: {} backend, {} events (batch {}) delivered in {:.2} s: {:.0} events/s",
            args.backend,
            want,
            args.batch,
            took.as_secs_f64(),
            want as f64 / took.as_secs_f64()
        );
        server.shutdown().await?;
        Ok::<_, Failure>(())
    })
}
