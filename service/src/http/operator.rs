//! The operator API: tenants and their first keys on a running service, with
//! either store, authorised by the operator secret (`--operator-key-file`).
//! Onboarding an authority needs no downtime; the CLI's `tenants put` and
//! `keys create` call this when the embedded store is locked by `serve`.
//!
//! The operator manages tenants, not their work: it reads no appeals, and no
//! tenant key can reach these routes.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin::{key_dto, NewKeyRequest, NewKeyResponse};
use super::auth::Operator;
use super::error::{ApiError, ApiJson, ApiPath, ApiResult};
use super::AppState;
use crate::record::{Jurisdiction, KeyRole, Tenant, TenantStatus};

/// The audit actor of the operator's actions.
const ACTOR: &str = "operator";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/tenants", get(list_tenants).post(create_tenant))
        .route("/v1/admin/tenants/{id}", get(get_tenant).put(update_tenant))
        .route("/v1/admin/tenants/{id}/keys", post(create_key))
}

/// A tenant as the operator sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperatorTenantDto {
    /// Tenant id (URL-safe).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Deadline rules: `ua`, `ru` or `kz`.
    pub jurisdiction: String,
    /// Conformal miscoverage level in (0, 1).
    pub alpha: f64,
    /// Confidence at or above which appeals are routed without review.
    pub auto_threshold: f64,
    /// Created at, unix ms.
    pub created_at: i64,
    /// Suspended: its keys are refused with 403.
    pub suspended: bool,
    /// Suspended since, unix ms.
    pub suspended_at: Option<i64>,
}

impl From<TenantStatus> for OperatorTenantDto {
    fn from(s: TenantStatus) -> Self {
        Self {
            id: s.tenant.id,
            name: s.tenant.name,
            jurisdiction: s.tenant.jurisdiction.as_str().to_string(),
            alpha: s.tenant.alpha,
            auto_threshold: s.tenant.auto_threshold,
            created_at: s.created_at,
            suspended: s.suspended_at.is_some(),
            suspended_at: s.suspended_at,
        }
    }
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantRequest {
    /// Tenant id: 1 to 64 of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Deadline rules: `ua` (default), `ru` or `kz`.
    pub jurisdiction: Option<String>,
    /// Conformal miscoverage level (default 0.1).
    pub alpha: Option<f64>,
    /// Auto-routing confidence (default 0.9).
    pub auto_threshold: Option<f64>,
    /// Create the tenant's first admin key and return its secret (default true).
    pub admin_key: Option<bool>,
}

/// A created tenant, with its first admin key's secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTenantResponse {
    /// The tenant.
    pub tenant: OperatorTenantDto,
    /// Its first admin key, unless not asked for.
    pub admin_key: Option<NewKeyResponse>,
}

/// A change of a tenant: any of its settings, or its suspension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    /// Display name.
    pub name: Option<String>,
    /// Deadline rules: `ua`, `ru` or `kz`.
    pub jurisdiction: Option<String>,
    /// Conformal miscoverage level in (0, 1).
    pub alpha: Option<f64>,
    /// Auto-routing confidence in [0, 1].
    pub auto_threshold: Option<f64>,
    /// Suspend (true) or reinstate (false).
    pub suspended: Option<bool>,
}

fn jurisdiction(s: &str) -> Result<Jurisdiction, ApiError> {
    Jurisdiction::from_str(s).map_err(|e| ApiError::invalid(format!("jurisdiction: {e}")))
}

async fn status_of(state: &AppState, id: &str) -> ApiResult<TenantStatus> {
    state
        .record
        .tenant_status(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tenant {id:?}")))
}

/// Every tenant.
#[utoipa::path(get, path = "/v1/admin/tenants", tag = "operator", security(("api_key" = [])),
    responses((status = 200, body = [OperatorTenantDto]), (status = 401, body = super::error::ErrorBody)))]
