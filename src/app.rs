//! Wiring: the database, catalog, workflows, handlers, the order listener and the engine,
//! put together once and shared (cheaply cloned) by the HTTP API, the workers and the CLI.

use crate::handlers::network::Network;
use crate::metrics::Metrics;
use crate::settings::Settings;
use anyhow::Context;
use chrono::NaiveDate;
use l2c_catalog::{Catalog, LifecycleStatus};
use l2c_engine::clock::{Clock, SystemClock, TestClock};
use l2c_engine::db::Db;
use l2c_engine::runtime::{ActorCheckRequest, EngineOptions};
use l2c_engine::Engine;
use l2c_invoicing::schedule::Schedules;
use l2c_invoicing::Invoicing;
use l2c_orders::error::{DeskError, DeskResult};
use l2c_orders::payload::PlacedBy;
use l2c_orders::rollup::OrderListener;
use l2c_orders::users;
use l2c_orders::{OrderSettings, Orders};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// How to open an [`App`].
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// `sqlite://l2c.db?mode=rwc` or `postgres://...`.
    pub database_url: String,
    /// Settings (threshold, network, webhooks, workers).
    pub settings: Settings,
    /// Load workflows from here instead of the shipped ones.
    pub workflows_dir: Option<PathBuf>,
    /// Load the catalog from here instead of the shipped one.
    pub catalog_file: Option<PathBuf>,
    /// Run on a test clock that `POST /api/v1/sandbox/clock` moves (starting now).
    pub sandbox: bool,
    /// Engine leases, batches and polling.
    pub engine: EngineOptions,
    /// Database connections.
    pub max_connections: u32,
}

impl AppOptions {
    /// Defaults for a database URL.
    pub fn new(database_url: impl Into<String>) -> AppOptions {
        AppOptions {
            database_url: database_url.into(),
            settings: Settings::default(),
            workflows_dir: None,
            catalog_file: None,
            sandbox: false,
            engine: EngineOptions::default(),
            max_connections: 16,
        }
    }
}

/// Everything a request or a worker needs.
#[derive(Clone)]
pub struct App {
    /// The database.
    pub db: Db,
    /// The workflow engine.
    pub engine: Engine,
    /// The product catalog.
    pub catalog: Arc<Catalog>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// The clock everything reads.
    pub clock: Arc<dyn Clock>,
    /// The sandbox's test clock, when running with `--sandbox`.
    pub sandbox: Option<TestClock>,
    /// The declared groups.
    pub groups: Arc<Vec<String>>,
    /// Prometheus metrics (step latencies are recorded as handlers run).
    pub metrics: Arc<Metrics>,
    /// This node's operating records for the monthly report, written in batches.
    pub records: Arc<crate::records::Recorder>,
    /// The order desk.
    pub orders: Orders,
    /// Billing runs and finance operations.
    pub invoicing: Invoicing,
    /// Billing schedules (invoicing and the engine that fires them).
    pub schedules: Schedules,
    /// The loaded workflows' stages the simulated network serves (`workflow/stage (handler)`).
    pub simulated: Arc<Vec<String>>,
    /// Who the bearer tokens are, cached on this node (`crate::access`).
    pub access: Arc<crate::access::Access>,
    /// Each user's limit on writes (`[server] writes_per_minute`).
    pub limits: Arc<crate::limits::WriteLimits>,
    members: Members,
}

/// Refuses any actor acting on a task of their own order.
fn nobody_approves_their_own(req: &ActorCheckRequest<'_>) -> Result<(), String> {
    // Order and item workflows carry their requester; other workflows have none to check.
    let requester = req.input_as::<PlacedBy>().ok();
    if requester.is_some_and(|r| r.requester == req.actor) {
        return Err(format!(
            "{} placed this order; nobody approves or works on their own order",
            req.actor
        ));
    }
    Ok(())
}

