//! `/v1/categories`: the tenant's category catalogue, what citizens pick from
//! (the Open311 services). Seeded from the categories its history carries,
//! edited by the admin.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin::{check_code, yes, LANGUAGES};
use super::auth::{Admin, Portal};
use super::error::{ApiError, ApiJson, ApiPath, ApiResult};
use super::AppState;
use crate::record::{Category, Jurisdiction};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/categories", get(list_categories))
        .route("/v1/categories:seed", post(seed_categories))
        .route("/v1/categories/{code}", put(put_category))
}

/// A category of the catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryDto {
    /// Code (Open311's `service_code`); from the path on a PUT.
    #[serde(default)]
    pub code: String,
    /// The category path, general to specific (1 to 4 levels of at most 200
    /// characters): what appeals filed under it carry.
    #[serde(deserialize_with = "triage_domain::category::deserialize_path")]
    pub path: Vec<String>,
    /// Display names by language (`uk`, `ru`, `kk`, `en`).
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// Inactive categories are not offered to citizens.
    #[serde(default = "yes")]
    pub active: bool,
    /// Appeals filed under it (or its sub-categories) are not requests
    /// (thanks): stored, sent to no department; routing learns such texts
    /// from the history under it, to find them without a category.
    #[serde(default)]
    pub not_request: bool,
}

impl From<Category> for CategoryDto {
    fn from(c: Category) -> Self {
        Self {
            code: c.code,
            path: c.path,
            names: c.names,
            active: c.active,
            not_request: c.not_request,
        }
    }
}

/// The answer to a seed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeedResponse {
    /// Categories added from history.
    pub added: usize,
    /// Categories in the catalogue now.
    pub total: usize,
}

/// The caller's tenant's categories, by code.
#[utoipa::path(get, path = "/v1/categories", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = [CategoryDto])))]
pub(super) async fn list_categories(
    State(state): State<AppState>,
    Portal(caller): Portal,
) -> ApiResult<Json<Vec<CategoryDto>>> {
    let all = state.record.categories(caller.tenant()).await?;
    Ok(Json(all.into_iter().map(CategoryDto::from).collect()))
}

/// Creates or replaces a category.
#[utoipa::path(put, path = "/v1/categories/{code}", tag = "admin", security(("api_key" = [])),
    params(("code" = String, Path)), request_body = CategoryDto,
    responses((status = 200, body = CategoryDto), (status = 422, body = super::error::ErrorBody)))]
pub(super) async fn put_category(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(code): ApiPath<String>,
    ApiJson(mut body): ApiJson<CategoryDto>,
) -> ApiResult<Json<CategoryDto>> {
    check_code("category", &code)?;
    if body.path.is_empty() {
        return Err(ApiError::invalid("path: give 1 to 4 levels"));
    }
    triage_domain::category::validate(&body.path).map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Some(bad) = body.names.keys().find(|k| !LANGUAGES.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "names: unknown language {bad:?} (uk, ru, kk or en)"
        )));
    }
    body.code = code.clone();
    body.path = triage_domain::category::tidy(body.path);
    let c = Category {
        tenant_id: caller.tenant().to_string(),
        code,
        path: body.path.clone(),
        names: body.names.clone(),
        active: body.active,
        not_request: body.not_request,
    };
    state.record.upsert_category(&c).await?;
    state.engine.categories_changed(caller.tenant()).await?;
    let detail =
        serde_json::json!({ "code": c.code, "active": c.active, "not_request": c.not_request })
            .to_string();
    state
        .record
        .record_event(
            caller.tenant(),
            &caller.actor(),
            "category.upserted",
            &detail,
        )
        .await?;
    Ok(Json(body))
}

/// Adds every category the tenant's appeals carry and the catalogue lacks
/// (named by their last level in the tenant's language); edited entries stay.
#[utoipa::path(post, path = "/v1/categories:seed", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = SeedResponse)))]
pub(super) async fn seed_categories(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> ApiResult<Json<SeedResponse>> {
    let tenant = state
        .record
        .tenant(caller.tenant())
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let language = match tenant.jurisdiction {
        Jurisdiction::Ua => "uk",
        Jurisdiction::Ru => "ru",
        Jurisdiction::Kz => "kk",
    };
    let added = state.record.seed_categories(&tenant.id, language).await?;
    let total = state.record.categories(&tenant.id).await?.len();
    let detail = serde_json::json!({ "added": added }).to_string();
    state
        .record
        .record_event(&tenant.id, &caller.actor(), "categories.seeded", &detail)
        .await?;
    Ok(Json(SeedResponse { added, total }))
}
