//! `/v1/appeals`: submit (one or a batch), read, list, decide, reroute, history.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Portal, Supervisor};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorDetail};
use super::views::*;
use super::AppState;
use crate::engine::{AppealView, NewAppeal};
use crate::record::{AppealQuery, AppealStatus};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/appeals", post(submit).get(list))
        .route("/v1/appeals:batch", post(submit_batch))
        .route("/v1/appeals:preview", post(preview))
        .route("/v1/appeals/{id}", get(get_appeal))
        .route("/v1/appeals/{id}/decision", post(decide))
        .route("/v1/appeals/{id}/reroute", post(reroute))
        .route("/v1/appeals/{id}/history", get(history))
        .route("/v1/review/queue", get(review_queue))
}

/// Checks what the HTTP edge can check before the engine: the text size limit.
pub(super) fn check_text(state: &AppState, text: &str) -> Result<(), ApiError> {
    let limit = state.max_text_bytes();
    if text.len() > limit {
        return Err(ApiError::too_large(format!(
            "text is {} bytes; the limit is {limit} bytes",
            text.len()
        )));
    }
    Ok(())
}

/// Submits one appeal: stores it, routes it, returns the decision.
#[utoipa::path(post, path = "/v1/appeals", tag = "appeals", request_body = SubmitRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "stored and routed", body = SubmitResponse),
        (status = 200, description = "external id already known: the stored appeal", body = SubmitResponse),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub(super) async fn submit(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> ApiResult<(StatusCode, Json<SubmitResponse>)> {
    check_text(&state, &req.text)?;
    let mut s = state
        .engine
        .submit(caller.tenant(), NewAppeal::from(req), &caller.actor())
        .await?;
    s.decision = caller.shown(s.decision);
    let status = if s.created {
        observe_outcome(&s.decision);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(SubmitResponse::from(s))))
}

pub(super) fn observe_outcome(d: &triage_domain::RoutingDecision) {
    let outcome = match d.decision {
        triage_domain::Outcome::AutoRouted => "auto_routed",
        triage_domain::Outcome::NeedsReview => "needs_review",
        triage_domain::Outcome::NotARequest => "not_a_request",
    };
    crate::metrics::observe_decision(outcome);
}

/// Routes an appeal exactly as `POST /v1/appeals` would now, but stores
/// nothing (no appeal, no decision, no audit entry, no metrics): for shadow
/// evaluations (`triage-eval run --url`) and "where would this go" previews.
#[utoipa::path(post, path = "/v1/appeals:preview", tag = "appeals", request_body = SubmitRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the decision; nothing stored", body = PreviewResponse),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody),
        (status = 429, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub(super) async fn preview(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> ApiResult<Json<PreviewResponse>> {
    check_text(&state, &req.text)?;
    let decision = state
        .engine
        .preview(caller.tenant(), &NewAppeal::from(req))
        .await?;
    Ok(Json(PreviewResponse {
        decision: caller.shown(decision),
    }))
}

/// Submits up to 256 appeals, embedded together; one result per appeal.
#[utoipa::path(post, path = "/v1/appeals:batch", tag = "appeals", request_body = BatchRequest,
    security(("api_key" = [])),
    responses((status = 200, body = BatchResponse), (status = 413, body = super::error::ErrorBody)))]
pub(super) async fn submit_batch(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiJson(req): ApiJson<BatchRequest>,
) -> ApiResult<Json<BatchResponse>> {
    let max = state.config.max_batch_appeals;
    if req.appeals.len() > max {
        return Err(ApiError::too_large(format!(
            "{} appeals in one batch; the limit is {max}",
            req.appeals.len()
        )));
    }
    if req.appeals.is_empty() {
        return Err(ApiError::invalid("the batch holds no appeals"));
    }
    let n = req.appeals.len();
    let mut items: Vec<Option<BatchItem>> = (0..n).map(|_| None).collect();
    let mut todo = Vec::with_capacity(n);
    let mut positions = Vec::with_capacity(n);
    for (i, a) in req.appeals.into_iter().enumerate() {
        let a = match serde_json::from_value::<SubmitRequest>(a) {
            Ok(a) => a,
            Err(e) => {
                items[i] = Some(error_item(
                    i,
                    ApiError::invalid(format!("appeals[{i}]: {e}")),
                ));
                continue;
            }
        };
        match check_text(&state, &a.text) {
            Ok(()) => {
                positions.push(i);
                todo.push(NewAppeal::from(a));
            }
            Err(e) => items[i] = Some(error_item(i, e)),
        }
    }
    if !todo.is_empty() {
        let results = state
            .engine
            .submit_batch(caller.tenant(), todo, &caller.actor())
            .await?;
        for (i, r) in positions.into_iter().zip(results) {
            items[i] = Some(match r {
                Ok(mut s) => {
                    if s.created {
                        observe_outcome(&s.decision);
                    }
                    s.decision = caller.shown(s.decision);
                    BatchItem {
                        index: i,
                        result: Some(SubmitResponse::from(s)),
                        error: None,
                    }
                }
                Err(e) => error_item(i, ApiError::from(e)),
            });
        }
    }
    Ok(Json(BatchResponse {
        items: items.into_iter().flatten().collect(),
    }))
}

