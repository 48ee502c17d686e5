//! The HTTP service: JSON API under `/v1`, Open311 GeoReport v2 under
//! `/open311/v2`, the supervisor review page under `/review`, and the probes
//! and metrics.
//!
//! Layers, as in text-embeddings-inference's router: this module is only the
//! HTTP edge (parsing, auth, limits, mapping typed errors to status codes); the
//! [`Engine`] does the work; the [`Batcher`] queues model calls. Handlers never
//! log appeal text: the trace span carries method, route template, request id,
//! tenant, key id, status and latency.

mod admin;
mod appeals;
pub mod auth;
mod categories;
pub mod config;
pub mod error;
mod health;
mod import;
mod layers;
mod open311;
pub mod openapi;
mod operator;
mod outbox;
pub mod ratelimit;
mod review;
mod views;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::engine::Engine;
use crate::memory::batcher::Batcher;
use crate::record::Record;

pub use config::HttpConfig;
pub use error::{ApiError, ApiResult};
pub use ratelimit::RateLimiter;

/// What every handler shares. Cheap to clone (all `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The routing engine.
    pub engine: Arc<Engine>,
    /// The system of record (keys, catalogue), the engine's own.
    pub record: Record,
    /// Limits and knobs.
    pub config: Arc<HttpConfig>,
    /// Per-key rate limit.
    pub limiter: Arc<RateLimiter>,
    /// The embedding batcher, when the service runs one (its queue is in the metrics).
    pub batcher: Option<Batcher>,
    /// Where uploads are spooled (`<data-dir>/spool`).
    pub spool_dir: PathBuf,
    /// Hash of the operator secret, when one is configured.
    pub operator_hash: Option<String>,
}

impl AppState {
    /// State over an opened engine. Fails when the operator key file is set
    /// but unreadable or too short.
    pub fn new(
        engine: Arc<Engine>,
        config: HttpConfig,
        batcher: Option<Batcher>,
        spool_dir: PathBuf,
    ) -> Result<Self, String> {
        let operator_hash = config
            .operator_key_file
            .as_deref()
            .map(config::operator_hash)
            .transpose()?;
        Ok(Self {
            record: engine.memory().record().clone(),
            engine,
            limiter: Arc::new(RateLimiter::new(
                config.rate_limit_per_sec,
                config.rate_limit_burst,
            )),
            config: Arc::new(config),
            batcher,
            spool_dir,
            operator_hash,
        })
    }

    /// Largest accepted appeal text, in bytes (the model's limit).
    pub fn max_text_bytes(&self) -> usize {
        self.engine.memory().embedder().options().max_text_bytes
    }
}

/// The whole application: every route and the layers around them.
///
/// Inside out: the handlers; admission (429 past `max_in_flight`, probes
/// exempt) and the request timeout; then for everything the body read whole
/// within its limit and timeout (the import upload streams, with its own
/// limit), the JSON error bodies, the metrics, compression, CORS, the trace
/// span and the request id (see [`layers`]).
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    // Install the recorder before the first request records anything.
    crate::metrics::handle();
    let work = Router::new()
        .merge(appeals::routes())
        .merge(admin::routes())
        .merge(outbox::routes())
        .merge(operator::routes())
        .merge(categories::routes())
        .merge(open311::routes())
        .merge(review::routes());
    let admission = layers::admission(&config);
    let work = layers::timed_out(layers::admitted(work, &admission), &config);
    // The upload streams to a spool file that enforces its own, larger limit.
    let import = layers::admitted(layers::streamed(import::routes(), &config), &admission);
    let ops = Router::new()
        .merge(health::routes())
        .merge(openapi::routes());
    let app = Router::new()
        .merge(work)
        .merge(import)
        .merge(ops)
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed);
    layers::outer(app, &config).with_state(state)
}

/// Every path outside the API answers a JSON 404 like every other error.
async fn unknown_path() -> error::ApiError {
    error::ApiError::not_found("no such path")
}

/// A known path with another method answers a JSON 405.
async fn method_not_allowed() -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method",
    )
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting
/// and lets in-flight requests finish (at most `grace`, then gives up on them).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let signalled = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signalled);
    let mut rx2 = rx.clone();
    tokio::select! {
        r = server => r,
        _ = async move {
            let _ = rx2.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period over; dropping unfinished requests");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C: the signal to drain and stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
