//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2>).
//!
//! The services a citizen picks from are the tenant's **categories** (its
//! category catalogue, `/v1/categories`, seeded from the categories in its
//! history): `service_code` becomes the appeal's category, routing reads it
//! as evidence, and `agency_responsible` is the routed department. A tenant
//! without a category catalogue offers its departments as services, as
//! before (then the posted appeal carries no category). A posted request is
//! an appeal (channel `open311`) routed like any other. Every endpoint answers `.json` or `.xml`; errors are Open311's
//! list of `{code, description}`. The `api_key` form or query field is an API
//! key of this service; it selects the tenant. The service list and service
//! definitions are public in GeoReport, so they also accept `jurisdiction_id`
//! (the tenant id) instead of a key.
//!
//! Personal fields of a request (e-mail, names, phone, device id) are not
//! stored: routing does not need them.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::auth::{authenticate, Caller};
use super::error::ApiError;
use super::AppState;
use crate::engine::NewAppeal;
use crate::record::{Department, KeyRole};
use triage_domain::Place;

mod format;
mod requests;

use format::{render, split_file, xml_field, Fmt, O311Error, O311Result};
use requests::{get_request, get_token, list_requests, notice};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(get_root).post(post_request))
        .route("/open311/v2/services/{file}", get(get_service))
        .route("/open311/v2/requests/{file}", get(get_request))
        .route("/open311/v2/tokens/{file}", get(get_token))
}

/// The department's display name in the preferred language.
fn name_of(d: &Department, locale: Option<&str>) -> String {
    localised(&d.names, locale, &d.code)
}

/// One service a citizen can pick.
struct Service {
    code: String,
    name: String,
    description: String,
    keywords: String,
    group: String,
    /// The category a request for it carries (empty: none).
    category: Vec<String>,
}

