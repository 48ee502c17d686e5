//! Dead letters of the index outbox, for the tenant's admin: index writes set
//! aside because the model refuses the appeal's text (see
//! `record::outbox`). List them, put one back into the outbox once the cause
//! is gone (it is applied at once), or drop it (the appeal stays in the
//! record, out of the similar cases).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::{ApiError, ApiPath, ApiResult};
use super::AppState;
use crate::record::DeadLetter;

/// Most dead letters one list answers.
const LIST_CAP: i64 = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/outbox/dead", get(list_dead))
        .route("/v1/outbox/dead/{seq}", delete(drop_dead))
        .route("/v1/outbox/dead/{seq}/retry", post(retry_dead))
}

/// One dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterDto {
    /// Its outbox position (the id to retry or drop it by).
    pub seq: i64,
    /// The appeal whose index write failed.
    pub appeal_id: i64,
    /// `upsert` or `delete`.
    pub op: String,
    /// Why (the model's reason; never the appeal's text).
    pub reason: String,
    /// When it was set aside, unix ms.
    pub failed_at: i64,
}

impl From<DeadLetter> for DeadLetterDto {
    fn from(d: DeadLetter) -> Self {
        Self {
            seq: d.seq,
            appeal_id: d.appeal_id,
            op: d.op,
            reason: d.reason,
            failed_at: d.failed_at,
        }
    }
}

/// The tenant's dead letters, oldest first (at most 1,000).
#[utoipa::path(get, path = "/v1/outbox/dead", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = [DeadLetterDto])))]
pub(super) async fn list_dead(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult<Json<Vec<DeadLetterDto>>> {
    let letters = state
        .record
        .dead_letters(Some(caller.tenant()), LIST_CAP)
        .await?;
    Ok(Json(letters.into_iter().map(DeadLetterDto::from).collect()))
}

/// Puts a dead letter back into the outbox and applies it. If the model
/// still refuses the text, it is set aside again (and listed again).
#[utoipa::path(post, path = "/v1/outbox/dead/{seq}/retry", tag = "admin", security(("api_key" = [])),
    params(("seq" = i64, Path)), responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn retry_dead(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(seq): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    if !state
        .record
        .retry_dead_letter(Some(caller.tenant()), seq)
        .await?
    {
        return Err(ApiError::not_found(format!("no dead letter {seq}")));
    }
    state
        .engine
        .memory()
        .drain_outbox()
        .await
        .map_err(crate::engine::EngineError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Drops a dead letter: the appeal stays in the record, out of the index.
#[utoipa::path(delete, path = "/v1/outbox/dead/{seq}", tag = "admin", security(("api_key" = [])),
    params(("seq" = i64, Path)), responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn drop_dead(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(seq): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    if state
        .record
        .drop_dead_letter(Some(caller.tenant()), seq)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no dead letter {seq}")))
    }
}
