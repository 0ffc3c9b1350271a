//! `l2c serve` and `l2c worker` as a library: the HTTP API, the web desk and the engine's
//! workers (which also fire timers) on one app, with graceful shutdown — the listener stops
//! accepting, in-flight requests finish, then workers finish or release their in-flight steps.
//! [`router`] is the one place the API and the web desk meet.

use crate::app::App;
use crate::http::{self, ApiState};
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Router;
use l2c_engine::runtime::WorkerHandle;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::compression::CompressionLayer;

/// The whole site: the API and the web desk, with metrics, the body limit and compression
/// for all of it; a path nothing serves is a problem under the API's prefixes and a page
/// elsewhere.
pub fn router(app: App) -> Router {
    let state = ApiState::new(app.clone());
    Router::new()
        .merge(http::router(state.clone()))
        .merge(crate::web::router(app))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state,
            http::ops::track,
        ))
        .layer(DefaultBodyLimit::max(http::MAX_BODY))
        .layer(CompressionLayer::new())
}

async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/tmf-api/") {
        http::no_route().await.into_response()
    } else {
        crate::web::not_found().await
    }
}

/// Serves the site on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(app).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A running server.
pub struct Server {
    /// The address it listens on (port 0 resolved).
    pub addr: SocketAddr,
    /// The app it serves.
    pub app: App,
    stop: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    workers: Background,
}

/// The background work of a node: engine workers and the billing scheduler.
pub struct Background {
    workers: Vec<WorkerHandle>,
    scheduler: tokio::task::JoinHandle<()>,
    recorder: tokio::task::JoinHandle<()>,
    app: App,
}

/// Starts `workers` engine workers on `app`, the scheduler that keeps every billing
/// schedule's next occurrence started, and the writer of this node's operating records.
pub fn spawn_workers(app: &App, workers: usize) -> Background {
    let every = std::time::Duration::from_secs(1);
    let clock = app.clock.clone();
    Background {
        workers: (0..workers).map(|_| app.engine.worker().spawn()).collect(),
        scheduler: l2c_invoicing::schedule::spawn_scheduler(app.schedules.clone(), every),
        recorder: crate::records::spawn(
            app.records.clone(),
            app.db.clone(),
            move || clock.now_ms(),
            crate::records::FLUSH_EVERY,
        ),
        app: app.clone(),
    }
}

/// Stops the scheduler, then the workers: each finishes or releases its in-flight steps;
/// then writes the operating records still pending.
pub async fn stop_workers(background: Background) -> anyhow::Result<()> {
    background.scheduler.abort();
    background.recorder.abort();
    for w in background.workers {
        w.shutdown().await?;
    }
    let app = &background.app;
    if let Err(e) = app.records.flush(&app.db, app.clock.now_ms()).await {
        tracing::warn!(error = %e, "operating records not written at shutdown");
    }
    Ok(())
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves the API with `workers` workers.
    pub async fn start(app: App, listen: SocketAddr, workers: usize) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let http = tokio::spawn(serve(app.clone(), listener, shutdown));
        let workers = spawn_workers(&app, workers);
        Ok(Server {
            addr,
            app,
            stop,
            http,
            workers,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown: stop accepting, finish requests, then stop the workers.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.http.await??;
        stop_workers(self.workers).await
    }
}