/// A name in the preferred language, else English, Ukrainian, any, `fallback`.
fn localised(
    names: &std::collections::BTreeMap<String, String>,
    locale: Option<&str>,
    fallback: &str,
) -> String {
    locale
        .and_then(|l| names.get(l.split(['-', '_']).next().unwrap_or(l)))
        .or_else(|| names.get("en"))
        .or_else(|| names.get("uk"))
        .or_else(|| names.values().next())
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

/// The tenant's active categories as services; without a category
/// catalogue, its active departments (as before categories existed).
async fn services(
    state: &AppState,
    tenant: &str,
    locale: Option<&str>,
    fmt: Fmt,
) -> Result<Vec<Service>, O311Error> {
    let categories = state
        .record
        .categories(tenant)
        .await
        .map_err(|e| O311Error::from_api(e.into(), fmt))?;
    if !categories.is_empty() {
        return Ok(categories
            .into_iter()
            .filter(|c| c.active)
            .map(|c| {
                let last = c.path.last().cloned().unwrap_or_default();
                Service {
                    name: localised(&c.names, locale, &last),
                    description: c.path.join(" / "),
                    keywords: String::new(),
                    group: if c.path.len() > 1 {
                        c.path[0].clone()
                    } else {
                        String::new()
                    },
                    code: c.code,
                    category: c.path,
                }
            })
            .collect());
    }
    Ok(departments(state, tenant, fmt)
        .await?
        .iter()
        .filter(|d| d.active)
        .map(|d| Service {
            code: d.code.clone(),
            name: name_of(d, locale),
            description: d.description.clone(),
            keywords: d.areas.join(","),
            group: String::new(),
            category: Vec::new(),
        })
        .collect())
}

fn service_json(s: &Service) -> Value {
    json!({
        "service_code": s.code,
        "service_name": s.name,
        "description": s.description,
        "metadata": false,
        "type": "realtime",
        "keywords": s.keywords,
        "group": s.group,
    })
}

/// The tenant of a public read (the service list and definitions): the
/// `api_key`'s, or else `jurisdiction_id`.
async fn tenant_of(
    state: &AppState,
    q: &HashMap<String, String>,
    fmt: Fmt,
) -> Result<String, O311Error> {
    if q.get("api_key").is_some_and(|k| !k.is_empty()) {
        return Ok(reader(state, q, fmt).await?.key.tenant_id);
    }
    let Some(j) = q.get("jurisdiction_id").filter(|j| !j.is_empty()) else {
        return Err(O311Error::new(
            StatusCode::BAD_REQUEST,
            "jurisdiction_id or api_key required",
            fmt,
        ));
    };
    let known = state
        .record
        .tenant(j)
        .await
        .map_err(|e| O311Error::from_api(e.into(), fmt))?;
    known
        .map(|t| t.id)
        .ok_or_else(|| O311Error::new(StatusCode::NOT_FOUND, "jurisdiction_id not found", fmt))
}

/// The caller of a read that needs a key (there is no anonymous read of
/// requests): the `api_key` field's.
async fn reader(
    state: &AppState,
    q: &HashMap<String, String>,
    fmt: Fmt,
) -> Result<Caller, O311Error> {
    match q.get("api_key").filter(|k| !k.is_empty()) {
        Some(key) => caller_of(state, key, fmt).await,
        None => Err(O311Error::new(
            StatusCode::FORBIDDEN,
            "api_key required",
            fmt,
        )),
    }
}

async fn departments(
    state: &AppState,
    tenant: &str,
    fmt: Fmt,
) -> Result<Vec<Department>, O311Error> {
    state
        .record
        .departments(tenant)
        .await
        .map_err(|e| O311Error::from_api(e.into(), fmt))
}

/// `GET services.json|xml` and `GET requests.json|xml`.
async fn get_root(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> O311Result {
    let (name, fmt) = split_file(&file)?;
    match name {
        "services" => {
            let tenant = tenant_of(&state, &q, fmt).await?;
            let locale = q.get("locale").map(String::as_str);
            let items: Vec<Value> = services(&state, &tenant, locale, fmt)
                .await?
                .iter()
                .map(service_json)
                .collect();
            Ok(render(fmt, "services", "service", &items))
        }
        "requests" => list_requests(&state, &q, fmt).await,
        _ => Err(O311Error::new(
            StatusCode::NOT_FOUND,
            "no such resource",
            fmt,
        )),
    }
}

/// `GET services/{code}.json|xml`: the service definition (no extra attributes).
async fn get_service(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> O311Result {
    let (code, fmt) = split_file(&file)?;
    let tenant = tenant_of(&state, &q, fmt).await?;
    let offered = services(&state, &tenant, None, fmt).await?;
    if !offered.iter().any(|s| s.code == code) {
        return Err(O311Error::new(
            StatusCode::NOT_FOUND,
            "service_code not found",
            fmt,
        ));
    }
    let def = json!({ "service_code": code, "attributes": [] });
    match fmt {
        Fmt::Json => Ok(axum::Json(def).into_response()),
        Fmt::Xml => {
            let mut s =
                String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_definition>");
            xml_field(&mut s, "service_code", &Value::String(code.to_string()));
            s.push_str("<attributes></attributes></service_definition>");
            Ok(([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], s).into_response())
        }
    }
}

fn parse_coord(q: &HashMap<String, String>, k: &str, fmt: Fmt) -> Result<Option<f64>, O311Error> {
    match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<f64>().map(Some).map_err(|_| {
            O311Error::new(StatusCode::BAD_REQUEST, format!("{k} is not a number"), fmt)
        }),
    }
}

/// `POST requests.json|xml` (form-encoded): a new service request = an appeal.
async fn post_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    form: Result<
        axum::extract::Form<Vec<(String, String)>>,
        axum::extract::rejection::FormRejection,
    >,
) -> O311Result {
    let (name, fmt) = split_file(&file)?;
    if name != "requests" {
        return Err(O311Error::new(
            StatusCode::NOT_FOUND,
            "no such resource",
            fmt,
        ));
    }
    let axum::extract::Form(pairs) =
        form.map_err(|e| O311Error::from_api(ApiError::from(e), fmt))?;
    let q: HashMap<String, String> = pairs.into_iter().collect();
    let key = q.get("api_key").map(String::as_str).unwrap_or("");
    if key.is_empty() {
        return Err(O311Error::new(
            StatusCode::FORBIDDEN,
            "api_key required",
            fmt,
        ));
    }
    let caller = caller_of(&state, key, fmt).await?;
    let tenant = caller.key.tenant_id.clone();
    let service_code = q.get("service_code").map(|s| s.trim()).unwrap_or("");
    if service_code.is_empty() {
        return Err(O311Error::new(
            StatusCode::BAD_REQUEST,
            "service_code required",
            fmt,
        ));
    }
    let Some(service) = services(&state, &tenant, None, fmt)
        .await?
        .into_iter()
        .find(|s| s.code == service_code)
    else {
        return Err(O311Error::new(
            StatusCode::NOT_FOUND,
            "service_code not found",
            fmt,
        ));
    };
    let text = q.get("description").map(|s| s.trim()).unwrap_or("");
    if text.is_empty() {
        return Err(O311Error::new(
            StatusCode::BAD_REQUEST,
            "description required",
            fmt,
        ));
    }
    super::appeals::check_text(&state, text).map_err(|e| O311Error::from_api(e, fmt))?;
    let lat = parse_coord(&q, "lat", fmt)?;
    let lon = parse_coord(&q, "long", fmt)?;
    let address = q.get("address_string").filter(|s| !s.is_empty()).cloned();
    if lat.is_none() && lon.is_none() && address.is_none() && !q.contains_key("address_id") {
        return Err(O311Error::new(
            StatusCode::BAD_REQUEST,
            "a location is required: lat and long, address_string or address_id",
            fmt,
        ));
    }
    let appeal = NewAppeal {
        external_id: None,
        text: text.to_string(),
        place: Place {
            lat,
            lon,
            address,
            ..Place::default()
        },
        channel: Some("open311".into()),
        applicant_category: None,
        received_at: None,
        category: service.category,
    };
    let s = state
        .engine
        .submit(&tenant, appeal, &caller.actor())
        .await
        .map_err(|e| O311Error::from_api(e.into(), fmt))?;
    super::appeals::observe_outcome(&s.decision);
    let item = json!({
        "service_request_id": s.appeal_id.to_string(),
        "service_notice": notice(&s.decision),
        "account_id": null,
    });
    Ok(render(fmt, "service_requests", "request", &[item]))
}

/// The caller presenting `key` (portal role at least), rate limit applied.
async fn caller_of(state: &AppState, key: &str, fmt: Fmt) -> Result<Caller, O311Error> {
    authenticate(state, Some(key), KeyRole::Portal)
        .await
        .map_err(|e| O311Error::from_api(e, fmt))
}
