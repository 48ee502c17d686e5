//! The HTTP service: JSON API under `/v1`, Open311 GeoReport v2 under
//! `/open311/v2`, the supervisor review page under `/review`, and the probes
//! and metrics.
//!
//! Layers, as in text-embeddings-inference's router: this module is only the
//! HTTP edge (parsing, auth, limits, mapping typed errors to status codes); the
//! [`Engine`] does the work; the [`Batcher`] queues model calls. Handlers never
//! log appeal text: the access log carries method, route template, status,
//! latency and the key id.

mod admin;
mod appeals;
pub mod auth;
mod categories;
pub mod config;
pub mod error;
mod health;
mod import;
pub mod metrics;
mod open311;
pub mod openapi;
pub mod ratelimit;
mod review;
mod views;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::batcher::Batcher;
use crate::engine::Engine;
use crate::record::Record;

pub use config::HttpConfig;
pub use error::{ApiError, ApiResult};
pub use metrics::Metrics;
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
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Per-key rate limit.
    pub limiter: Arc<RateLimiter>,
    /// The embedding batcher, when the service runs one (its queue is in the metrics).
    pub batcher: Option<Batcher>,
    /// Where uploads are spooled (`<data-dir>/spool`).
    pub spool_dir: PathBuf,
}

impl AppState {
    /// State over an opened engine.
    pub fn new(
        engine: Arc<Engine>,
        config: HttpConfig,
        batcher: Option<Batcher>,
        spool_dir: PathBuf,
    ) -> Self {
        Self {
            record: engine.memory().record().clone(),
            engine,
            metrics: Arc::new(Metrics::default()),
            limiter: Arc::new(RateLimiter::new(
                config.rate_limit_per_sec,
                config.rate_limit_burst,
            )),
            config: Arc::new(config),
            batcher,
            spool_dir,
        }
    }

    /// Largest accepted appeal text, in bytes (the model's limit).
    pub fn max_text_bytes(&self) -> usize {
        self.engine.memory().embedder().options().max_text_bytes
    }
}

/// The whole application: every route, the body limit and the access log.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .merge(health::routes())
        .merge(appeals::routes())
        .merge(admin::routes())
        .merge(categories::routes())
        .merge(import::routes())
        .merge(open311::routes())
        .merge(review::routes())
        .merge(openapi::routes())
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .with_state(state)
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

/// Logs and counts each request under its route template, never its content.
async fn access_log(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span =
        tracing::info_span!("http", method = %method, route = %route, key = tracing::field::Empty);
    let resp = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = resp.status().as_u16();
    state.metrics.observe_request(&method, &route, status, took);
    span.in_scope(|| {
        tracing::info!(status, ms = took.as_secs_f64() * 1000.0, "request");
    });
    resp
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
