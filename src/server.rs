//! `l2c serve` and `l2c worker` as a library: the HTTP API, the web desk and the engine's
//! workers (which also fire timers) on one app, with graceful shutdown — the listener stops
//! accepting, in-flight requests finish, then workers finish or release their in-flight steps.
//! [`router`] is the one place the API and the web desk meet.

use crate::app::App;
use crate::http::{self, ApiState};
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use l2c_engine::runtime::WorkerHandle;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;

/// The whole site: the API and the web desk, with metrics, the body limit, compression and
/// the request timeout (503 past the settings' `request_timeout`) for all of it; a path nothing serves is a problem under the API's prefixes and a page
/// elsewhere.
pub fn router(app: App) -> Router {
    let limits = app.settings.server.limits();
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
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
}

async fn fallback(uri: Uri, headers: axum::http::HeaderMap) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/tmf-api/") {
        let mut answer = http::no_route().await.into_response();
        let authenticated = headers.contains_key(axum::http::header::AUTHORIZATION);
        http::headers::apply(&mut answer, authenticated);
        answer
    } else {
        crate::web::not_found().await
    }
}

/// Serves the site on `listener` until `shutdown` resolves, then finishes in-flight requests.
/// Each connection is HTTP/1.1 with the settings' limits ([`crate::settings::ServerLimits`]):
/// a client gets `header_read_timeout` to send its headers (also when a kept-alive connection
/// waits for its next request), and past `max_connections` a new connection is closed at
/// once, so clients that connect and never finish cannot hold the server.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(app, listener, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given (`crate::tls`).
pub async fn serve_with(
    app: App,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = app.settings.server.limits();
    let site = router(app);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, say: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection closed: max_connections are open");
            continue;
        };
        let service = site
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let service = TowerToHyperService::new(service);
        let wait = limits.header_read_timeout;
        match &tls {
            None => {
                let connection =
                    http1_builder(wait).serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match tokio::time::timeout(wait, handshake).await {
                        Ok(Ok(stream)) => {
                            let connection =
                                http1_builder(wait).serve_connection(TokioIo::new(stream), service);
                            if let Err(e) = watcher.watch(connection).await {
                                tracing::debug!(%peer, error = %e, "connection ended");
                            }
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// HTTP/1.1 connections with the header-read timeout `wait`.
fn http1_builder(wait: Duration) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(wait);
    builder
}

/// A running server.
pub struct Server {
    /// `http` or `https`.
    scheme: &'static str,
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
    access: tokio::task::JoinHandle<()>,
    hub: Option<tokio::task::JoinHandle<()>>,
    app: App,
}

/// Starts `workers` engine workers on `app`, the scheduler that keeps every billing
/// schedule's next occurrence started, the writer of this node's operating records, the
/// keeper of its token cache and the hub's deliverer of event notifications.
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
        access: crate::access::spawn(app.clone()),
        hub: match crate::hub::Deliverer::new(app) {
            Ok(d) => Some(d.spawn()),
            Err(e) => {
                tracing::error!(error = %e, "event notifications are not delivered by this node");
                None
            }
        },
        app: app.clone(),
    }
}

/// Stops the scheduler, then the workers: each finishes or releases its in-flight steps;
/// then writes the operating records still pending.
pub async fn stop_workers(background: Background) -> anyhow::Result<()> {
    background.scheduler.abort();
    background.recorder.abort();
    background.access.abort();
    // A delivery cut short stays leased and is sent again once its lease expires.
    if let Some(hub) = background.hub {
        hub.abort();
    }
    for w in background.workers {
        w.shutdown().await?;
    }
    let app = &background.app;
    if let Err(e) = app.records.flush(&app.db, app.clock.now_ms()).await {
        tracing::warn!(error = %e, "operating records not written at shutdown");
    }
    if let Err(e) = app.access.touch(&app.db).await {
        tracing::warn!(error = %e, "token use not written at shutdown");
    }
    Ok(())
}

impl Server {
    /// Binds `listen` (port 0 picks a free port) and serves the API with `workers` workers.
    pub async fn start(app: App, listen: SocketAddr, workers: usize) -> anyhow::Result<Server> {
        Server::start_with(app, listen, workers, None).await
    }

    /// [`Server::start`], over TLS with `tls` (`crate::tls`).
    pub async fn start_with(
        app: App,
        listen: SocketAddr,
        workers: usize,
        tls: Option<TlsAcceptor>,
    ) -> anyhow::Result<Server> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let http = tokio::spawn(serve_with(app.clone(), listener, tls, shutdown));
        let workers = spawn_workers(&app, workers);
        Ok(Server {
            scheme,
            addr,
            app,
            stop,
            http,
            workers,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:43121` (`https://` over TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Graceful shutdown: stop accepting, finish requests, then stop the workers.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.http.await??;
        stop_workers(self.workers).await
    }
}
