//! Probes and metrics: `/healthz` (the process answers), `/readyz` (model
//! loaded and stores reachable; 503 otherwise, so a load balancer stops sending
//! traffic while PostgreSQL or Qdrant is down), `/metrics` (Prometheus).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "alive")))]
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: model, record and index all answer and the record's writes
/// commit (503 otherwise: after a commit failed for want of disk, each probe
/// tries a real commit until one works); the body
/// also says how many index writes are pending and how many were set aside
/// as dead letters, which do not stop the service from serving.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready"),
    (status = 503, description = "a store is unreachable")))]
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let r = state.engine.ready().await;
    let status = if r.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({
            "ready": r.ok(),
            "model": r.model,
            "record": r.record,
            "record_writable": r.record_writable,
            "index": r.index,
            "outbox_pending": r.outbox_pending,
            "dead_letters": r.dead_letters,
        })),
    )
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text")))]
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(b) = &state.batcher {
        let depth = b
            .stats()
            .queued_texts
            .load(std::sync::atomic::Ordering::Relaxed);
        ::metrics::gauge!(crate::metrics::EMBED_QUEUE_DEPTH).set(depth as f64);
    }
    let record = state.engine.memory().record();
    if let Ok(n) = record.outbox_len().await {
        ::metrics::gauge!(crate::metrics::OUTBOX_PENDING).set(n as f64);
    }
    if let Ok(n) = record.count_dead_letters().await {
        ::metrics::gauge!(crate::metrics::OUTBOX_DEAD_PENDING).set(n as f64);
    }
    let body = crate::metrics::render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
