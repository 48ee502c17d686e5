//! The catalogue and access: the caller's tenant settings, departments, API keys.
//!
//! An admin key administers its own tenant only: another tenant's id answers
//! 404. New tenants (and their first admin key) are the operator's (see
//! `operator.rs`, or the CLI's `tenants put` / `keys create`), since every
//! key belongs to a tenant that must exist first.

use std::collections::BTreeMap;
use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Admin, Portal};
use super::error::{ApiError, ApiJson, ApiPath, ApiResult};
use super::AppState;
use crate::record::{Department, Jurisdiction, KeyRole, Tenant};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tenants/{id}", get(get_tenant).put(put_tenant))
        .route("/v1/departments", get(list_departments))
        .route(
            "/v1/departments/{code}",
            put(put_department)
                .get(get_department)
                .delete(delete_department),
        )
        .route("/v1/keys", get(list_keys).post(create_key))
        .route("/v1/keys/{id}", axum::routing::delete(revoke_key))
}

/// Language codes a department's names may use.
pub(super) const LANGUAGES: &[&str] = &["uk", "ru", "kk", "en"];

/// A tenant's settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantDto {
    /// Display name.
    pub name: String,
    /// Deadline rules: `ua`, `ru` or `kz`.
    pub jurisdiction: String,
    /// Conformal miscoverage level in (0, 1) (0.1: prediction sets hold the right department 90% of the time).
    pub alpha: f64,
    /// Confidence at or above which appeals are routed without review, in [0, 1].
    pub auto_threshold: f64,
}

pub(super) fn check_unit(name: &str, v: f64, open: bool) -> Result<(), ApiError> {
    let ok = if open {
        v > 0.0 && v < 1.0
    } else {
        (0.0..=1.0).contains(&v)
    };
    if !ok || v.is_nan() {
        return Err(ApiError::invalid(format!(
            "{name} must be {} 0 and 1; got {v}",
            if open { "strictly between" } else { "between" }
        )));
    }
    Ok(())
}

/// The caller's own tenant (another id answers 404).
fn own_tenant<'a>(caller_tenant: &str, id: &'a str) -> Result<&'a str, ApiError> {
    if caller_tenant == id {
        Ok(id)
    } else {
        Err(ApiError::not_found(format!("no tenant {id:?}")))
    }
}

/// The caller's tenant settings.
#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TenantDto), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn get_tenant(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TenantDto>> {
    let id = own_tenant(caller.tenant(), &id)?;
    let t = state
        .record
        .tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no tenant {id:?}")))?;
    Ok(Json(TenantDto {
        name: t.name,
        jurisdiction: t.jurisdiction.as_str().to_string(),
        alpha: t.alpha,
        auto_threshold: t.auto_threshold,
    }))
}

/// Updates the caller's tenant settings (thresholds take effect for the next appeal).
#[utoipa::path(put, path = "/v1/tenants/{id}", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path)), request_body = TenantDto,
    responses((status = 200, body = TenantDto), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn put_tenant(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TenantDto>,
) -> ApiResult<Json<TenantDto>> {
    let id = own_tenant(caller.tenant(), &id)?;
    let jurisdiction = Jurisdiction::from_str(&body.jurisdiction).map_err(ApiError::invalid)?;
    let tenant = Tenant {
        id: id.to_string(),
        name: body.name.clone(),
        jurisdiction,
        alpha: body.alpha,
        auto_threshold: body.auto_threshold,
    };
    tenant.check_settings()?;
    state.record.upsert_tenant(&tenant).await?;
    state
        .record
        .record_event(
            id,
            &caller.actor(),
            "tenant.updated",
            &serde_json::to_string(&body).unwrap_or_default(),
        )
        .await?;
    Ok(Json(body))
}

/// A department of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentDto {
    /// Code, unique within the tenant (ignored on PUT: the path says it).
    #[serde(default)]
    pub code: String,
    /// Names by language: `uk`, `ru`, `kk`, `en`.
    pub names: BTreeMap<String, String>,
    /// What it handles (used to route before any history exists).
    #[serde(default)]
    pub description: String,
    /// Areas (districts) it serves; empty: everywhere.
    #[serde(default)]
    pub areas: Vec<String>,
    /// Auto-routing threshold for this department, overriding the tenant's.
    pub auto_threshold: Option<f64>,
    /// Inactive departments receive no new appeals.
    #[serde(default = "yes")]
    pub active: bool,
}

/// A catalogue code (department, category): 1-64 letters, digits, `-_.`.
pub(super) fn check_code(what: &str, code: &str) -> Result<(), ApiError> {
    let valid = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{what} code: 1-64 letters, digits, '-', '_' or '.'"
        )))
    }
}

pub(super) fn yes() -> bool {
    true
}

impl From<Department> for DepartmentDto {
    fn from(d: Department) -> Self {
        Self {
            code: d.code,
            names: d.names,
            description: d.description,
            areas: d.areas,
            auto_threshold: d.auto_threshold,
            active: d.active,
        }
    }
}

/// The caller's tenant's departments (every role: the review page's picker needs them).
#[utoipa::path(get, path = "/v1/departments", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = [DepartmentDto])))]
pub(super) async fn list_departments(
    State(state): State<AppState>,
    Portal(caller): Portal,
) -> ApiResult<Json<Vec<DepartmentDto>>> {
    let deps = state.record.departments(caller.tenant()).await?;
    Ok(Json(deps.into_iter().map(DepartmentDto::from).collect()))
}

