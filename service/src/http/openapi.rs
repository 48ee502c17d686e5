//! The OpenAPI document, generated from the handlers' annotations and the wire
//! types (utoipa), served at `/v1/openapi.json`: it cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorDetail};
use super::views::*;
use super::AppState;
use super::{admin, appeals, categories, health, import, operator, outbox};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "appeal-triage", description = "Routes citizens' appeals to the competent department."),
    paths(
        appeals::submit, appeals::submit_batch, appeals::preview, appeals::get_appeal, appeals::list,
        appeals::decide, appeals::reroute, appeals::history, appeals::review_queue,
        admin::get_tenant, admin::put_tenant, admin::list_departments, admin::get_department,
        admin::put_department, admin::delete_department, admin::list_keys, admin::create_key,
        admin::revoke_key, import::import_history, categories::list_categories,
        categories::put_category, categories::seed_categories, outbox::list_dead,
        outbox::retry_dead, outbox::drop_dead, operator::list_tenants, operator::create_tenant,
        operator::get_tenant, operator::update_tenant, operator::create_key,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, PlaceDto, SubmitRequest, SubmitResponse, PreviewResponse, BatchRequest, BatchItem,
        BatchResponse, AppealDto, AppealPage, DecisionDto, DecisionRequest, RerouteRequest,
        HistoryEntry, HistoryResponse, admin::TenantDto, admin::DepartmentDto, admin::KeyDto,
        categories::CategoryDto, categories::SeedResponse, outbox::DeadLetterDto,
        operator::OperatorTenantDto, operator::NewTenantRequest, operator::NewTenantResponse,
        operator::TenantUpdate,
        admin::NewKeyRequest, admin::NewKeyResponse, import::ImportResponse, import::RejectDto,
    )),
    modifiers(&Security),
    tags(
        (name = "appeals", description = "Submit and read appeals (portal role)"),
        (name = "review", description = "Supervisor review: queue, decisions, reroutes"),
        (name = "admin", description = "Tenant settings, departments, API keys, import (admin role)"),
        (name = "operator", description = "Tenants and their first keys (the operator secret)"),
        (name = "ops", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