impl App {
    /// Connects, migrates, loads the catalog and workflows, and builds the engine.
    pub async fn open(options: AppOptions) -> anyhow::Result<App> {
        options.settings.check()?;
        let db = database(&options).await?;
        let catalog = Arc::new(match &options.catalog_file {
            Some(f) => Catalog::from_file(f)?,
            None => Catalog::builtin()?,
        });
        let (clock, sandbox) = clocks(options.sandbox);
        let network = &options.settings.network;
        if network.simulator {
            Network::new(db.clone(), network.failure_rate)
                .seed(network.routers, network.ports_per_router, clock.now_ms())
                .await
                .context("seed the simulated network")?;
        }
        let invoicing = Invoicing {
            db: db.clone(),
            settings: Arc::new(options.settings.billing.clone()),
            clock: clock.clone(),
        };
        let mut handlers =
            crate::handlers::register(&db, &catalog, &clock, &invoicing, &options.settings)?;
        let metrics = Arc::new(Metrics::new());
        handlers.instrument(metrics.observer());
        let names: Vec<String> = handlers.names().into_iter().collect();
        let loaded = crate::workflows::load(options.workflows_dir.as_deref(), &names)?;
        check_offerings(&catalog, &loaded.definitions)?;
        let simulated = Arc::new(crate::handlers::simulated_stages(&loaded.definitions));
        let members: Members = Arc::default();
        let engine = Engine::builder(db.clone())
            .definitions(loaded.definitions, loaded.known)
            .handlers(handlers)
            .clock(clock.clone())
            .options(options.engine.clone())
            .actor_check(Arc::new(nobody_approves_their_own))
            .directory(directory(&members))
            .listener(Arc::new(OrderListener::new(db.backend, clock.clone())))
            .build()
            .await?;
        let orders = Orders::start(
            db.clone(),
            engine.clone(),
            catalog.clone(),
            clock.clone(),
            OrderSettings {
                commercial_approval_threshold: options.settings.commercial_approval_threshold,
            },
        );
        let schedules = Schedules {
            invoicing: invoicing.clone(),
            engine: engine.clone(),
        };
        let limits = crate::limits::WriteLimits::new(options.settings.server.writes_per_minute);
        let app = App {
            limits: Arc::new(limits),
            access: Arc::default(),
            db,
            engine,
            catalog,
            settings: Arc::new(options.settings),
            clock,
            sandbox,
            groups: Arc::new(loaded.groups),
            members,
            metrics,
            records: Arc::new(crate::records::Recorder::new()),
            orders,
            invoicing,
            schedules,
            simulated,
        };
        app.refresh_directory().await?;
        app.access.sync(&app.db).await?;
        app.note_catalog().await?;
        Ok(app)
    }