fn error_item(index: usize, e: ApiError) -> BatchItem {
    BatchItem {
        index,
        result: None,
        error: Some(ErrorDetail {
            code: e.code.to_string(),
            message: e.message,
        }),
    }
}

/// An appeal with its suggestion and decisions.
#[utoipa::path(get, path = "/v1/appeals/{id}", tag = "appeals", security(("api_key" = [])),
    params(("id" = i64, Path, description = "appeal id")),
    responses((status = 200, body = AppealDto), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn get_appeal(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AppealDto>> {
    let view = state
        .engine
        .appeal(caller.tenant(), id)
        .await?
        .filter(|v| caller.may_read(&v.appeal.data))
        .ok_or_else(|| ApiError::not_found(format!("no appeal {id}")))?;
    let view = AppealView {
        suggestion: view.suggestion.map(|d| caller.shown(d)),
        ..view
    };
    Ok(Json(AppealDto::from(view)))
}

/// Filter and page of `GET /v1/appeals`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// `received`, `auto_routed`, `needs_review`, `decided`, `rerouted`, `imported`, `not_a_request`.
    status: Option<String>,
    /// Assigned department.
    department: Option<String>,
    /// Received at or after: unix ms, `YYYY-MM-DD` or RFC 3339.
    since: Option<String>,
    /// Received at or before: unix ms, `YYYY-MM-DD` (UTC midnight) or RFC 3339.
    until: Option<String>,
    /// Page after this appeal id (from `next_after`).
    after: Option<i64>,
    /// Page size (default 50, at most the configured maximum, 200 by default).
    limit: Option<i64>,
    /// The portal's category, or its first levels: one level as plain text,
    /// or a JSON array of levels (`["Благоустройство","Мусор"]`); matches
    /// appeals whose category path starts with it.
    category: Option<String>,
}

/// Parses `since` or `until`: unix ms, an ISO date (UTC midnight) or an RFC 3339 time.
fn parse_time(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(ApiError::invalid(format!(
        "{field} {s:?}: expected unix milliseconds, YYYY-MM-DD or an RFC 3339 time"
    )))
}

/// Appeals of the caller's tenant, filtered, ascending by id (keyset paging).
#[utoipa::path(get, path = "/v1/appeals", tag = "appeals", security(("api_key" = [])),
    params(ListParams),
    responses((status = 200, body = AppealPage), (status = 400, body = super::error::ErrorBody)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Supervisor(caller): Supervisor,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<AppealPage>> {
    let status = p
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(AppealStatus::from_str)
        .transpose()
        .map_err(ApiError::invalid)?;
    let since = p
        .since
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time("since", s))
        .transpose()?;
    let until = p
        .until
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time("until", s))
        .transpose()?;
    let limit = p.limit.unwrap_or(50);
    if limit < 1 || limit > state.config.max_page {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {}",
            state.config.max_page
        )));
    }
    let category = match p.category.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(s) if s.starts_with('[') => serde_json::from_str::<Vec<String>>(s).map_err(|e| {
            ApiError::invalid(format!("category: not a JSON array of strings: {e}"))
        })?,
        Some(s) => vec![s.to_string()],
    };
    triage_domain::category::validate(&category).map_err(|e| ApiError::invalid(e.to_string()))?;
    let q = AppealQuery {
        statuses: status.into_iter().collect(),
        category: triage_domain::category::tidy(category),
        department: p.department.filter(|d| !d.is_empty()),
        since,
        until,
        after_id: p.after,
        limit,
    };
    let views = state.engine.list(caller.tenant(), q).await?;
    let next_after = (views.len() as i64 == limit)
        .then(|| views.last().map(|v| v.appeal.id))
        .flatten();
    Ok(Json(AppealPage {
        items: views.into_iter().map(AppealDto::from).collect(),
        next_after,
    }))
}

