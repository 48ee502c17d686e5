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
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::auth::{authenticate, Caller};
use super::error::ApiError;
use super::AppState;
use crate::engine::{AppealView, NewAppeal};
use crate::record::{AppealQuery, AppealStatus, Department, KeyRole};
use triage_domain::Place;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(get_root).post(post_request))
        .route("/open311/v2/services/{file}", get(get_service))
        .route("/open311/v2/requests/{file}", get(get_request))
        .route("/open311/v2/tokens/{file}", get(get_token))
}

#[derive(Clone, Copy, PartialEq)]
enum Fmt {
    Json,
    Xml,
}

/// An Open311 failure: HTTP status and description, rendered as a list.
struct O311Error {
    status: StatusCode,
    description: String,
    fmt: Fmt,
}

impl O311Error {
    fn new(status: StatusCode, description: impl Into<String>, fmt: Fmt) -> Self {
        Self {
            status,
            description: description.into(),
            fmt,
        }
    }

    fn from_api(e: ApiError, fmt: Fmt) -> Self {
        Self::new(e.status, e.message, fmt)
    }
}

impl IntoResponse for O311Error {
    fn into_response(self) -> Response {
        let item = json!({ "code": self.status.as_u16(), "description": self.description });
        let mut r = render(self.fmt, "errors", "error", &[item]);
        *r.status_mut() = self.status;
        r
    }
}

type O311Result = Result<Response, O311Error>;

/// Splits `name.json` / `name.xml`.
fn split_file(file: &str) -> Result<(&str, Fmt), O311Error> {
    if let Some(n) = file.strip_suffix(".json") {
        Ok((n, Fmt::Json))
    } else if let Some(n) = file.strip_suffix(".xml") {
        Ok((n, Fmt::Xml))
    } else {
        Err(O311Error::new(
            StatusCode::NOT_FOUND,
            "unknown format: use .json or .xml",
            Fmt::Json,
        ))
    }
}

fn render(fmt: Fmt, root: &str, item: &str, items: &[Value]) -> Response {
    match fmt {
        Fmt::Json => axum::Json(Value::Array(items.to_vec())).into_response(),
        Fmt::Xml => {
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            s.push_str(&format!("<{root}>"));
            for v in items {
                s.push_str(&format!("<{item}>"));
                if let Value::Object(m) = v {
                    for (k, v) in m {
                        xml_field(&mut s, k, v);
                    }
                }
                s.push_str(&format!("</{item}>"));
            }
            s.push_str(&format!("</{root}>"));
            ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], s).into_response()
        }
    }
}

fn xml_field(s: &mut String, k: &str, v: &Value) {
    match v {
        Value::Null => s.push_str(&format!("<{k}/>")),
        Value::String(t) => s.push_str(&format!("<{k}>{}</{k}>", xml_escape(t))),
        Value::Array(a) => {
            s.push_str(&format!("<{k}>"));
            for x in a {
                xml_field(s, "attribute", x);
            }
            s.push_str(&format!("</{k}>"));
        }
        Value::Object(m) => {
            s.push_str(&format!("<{k}>"));
            for (k2, v2) in m {
                xml_field(s, k2, v2);
            }
            s.push_str(&format!("</{k}>"));
        }
        other => s.push_str(&format!("<{k}>{other}</{k}>")),
    }
}

fn xml_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
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

