//! Test support for the l2c package: an [`App`] on a fresh database (a SQLite file, or a new
//! PostgreSQL database when `L2C_TEST_DATABASE_URL` is set), with accounts and users.

pub mod billing;
pub mod client;

use l2c::app::{App, AppOptions};
use l2c::settings::Settings;
use l2c_orders::accounts::{self, BillingAccount, CustomerAccount};
use l2c_orders::users::{NewUser, Role, User};
use std::time::Duration;

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An app that lives as long as the test, with its people.
pub struct World {
    pub app: App,
    pub rita: User,
    pub other: User,
    pub sam: User,
    pub nina: User,
    pub fred: User,
    pub ada: User,
    /// Every user's bearer token, by user name.
    pub tokens: std::collections::HashMap<String, String>,
    /// The database URL (for a second process on the same database).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database's URL for `backend` (and the folder of a SQLite file). PostgreSQL needs
/// `L2C_TEST_DATABASE_URL`: a PostgreSQL test runs only when it was set for the build, and then
/// fails without it or without a server, never passes silently.
pub async fn database_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("l2c.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let admin = std::env::var("L2C_TEST_DATABASE_URL").unwrap_or_else(|_| {
                panic!("a PostgreSQL test runs, but L2C_TEST_DATABASE_URL is not set (it was when the tests were built)")
            });
            let url = l2c_engine::db::create_postgres_database(&admin, "l2c_test")
                .await
                .unwrap_or_else(|e| panic!("L2C_TEST_DATABASE_URL is set but PostgreSQL at {admin} refused a test database: {e}"));
            (url, None)
        }
    }
}

async fn user(
    app: &App,
    tokens: &mut std::collections::HashMap<String, String>,
    name: &str,
    role: Role,
    account: Option<&str>,
    groups: &[&str],
) -> User {
    let new = NewUser {
        name: name.into(),
        role,
        account: account.map(str::to_string),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        password: None,
    };
    let (user, token) = app.add_user("test", &new).await.expect("user");
    tokens.insert(name.to_string(), token);
    user
}

/// A world on `backend` with the sandbox clock and these settings.
pub async fn world_with(backend: Backend, settings: Settings) -> World {
    world_opts(backend, |o| o.settings = settings).await
}

/// A world on `backend` with the sandbox clock; `configure` adjusts the app's options.
pub async fn world_opts(backend: Backend, configure: impl FnOnce(&mut AppOptions)) -> World {
    let (url, dir) = database_url(backend).await;
    let mut options = AppOptions::new(url.clone());
    configure(&mut options);
    options.sandbox = true;
    options.engine.poll_interval = Duration::from_millis(20);
    let app = App::open(options).await.expect("app opens");
    let now = app.now_ms();
    for (id, name) in [("ACME", "Acme Corp"), ("GLOBEX", "Globex")] {
        let customer = CustomerAccount {
            id: id.into(),
            name: name.into(),
            segment: "enterprise".into(),
            country: "DE".into(),
        };
        accounts::add_customer(&app.db, "test", &customer, now)
            .await
            .expect("customer");
        let billing = BillingAccount {
            id: format!("{id}-EUR"),
            customer_account: id.into(),
            name: format!("{name} EUR"),
            currency: "EUR".into(),
            cycle_day: 1,
            time_zone: "Europe/Berlin".into(),
            payment_terms_days: 30,
            ..Default::default()
        };
        accounts::add_billing(&app.db, "test", &billing, now)
            .await
            .expect("billing");
    }
    let mut tokens = std::collections::HashMap::new();
    let t = &mut tokens;
    let rita = user(&app, t, "rita", Role::Requester, Some("ACME"), &[]).await;
    let other = user(&app, t, "gus", Role::Requester, Some("GLOBEX"), &[]).await;
    let sam = user(&app, t, "sam", Role::Approver, None, &["sales-managers"]).await;
    let nina = user(
        &app,
        t,
        "nina",
        Role::Approver,
        None,
        &["network-engineering"],
    )
    .await;
    let fred = user(&app, t, "fred", Role::Engineer, None, &["field-engineers"]).await;
    let ada = user(&app, t, "ada", Role::Admin, None, &[]).await;
    user(&app, t, "fay", Role::Finance, None, &[]).await;
    user(&app, t, "lena", Role::Approver, None, &["network-leads"]).await;
    World {
        app,
        rita,
        other,
        sam,
        nina,
        fred,
        ada,
        tokens,
        url,
        _dir: dir,
    }
}

/// A world with default settings.
pub async fn world(backend: Backend) -> World {
    world_with(backend, Settings::default()).await
}

/// Generates one test per scenario and backend.
#[macro_export]
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(l2c_postgres),
                    ignore = "PostgreSQL: set L2C_TEST_DATABASE_URL when building and running the tests"
                )]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Starts `l2c serve` (with `--listen 127.0.0.1:0` among `args`) with its standard error
/// going to `stderr`; answers the process and the base URL it prints first.
pub fn spawn_serve(args: &[&str], stderr: std::process::Stdio) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_l2c"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address is printed")
        .to_string();
    (child, base)
}