/// One department.
#[utoipa::path(get, path = "/v1/departments/{code}", tag = "admin", security(("api_key" = [])),
    params(("code" = String, Path)), responses((status = 200, body = DepartmentDto), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn get_department(
    State(state): State<AppState>,
    Portal(caller): Portal,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Json<DepartmentDto>> {
    let d = find_department(&state, caller.tenant(), &code).await?;
    Ok(Json(DepartmentDto::from(d)))
}

async fn find_department(
    state: &AppState,
    tenant: &str,
    code: &str,
) -> Result<Department, ApiError> {
    state
        .record
        .departments(tenant)
        .await?
        .into_iter()
        .find(|d| d.code == code)
        .ok_or_else(|| ApiError::not_found(format!("no department {code:?}")))
}

/// Creates or updates a department.
#[utoipa::path(put, path = "/v1/departments/{code}", tag = "admin", security(("api_key" = [])),
    params(("code" = String, Path)), request_body = DepartmentDto,
    responses((status = 200, body = DepartmentDto), (status = 400, body = super::error::ErrorBody)))]
pub(super) async fn put_department(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(code): ApiPath<String>,
    ApiJson(mut body): ApiJson<DepartmentDto>,
) -> ApiResult<Json<DepartmentDto>> {
    check_code("department", &code)?;
    if body.names.is_empty() {
        return Err(ApiError::invalid(
            "names: give at least one of uk, ru, kk, en",
        ));
    }
    if let Some(bad) = body.names.keys().find(|k| !LANGUAGES.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "names: unknown language {bad:?} (uk, ru, kk or en)"
        )));
    }
    if let Some(t) = body.auto_threshold {
        check_unit("auto_threshold", t, false)?;
    }
    let limit = state.max_text_bytes();
    if body.description.len() > limit {
        return Err(ApiError::too_large(format!(
            "description over {limit} bytes"
        )));
    }
    body.code = code.clone();
    let d = Department {
        tenant_id: caller.tenant().to_string(),
        code,
        names: body.names.clone(),
        description: body.description.clone(),
        areas: body.areas.clone(),
        auto_threshold: body.auto_threshold,
        active: body.active,
    };
    state.record.upsert_department(&d).await?;
    let detail = serde_json::json!({ "code": d.code, "active": d.active }).to_string();
    state
        .record
        .record_event(
            caller.tenant(),
            &caller.actor(),
            "department.upserted",
            &detail,
        )
        .await?;
    // Routing caches department descriptions per tenant: rebuild on next use.
    state.engine.invalidate(caller.tenant());
    Ok(Json(body))
}

/// Deactivates a department (history keeps referring to it, so it is never erased).
#[utoipa::path(delete, path = "/v1/departments/{code}", tag = "admin", security(("api_key" = [])),
    params(("code" = String, Path)), responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn delete_department(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let mut d = find_department(&state, caller.tenant(), &code).await?;
    d.active = false;
    state.record.upsert_department(&d).await?;
    let detail = serde_json::json!({ "code": d.code }).to_string();
    state
        .record
        .record_event(
            caller.tenant(),
            &caller.actor(),
            "department.deactivated",
            &detail,
        )
        .await?;
    state.engine.invalidate(caller.tenant());
    Ok(StatusCode::NO_CONTENT)
}

/// A key without its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyDto {
    /// Key id (public; the audit actor is `key:<id>`).
    pub id: String,
    /// `portal`, `supervisor` or `admin`.
    pub role: String,
    /// Label.
    pub label: Option<String>,
    /// Created at, unix ms.
    pub created_at: i64,
    /// Revoked at, unix ms.
    pub revoked_at: Option<i64>,
}

/// A new key.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// `portal`, `supervisor` or `admin`.
    pub role: String,
    /// Who holds it.
    pub label: Option<String>,
}

/// A created key: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewKeyResponse {
    /// The key.
    #[serde(flatten)]
    pub key: KeyDto,
    /// The secret to present (`Authorization: Bearer <secret>`); not retrievable later.
    pub secret: String,
}

pub(super) fn key_dto(k: crate::record::ApiKey) -> KeyDto {
    KeyDto {
        id: k.id,
        role: k.role.as_str().to_string(),
        label: k.label,
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}

/// The tenant's keys.
#[utoipa::path(get, path = "/v1/keys", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = [KeyDto])))]
pub(super) async fn list_keys(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult<Json<Vec<KeyDto>>> {
    let keys = state.record.api_keys(caller.tenant()).await?;
    Ok(Json(keys.into_iter().map(key_dto).collect()))
}

/// Creates a key of the caller's tenant.
#[utoipa::path(post, path = "/v1/keys", tag = "admin", security(("api_key" = [])),
    request_body = NewKeyRequest, responses((status = 201, body = NewKeyResponse), (status = 400, body = super::error::ErrorBody)))]
pub(super) async fn create_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> ApiResult<(StatusCode, Json<NewKeyResponse>)> {
    let role = KeyRole::from_str(&req.role).map_err(ApiError::invalid)?;
    let (key, secret) = state
        .record
        .create_api_key(caller.tenant(), role, req.label.as_deref(), &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewKeyResponse {
            key: key_dto(key),
            secret,
        }),
    ))
}

/// Revokes a key of the caller's tenant.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "admin", security(("api_key" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if state
        .record
        .revoke_api_key(caller.tenant(), &id, &caller.actor())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no active key {id:?}")))
    }
}