pub(super) async fn list_tenants(
    State(state): State<AppState>,
    _: Operator,
) -> ApiResult<Json<Vec<OperatorTenantDto>>> {
    let all = state.record.tenants().await?;
    Ok(Json(all.into_iter().map(OperatorTenantDto::from).collect()))
}

/// Creates a tenant and (by default) its first admin key.
#[utoipa::path(post, path = "/v1/admin/tenants", tag = "operator", security(("api_key" = [])),
    request_body = NewTenantRequest,
    responses((status = 201, body = NewTenantResponse), (status = 409, body = super::error::ErrorBody),
        (status = 400, body = super::error::ErrorBody)))]
pub(super) async fn create_tenant(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(req): ApiJson<NewTenantRequest>,
) -> ApiResult<(StatusCode, Json<NewTenantResponse>)> {
    let tenant = Tenant {
        id: req.id.clone(),
        name: req.name.trim().to_string(),
        jurisdiction: jurisdiction(req.jurisdiction.as_deref().unwrap_or("ua"))?,
        alpha: req.alpha.unwrap_or(0.1),
        auto_threshold: req.auto_threshold.unwrap_or(0.9),
    };
    tenant.check()?;
    if state.record.tenant(&tenant.id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "tenant {:?} exists; PUT /v1/admin/tenants/{{id}} changes it",
                tenant.id
            ),
        ));
    }
    state.record.upsert_tenant(&tenant).await?;
    let admin_key = if req.admin_key.unwrap_or(true) {
        let (key, secret) = state
            .record
            .create_api_key(
                &tenant.id,
                KeyRole::Admin,
                Some("first admin (operator)"),
                ACTOR,
            )
            .await?;
        Some(NewKeyResponse {
            key: key_dto(key),
            secret,
        })
    } else {
        None
    };
    let status = status_of(&state, &tenant.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTenantResponse {
            tenant: status.into(),
            admin_key,
        }),
    ))
}

/// One tenant.
#[utoipa::path(get, path = "/v1/admin/tenants/{id}", tag = "operator", security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OperatorTenantDto), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn get_tenant(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OperatorTenantDto>> {
    Ok(Json(status_of(&state, &id).await?.into()))
}

/// Changes a tenant's settings, or suspends or reinstates it.
#[utoipa::path(put, path = "/v1/admin/tenants/{id}", tag = "operator", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = TenantUpdate,
    responses((status = 200, body = OperatorTenantDto), (status = 404, body = super::error::ErrorBody),
        (status = 400, body = super::error::ErrorBody)))]
pub(super) async fn update_tenant(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TenantUpdate>,
) -> ApiResult<Json<OperatorTenantDto>> {
    let mut t = status_of(&state, &id).await?.tenant;
    if let Some(name) = req.name {
        t.name = name.trim().to_string();
    }
    if let Some(j) = req.jurisdiction {
        t.jurisdiction = jurisdiction(&j)?;
    }
    if let Some(a) = req.alpha {
        t.alpha = a;
    }
    if let Some(a) = req.auto_threshold {
        t.auto_threshold = a;
    }
    t.check_settings()?;
    state.record.upsert_tenant(&t).await?;
    if let Some(suspended) = req.suspended {
        state.record.set_tenant_suspended(&id, suspended).await?;
        tracing::info!(tenant = %id, suspended, "tenant suspension changed by the operator");
    }
    Ok(Json(status_of(&state, &id).await?.into()))
}

/// Creates a key of a tenant (its first admin key, or any other).
#[utoipa::path(post, path = "/v1/admin/tenants/{id}/keys", tag = "operator", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = NewKeyRequest,
    responses((status = 201, body = NewKeyResponse), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn create_key(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> ApiResult<(StatusCode, Json<NewKeyResponse>)> {
    status_of(&state, &id).await?;
    let role = KeyRole::from_str(&req.role).map_err(ApiError::invalid)?;
    let (key, secret) = state
        .record
        .create_api_key(&id, role, req.label.as_deref(), ACTOR)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewKeyResponse {
            key: key_dto(key),
            secret,
        }),
    ))
}