/// Accept (same department as suggested, or no department) or override.
#[utoipa::path(post, path = "/v1/appeals/{id}/decision", tag = "review", security(("api_key" = [])),
    params(("id" = i64, Path, description = "appeal id")), request_body = DecisionRequest,
    responses((status = 200, body = AppealDto), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn decide(
    State(state): State<AppState>,
    Supervisor(caller): Supervisor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> ApiResult<Json<AppealDto>> {
    let tenant = caller.tenant();
    let department = match req.department.filter(|d| !d.trim().is_empty()) {
        Some(d) => d,
        None => {
            let view = state
                .engine
                .appeal(tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no appeal {id}")))?;
            view.suggestion.and_then(|s| s.department).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "department_required",
                    "there is no suggested department to accept; choose one",
                )
            })?
        }
    };
    if let Some(c) = &req.comment {
        check_text(&state, c)?;
    }
    let view = state
        .engine
        .decide(
            tenant,
            id,
            &department,
            req.comment.as_deref(),
            &caller.actor(),
        )
        .await?;
    if let Some(d) = view.decisions.last() {
        crate::metrics::observe_decision(if d.kind == "accept" {
            "accept"
        } else {
            "override"
        });
    }
    Ok(Json(AppealDto::from(view)))
}

/// The department sends the appeal back as not competent; it returns to review.
#[utoipa::path(post, path = "/v1/appeals/{id}/reroute", tag = "review", security(("api_key" = [])),
    params(("id" = i64, Path, description = "appeal id")), request_body = RerouteRequest,
    responses((status = 200, body = AppealDto), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub(super) async fn reroute(
    State(state): State<AppState>,
    Supervisor(caller): Supervisor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RerouteRequest>,
) -> ApiResult<Json<AppealDto>> {
    check_text(&state, &req.reason)?;
    let view = state
        .engine
        .reroute(caller.tenant(), id, &req.reason, &caller.actor())
        .await?;
    crate::metrics::observe_decision("reroute");
    Ok(Json(AppealDto::from(view)))
}

/// The audit trail: every suggestion (with model fingerprint and case-memory
/// version), decision and reroute.
#[utoipa::path(get, path = "/v1/appeals/{id}/history", tag = "appeals", security(("api_key" = [])),
    params(("id" = i64, Path, description = "appeal id")),
    responses((status = 200, body = HistoryResponse), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn history(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<HistoryResponse>> {
    // A portal key sees the history of its own submissions only (404 otherwise,
    // as for an id that does not exist).
    let readable = state
        .record
        .appeal(caller.tenant(), id)
        .await?
        .is_some_and(|a| caller.may_read(&a.data));
    if !readable {
        return Err(ApiError::not_found(format!("no appeal {id}")));
    }
    let entries = state.engine.history(caller.tenant(), id).await?;
    Ok(Json(HistoryResponse {
        appeal_id: id,
        entries: entries.into_iter().map(HistoryEntry::from).collect(),
    }))
}

/// Page size of the review queue.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct QueueParams {
    /// Most appeals returned (default 100, at most the configured page maximum).
    limit: Option<i64>,
}

/// The review queue: appeals needing review or sent back, earliest deadline first.
#[utoipa::path(get, path = "/v1/review/queue", tag = "review", security(("api_key" = [])),
    params(QueueParams), responses((status = 200, body = AppealPage)))]
pub(super) async fn review_queue(
    State(state): State<AppState>,
    Supervisor(caller): Supervisor,
    ApiQuery(p): ApiQuery<QueueParams>,
) -> ApiResult<Json<AppealPage>> {
    let limit = p.limit.unwrap_or(100).clamp(1, state.config.max_page);
    let mut items = Vec::new();
    for status in [AppealStatus::NeedsReview, AppealStatus::Rerouted] {
        let mut after = None;
        // Every waiting appeal is read (sorting needs all); pages bound memory per query.
        loop {
            let q = AppealQuery {
                statuses: vec![status],
                after_id: after,
                limit: state.config.max_page,
                ..AppealQuery::default()
            };
            let page = state.engine.list(caller.tenant(), q).await?;
            let full = page.len() as i64 == state.config.max_page;
            after = page.last().map(|v| v.appeal.id);
            items.extend(page.into_iter().map(AppealDto::from));
            if !full {
                break;
            }
        }
    }
    // Earliest deadline first; appeals without one last; then oldest first.
    items.sort_by(|a, b| {
        (a.deadline.is_none(), &a.deadline, a.received_at, a.id).cmp(&(
            b.deadline.is_none(),
            &b.deadline,
            b.received_at,
            b.id,
        ))
    });
    items.truncate(limit as usize);
    Ok(Json(AppealPage {
        items,
        next_after: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_ms_dates_and_rfc3339() {
        assert_eq!(
            parse_time("since", "1700000000000").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(parse_time("since", "1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("until", "1970-01-01T00:00:01Z").unwrap(), 1000);
        let e = parse_time("until", "yesterday").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("until "), "{}", e.message);
    }
}
