//! `l2c serve`, `l2c worker`, `l2c migrate`, `l2c user add` and `l2c account add-customer|
//! add-billing`: the commands that run l2c on a database.

use anyhow::{Context, Result};
use clap::Args;
use l2c::access::CLI_ACTOR;
use l2c::app::{redact, App, AppOptions};
use l2c::server::{spawn_workers, stop_workers, Server};
use l2c::settings::Settings;
use l2c_engine::db::Db;
use l2c_orders::accounts::{self, BillingAccount, CustomerAccount};
use l2c_orders::users::{self, NewUser, Role};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The embedded default database: `l2c.db` in the working directory, created if missing.
pub const DEFAULT_DATABASE: &str = "sqlite://l2c.db?mode=rwc";

/// Where the data is and how l2c is configured.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE)]
    pub database_url: String,
    /// A settings file (TOML; docs/configuration.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Workflow definitions to load instead of the shipped ones.
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    /// A catalog file to load instead of the shipped one.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
}

impl DbArgs {
    /// Opens the app (migrating the database) with these arguments.
    pub async fn open(&self, sandbox: bool) -> Result<App> {
        self.open_with(sandbox, |_| {}).await
    }

    /// [`DbArgs::open`], with `adjust` changing the options last.
    pub async fn open_with(
        &self,
        sandbox: bool,
        adjust: impl FnOnce(&mut AppOptions),
    ) -> Result<App> {
        let mut options = AppOptions::new(self.database_url.clone());
        if let Some(file) = &self.config {
            options.settings = Settings::from_file(file)?;
        }
        options.workflows_dir = self.workflows.clone();
        options.catalog_file = self.catalog.clone();
        options.sandbox = sandbox;
        adjust(&mut options);
        App::open(options).await
    }
}

/// Registers for SIGINT and SIGTERM now, and resolves when one arrives. Registering before
/// the "running" line is printed matters: a signal sent right after it must not find the
/// default action (which kills the process) still in place.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        match (term, int) {
            (Some(mut term), Some(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Warns when workflows outside the sandbox commission on the simulated network: nothing
/// real is provisioned for those stages.
fn warn_if_simulated(app: &App) {
    if app.sandbox.is_none() && !app.simulated.is_empty() {
        tracing::warn!(
            stages = %app.simulated.join(", "),
            "these stages run on the built-in simulated network, which provisions nothing real; \
             point them at your systems with webhooks, or set [network] simulator = false \
             (docs/configuration.md, Commissioning)"
        );
    }
}

/// Where `l2c serve` finds its certificate chain and private key (PEM) to serve HTTPS.
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// `l2c serve`: over HTTPS with `tls` (then session cookies are `Secure` whatever the
/// settings say).
pub async fn serve(
    db: &DbArgs,
    listen: SocketAddr,
    sandbox: bool,
    tls: Option<TlsFiles>,
) -> Result<()> {
    let acceptor = tls
        .as_ref()
        .map(|t| l2c::tls::acceptor(&t.cert, &t.key))
        .transpose()?;
    let https = acceptor.is_some();
    let app = db
        .open_with(sandbox, |o| o.settings.web.behind_tls |= https)
        .await?;
    warn_if_simulated(&app);
    let workers = app.settings.workers;
    let server = Server::start_with(app, listen, workers, acceptor).await?;
    let stop = shutdown_signal();
    tracing::info!(
        addr = %server.addr,
        database = %redact(&db.database_url),
        sandbox,
        workers,
        "l2c serving; API docs at /api/docs"
    );
    println!(
        "l2c listening on {} (database {}{})",
        server.url(),
        redact(&db.database_url),
        if sandbox { ", sandbox clock" } else { "" }
    );
    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await
}

/// `l2c worker`.
pub async fn worker(db: &DbArgs) -> Result<()> {
    let app = db.open(false).await?;
    warn_if_simulated(&app);
    let workers = spawn_workers(&app, app.settings.workers);
    let stop = shutdown_signal();
    println!("l2c worker running ({} workers)", app.settings.workers);
    stop.await;
    stop_workers(workers).await
}

/// `l2c migrate`.
pub async fn migrate(database_url: &str) -> Result<()> {
    let db = Db::connect(database_url, 2)
        .await
        .with_context(|| format!("connect to {}", redact(database_url)))?;
    l2c::schema::migrate(&db)
        .await
        .context("apply migrations")?;
    println!("{}: migrations applied", redact(database_url));
    Ok(())
}

/// `l2c user add`.
pub async fn add_user(db: &DbArgs, user: NewUser) -> Result<()> {
    let app = db.open(false).await?;
    let (user, token) = app.add_user(CLI_ACTOR, &user).await?;
    println!("user {} ({}) added", user.name, user.role);
    println!("token (shown once; l2c keeps only its hash): {token}");
    Ok(())
}

/// `l2c user passwd NAME`.
pub async fn set_password(db: &DbArgs, name: &str) -> Result<()> {
    let password = read_password()?;
    let app = db.open(false).await?;
    users::set_password(&app.db, CLI_ACTOR, name, &password, l2c::access::wall_now()).await?;
    println!("password of {name} set");
    Ok(())
}

/// One line of standard input, without its line end (a password piped in or typed).
pub fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("read the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Parses a role for clap.
pub fn parse_role(s: &str) -> std::result::Result<Role, String> {
    s.parse()
}

/// `l2c account add-customer`.
pub async fn add_customer(db: &DbArgs, account: CustomerAccount) -> Result<()> {
    let app = db.open(false).await?;
    accounts::add_customer(&app.db, CLI_ACTOR, &account, app.now_ms()).await?;
    println!("customer account {} added", account.id);
    Ok(())
}

/// `l2c account add-billing`.
pub async fn add_billing(db: &DbArgs, account: BillingAccount) -> Result<()> {
    let app = db.open(false).await?;
    accounts::add_billing(&app.db, CLI_ACTOR, &account, app.now_ms()).await?;
    println!("billing account {} added", account.id);
    Ok(())
}
