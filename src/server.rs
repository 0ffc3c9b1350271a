//! `l2c serve` and `l2c worker` as a library: the HTTP API and the engine's workers (which
//! also fire timers) on one app, with graceful shutdown — the listener stops accepting,
//! in-flight requests finish, then workers finish or release their in-flight steps.

use crate::app::App;
use l2c_engine::runtime::WorkerHandle;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
}

/// Starts `workers` engine workers on `app`, and the scheduler that keeps every billing
/// schedule's next occurrence started.
pub fn spawn_workers(app: &App, workers: usize) -> Background {
    let every = std::time::Duration::from_secs(1);
    Background {
        workers: (0..workers).map(|_| app.engine.worker().spawn()).collect(),
        scheduler: l2c_invoicing::schedule::spawn_scheduler(app.schedules.clone(), every),
    }
}

/// Stops the scheduler, then the workers: each finishes or releases its in-flight steps.
pub async fn stop_workers(background: Background) -> anyhow::Result<()> {
    background.scheduler.abort();
    for w in background.workers {
        w.shutdown().await?;
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
        let http = tokio::spawn(crate::http::serve(app.clone(), listener, shutdown));
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