/// The tenant of a request: from `api_key`, or `jurisdiction_id` where public.
async fn tenant_of(
    state: &AppState,
    q: &HashMap<String, String>,
    public: bool,
    fmt: Fmt,
) -> Result<String, O311Error> {
    if let Some(key) = q.get("api_key").filter(|k| !k.is_empty()) {
        return Ok(caller_of(state, key, fmt).await?.key.tenant_id);
    }
    if public {
        if let Some(j) = q.get("jurisdiction_id").filter(|j| !j.is_empty()) {
            let known = state
                .record
                .tenant(j)
                .await
                .map_err(|e| O311Error::from_api(e.into(), fmt))?;
            return known.map(|t| t.id).ok_or_else(|| {
                O311Error::new(StatusCode::NOT_FOUND, "jurisdiction_id not found", fmt)
            });
        }
        return Err(O311Error::new(
            StatusCode::BAD_REQUEST,
            "jurisdiction_id or api_key required",
            fmt,
        ));
    }
    Err(O311Error::new(
        StatusCode::FORBIDDEN,
        "api_key required",
        fmt,
    ))
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
            let tenant = tenant_of(&state, &q, true, fmt).await?;
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
    let tenant = tenant_of(&state, &q, true, fmt).await?;
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

fn notice(d: &triage_domain::RoutingDecision) -> String {
    match d.deadlines.iter().find(|x| x.kind == "answer") {
        Some(x) => format!("An answer is due by {}.", x.due),
        None => String::new(),
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// One request as GeoReport shows it. `full` is false for a portal key
/// reading an appeal it did not submit: status and service fields only, no
/// `description` and no precise place (GeoReport v2 lets a server withhold
/// them), so a public portal key cannot read citizens' appeals.
fn request_json(v: &AppealView, deps: &[Department], full: bool) -> Value {
    let a = &v.appeal;
    let dep = a.data.department.as_deref().or_else(|| {
        v.suggestion
            .as_ref()
            .filter(|_| a.data.status == AppealStatus::AutoRouted)
            .and_then(|s| s.department.as_deref())
    });
    let agency = dep.map(|code| {
        deps.iter()
            .find(|d| d.code == code)
            .map(|d| name_of(d, None))
            .unwrap_or_else(|| code.to_string())
    });
    let (status, notes) = match a.data.status {
        AppealStatus::Imported => ("closed", "historical case"),
        AppealStatus::AutoRouted => ("open", "routed to the competent department"),
        AppealStatus::Decided => ("open", "routed to the competent department after review"),
        AppealStatus::NeedsReview | AppealStatus::Received => ("open", "being routed"),
        AppealStatus::Rerouted => ("open", "being re-routed"),
    };
    let expected = v
        .suggestion
        .as_ref()
        .and_then(|s| s.deadlines.iter().find(|d| d.kind == "answer"))
        .map(|d| format!("{}T23:59:59Z", d.due));
    let updated = v
        .decisions
        .last()
        .map(|d| d.at)
        .unwrap_or(a.data.received_at);
    let mut m = Map::new();
    m.insert("service_request_id".into(), json!(a.id.to_string()));
    m.insert("status".into(), json!(status));
    m.insert("status_notes".into(), json!(notes));
    // The service is the appeal's category when it has one (the catalogue's
    // code for its path), else the department as before categories existed.
    if a.data.category.is_empty() {
        m.insert("service_name".into(), json!(agency.clone()));
        m.insert("service_code".into(), json!(dep));
    } else {
        m.insert("service_name".into(), json!(a.data.category.last()));
        m.insert(
            "service_code".into(),
            json!(crate::record::code_of(&a.data.category)),
        );
    }
    if full {
        m.insert("description".into(), json!(a.data.text));
    }
    m.insert("agency_responsible".into(), json!(agency));
    m.insert(
        "service_notice".into(),
        json!(v.suggestion.as_ref().map(notice)),
    );
    m.insert("requested_datetime".into(), json!(iso(a.data.received_at)));
    m.insert("updated_datetime".into(), json!(iso(updated)));
    m.insert("expected_datetime".into(), json!(expected));
    let place = &a.data.place;
    m.insert(
        "address".into(),
        json!(place.address.as_ref().filter(|_| full)),
    );
    m.insert("address_id".into(), Value::Null);
    m.insert("zipcode".into(), Value::Null);
    m.insert("lat".into(), json!(place.lat.filter(|_| full)));
    m.insert("long".into(), json!(place.lon.filter(|_| full)));
    m.insert("media_url".into(), Value::Null);
    Value::Object(m)
}

/// `GET requests.json|xml`: by ids, or filtered (status, service, dates),
/// oldest first, at most [`LIST_CAP`]. Every filter is part of the query, so
/// the cap never hides a match behind older appeals; a client pages forward
/// with `start_date`.
async fn list_requests(state: &AppState, q: &HashMap<String, String>, fmt: Fmt) -> O311Result {
    let caller = reader(state, q, fmt).await?;
    let tenant = caller.tenant().to_string();
    let deps = departments(state, &tenant, fmt).await?;
    let err = |e: crate::engine::EngineError| O311Error::from_api(e.into(), fmt);
    let mut views = Vec::new();
    if let Some(ids) = q.get("service_request_id").filter(|s| !s.is_empty()) {
        for id in ids.split(',').take(LIST_CAP as usize) {
            let id: i64 = id.trim().parse().map_err(|_| {
                O311Error::new(
                    StatusCode::BAD_REQUEST,
                    "service_request_id is not a number",
                    fmt,
                )
            })?;
            if let Some(v) = state.engine.appeal(&tenant, id).await.map_err(err)? {
                views.push(v);
            }
        }
    } else {
        let mut query = AppealQuery {
            since: w3c_time(q, "start_date", fmt)?,
            until: w3c_time(q, "end_date", fmt)?,
            statuses: statuses(q, fmt)?,
            limit: LIST_CAP,
            ..AppealQuery::default()
        };
        if let Some(code) = q.get("service_code").filter(|s| !s.is_empty()) {
            // A service is a category of the catalogue, or (for a tenant
            // without one) a department.
            let categories = state
                .record
                .categories(&tenant)
                .await
                .map_err(|e| O311Error::from_api(e.into(), fmt))?;
            match categories.into_iter().find(|c| &c.code == code) {
                Some(c) => query.category = c.path,
                None => query.department = Some(code.clone()),
            }
        }
        views = state.engine.list(&tenant, query).await.map_err(err)?;
    }
    let items: Vec<Value> = views
        .iter()
        .map(|v| request_json(v, &deps, caller.may_read(&v.appeal.data)))
        .collect();
    Ok(render(fmt, "service_requests", "request", &items))
}

/// Most requests one list answers.
const LIST_CAP: i64 = 1000;

/// The caller of a read: a key is required (there is no anonymous read).
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

/// A W3C date-time query field, if present.
fn w3c_time(q: &HashMap<String, String>, field: &str, fmt: Fmt) -> Result<Option<i64>, O311Error> {
    let Some(s) = q.get(field).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| {
            O311Error::new(
                StatusCode::BAD_REQUEST,
                format!("{field} is not a W3C date-time"),
                fmt,
            )
        })
}

/// The record statuses behind GeoReport's `open` and `closed` (comma list).
fn statuses(q: &HashMap<String, String>, fmt: Fmt) -> Result<Vec<AppealStatus>, O311Error> {
    let Some(list) = q.get("status").filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for s in list.split(',').map(str::trim) {
        match s {
            "open" => out.extend([
                AppealStatus::Received,
                AppealStatus::AutoRouted,
                AppealStatus::NeedsReview,
                AppealStatus::Decided,
                AppealStatus::Rerouted,
            ]),
            "closed" => out.push(AppealStatus::Imported),
            _ => {
                return Err(O311Error::new(
                    StatusCode::BAD_REQUEST,
                    "status must be open or closed",
                    fmt,
                ))
            }
        }
    }
    Ok(out)
}

/// `GET requests/{id}.json|xml`.
async fn get_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> O311Result {
    let (id, fmt) = split_file(&file)?;
    let caller = reader(&state, &q, fmt).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| O311Error::new(StatusCode::NOT_FOUND, "service_request_id not found", fmt))?;
    let v = state
        .engine
        .appeal(caller.tenant(), id)
        .await
        .map_err(|e| O311Error::from_api(e.into(), fmt))?
        .ok_or_else(|| {
            O311Error::new(StatusCode::NOT_FOUND, "service_request_id not found", fmt)
        })?;
    let deps = departments(&state, caller.tenant(), fmt).await?;
    let full = caller.may_read(&v.appeal.data);
    Ok(render(
        fmt,
        "service_requests",
        "request",
        &[request_json(&v, &deps, full)],
    ))
}

/// `GET tokens/{token}.json|xml`: requests are created synchronously, so the
/// token of a request is its id.
async fn get_token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> O311Result {
    let (token, fmt) = split_file(&file)?;
    let tenant = tenant_of(&state, &q, false, fmt).await?;
    let id: i64 = token
        .parse()
        .map_err(|_| O311Error::new(StatusCode::NOT_FOUND, "token not found", fmt))?;
    let found = state
        .record
        .appeal(&tenant, id)
        .await
        .map_err(|e| O311Error::from_api(e.into(), fmt))?;
    if found.is_none() {
        return Err(O311Error::new(
            StatusCode::NOT_FOUND,
            "token not found",
            fmt,
        ));
    }
    let item = json!({ "service_request_id": id.to_string(), "token": token });
    Ok(render(fmt, "service_requests", "request", &[item]))
}
