//! Prometheus metrics: HTTP request and step (handler call) latency histograms, recorded as
//! they happen, and gauges read from the database at scrape time (orders by state, open tasks
//! by group, incidents), so every node reports the shared truth.

use crate::app::App;
use l2c_engine::handler::{HandlerResult, Observer};
use l2c_orders::error::{DeskError, DeskResult};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// GET, POST, ...
    pub method: String,
    /// The route pattern, e.g. `/api/v1/orders/{id}`.
    pub route: String,
    /// The status code.
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    handler: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The metrics of one process.
pub struct Metrics {
    registry: Registry,
    requests: Histograms<RequestLabels>,
    steps: Histograms<StepLabels>,
    orders: Family<StateLabels, Gauge>,
    queues: Family<GroupLabels, Gauge>,
    incidents: Gauge,
    hub_pending: Gauge,
    hub_dead: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("l2c");
        let requests: Histograms<RequestLabels> = Family::new_with_constructor(latency_histogram);
        let steps: Histograms<StepLabels> = Family::new_with_constructor(latency_histogram);
        let orders = Family::<StateLabels, Gauge>::default();
        let queues = Family::<GroupLabels, Gauge>::default();
        let incidents = Gauge::default();
        let (hub_pending, hub_dead) = (Gauge::default(), Gauge::default());
        registry.register(
            "hub_deliveries_pending",
            "Event notifications owed to listeners, not yet delivered",
            hub_pending.clone(),
        );
        registry.register(
            "hub_dead_letters",
            "Event notifications whose last attempt failed",
            hub_dead.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            requests.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "Step handler call latency by handler and outcome",
            steps.clone(),
        );
        registry.register("orders", "Orders by TMF622 state", orders.clone());
        registry.register("open_tasks", "Open human tasks by group", queues.clone());
        registry.register(
            "incidents",
            "Steps waiting for an operator",
            incidents.clone(),
        );
        Metrics {
            registry,
            requests,
            steps,
            orders,
            queues,
            incidents,
            hub_pending,
            hub_dead,
        }
    }

    /// Records one HTTP request.
    pub fn request(&self, labels: RequestLabels, took: Duration) {
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// An engine handler observer that records step latencies here.
    pub fn observer(self: &Arc<Self>) -> Observer {
        let me = Arc::clone(self);
        Arc::new(
            move |handler: &str, took: Duration, result: &HandlerResult| {
                let outcome = match result {
                    Ok(_) => "ok",
                    Err(l2c_engine::handler::HandlerError::Retryable(_)) => "retryable",
                    Err(l2c_engine::handler::HandlerError::Fatal(_)) => "fatal",
                };
                let labels = StepLabels {
                    handler: handler.to_string(),
                    outcome,
                };
                me.steps.get_or_create(&labels).observe(took.as_secs_f64());
            },
        )
    }

    /// Reads the gauges from the database and renders everything in the text format.
    pub async fn render(&self, app: &App) -> DeskResult<String> {
        let counts = l2c_orders::store::count_by_state(&app.db).await?;
        // Every TMF622 state is reported (0 when none), so concurrent scrapes never see a
        // half-cleared family.
        for state in l2c_orders::state::ORDER_STATES {
            let n = counts.get(state.as_str()).copied().unwrap_or(0);
            self.orders
                .get_or_create(&StateLabels {
                    state: state.as_str().to_string(),
                })
                .set(n);
        }
        let open: std::collections::HashMap<String, i64> =
            app.engine.open_task_counts().await?.into_iter().collect();
        // Every declared group is reported, an empty queue as 0.
        for group in app.groups.iter() {
            let labels = GroupLabels {
                group: group.clone(),
            };
            self.queues
                .get_or_create(&labels)
                .set(open.get(group).copied().unwrap_or(0));
        }
        self.incidents.set(app.engine.incident_count().await?);
        let (pending, dead) = l2c_orders::hub::delivery::backlog(&app.db).await?;
        self.hub_pending.set(pending);
        self.hub_dead.set(dead);
        let mut out = String::new();
        encode(&mut out, &self.registry).map_err(|e| DeskError::Internal(e.to_string()))?;
        Ok(out)
    }
}