    /// Records when each catalog offering version was first loaded on this database (the
    /// report's new offerings of a month).
    async fn note_catalog(&self) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write().await?;
        for o in self.catalog.offerings() {
            sqlx::query(
                "INSERT INTO catalog_seen (offering, version, first_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(o.id().to_string())
            .bind(i64::from(o.version()))
            .bind(self.clock.now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Places an order for `user` (the one way the API and the pages place one), within the
    /// user's write limit, counting a request refused for field problems in the operating
    /// records (customer effort).
    pub async fn place_order(
        &self,
        user: &users::User,
        request: &l2c_orders::model::OrderRequest,
        idempotency_key: Option<&str>,
    ) -> DeskResult<l2c_orders::model::Placed> {
        self.limits.admit(&user.name)?;
        let placed = l2c_orders::place::place(&self.orders, user, request, idempotency_key).await;
        if let Err(DeskError::Validation(_)) = &placed {
            self.records.order_refusal(self.now_ms());
        }
        placed
    }

    /// Cancels order `id` for `user` (API and pages), within the user's write limit.
    pub async fn cancel_order(
        &self,
        user: &users::User,
        id: &str,
        reason: &str,
    ) -> DeskResult<l2c_orders::cancel::Cancellation> {
        self.limits.admit(&user.name)?;
        l2c_orders::cancel::cancel(&self.orders, user, id, reason).await
    }

    /// Does `action` on task `id` for `user` (API and pages), within the user's write limit.
    pub async fn act_on_task(
        &self,
        user: &users::User,
        id: &str,
        action: l2c_orders::work::Action,
    ) -> DeskResult<l2c_engine::runtime::TaskView> {
        self.limits.admit(&user.name)?;
        l2c_orders::work::act(&self.orders, user, id, action).await
    }

    /// Retries incident `step` for admin `by`, and records the decision in the audit log.
    pub async fn retry_incident(&self, by: &str, step: &str) -> DeskResult<()> {
        self.engine.retry_incident(step, by).await?;
        self.audit_incident(by, "incident.retry", step, None).await
    }

    /// Skips incident `step` for admin `by` as if it returned `output`, and records it.
    pub async fn skip_incident(
        &self,
        by: &str,
        step: &str,
        output: serde_json::Value,
    ) -> DeskResult<()> {
        self.engine.skip_incident(step, by, output.clone()).await?;
        self.audit_incident(by, "incident.skip", step, Some(output))
            .await
    }

    /// The audit entry of an incident decision, written right after the engine's transaction
    /// (the engine owns it; its history records the decision and its actor too).
    async fn audit_incident(
        &self,
        by: &str,
        action: &'static str,
        step: &str,
        output: Option<serde_json::Value>,
    ) -> DeskResult<()> {
        let entry = l2c_orders::audit::Entry {
            actor: by,
            action,
            subject: format!("step:{step}"),
            before: Some(serde_json::json!({"state": "incident"})),
            after: Some(serde_json::json!({"decision": action, "output": output})),
        };
        l2c_orders::audit::record_alone(&self.db, &entry, crate::access::wall_now()).await
    }

    /// Now, in milliseconds since the epoch, on the app's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Today's date (UTC) on the app's clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    /// Re-reads group membership (for `quorum = "all"`) after users change.
    pub async fn refresh_directory(&self) -> anyhow::Result<()> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (group, user) in users::group_members(&self.db).await? {
            map.entry(group).or_default().push(user);
        }
        if let Ok(mut members) = self.members.write() {
            *members = map;
        }
        Ok(())
    }

    /// Adds a user for `by` (an admin's name, or the CLI's) and refreshes the directory;
    /// returns the user and its one-time token.
    pub async fn add_user(
        &self,
        by: &str,
        user: &users::NewUser,
    ) -> DeskResult<(users::User, String)> {
        let now = crate::access::wall_now();
        let added = users::add_user(&self.db, by, user, &self.groups, now).await?;
        self.refresh_directory()
            .await
            .map_err(|e| DeskError::Internal(e.to_string()))?;
        Ok(added)
    }
}

/// Group members by group, for `quorum = "all"`.
type Members = Arc<RwLock<HashMap<String, Vec<String>>>>;

/// The engine's view of `members`.
fn directory(members: &Members) -> l2c_engine::runtime::Directory {
    let members = members.clone();
    Arc::new(move |group: &str| {
        members
            .read()
            .ok()
            .and_then(|m| m.get(group).cloned())
            .unwrap_or_default()
    })
}

/// Connects and applies every migration.
async fn database(options: &AppOptions) -> anyhow::Result<Db> {
    let db = Db::connect(&options.database_url, options.max_connections)
        .await
        .with_context(|| format!("connect to {}", redact(&options.database_url)))?;
    crate::schema::migrate(&db)
        .await
        .context("apply migrations")?;
    Ok(db)
}

/// The clock everything reads: the system's, or a sandbox's test clock starting now.
fn clocks(sandbox: bool) -> (Arc<dyn Clock>, Option<TestClock>) {
    if sandbox {
        let test = TestClock::at(chrono::Utc::now());
        (Arc::new(test.clone()), Some(test))
    } else {
        (Arc::new(SystemClock), None)
    }
}

/// Every orderable offering names a loaded workflow (drafts may name one still to come).
fn check_offerings(
    catalog: &Catalog,
    definitions: &l2c_engine::definition::Definitions,
) -> anyhow::Result<()> {
    let missing: Vec<String> = catalog
        .offerings()
        .iter()
        .filter(|o| o.status() != LifecycleStatus::Draft)
        .filter(|o| definitions.get(o.workflow()).is_none())
        .map(|o| format!("{} v{} runs `{}`", o.id(), o.version(), o.workflow()))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "offerings name workflows that are not loaded: {}",
            missing.join("; ")
        )
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
