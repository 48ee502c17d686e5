//! Service requests: GeoReport's view of an appeal, the list and the reads,
//! with a portal key's least privilege (see [`request_json`]).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::format::{render, split_file, Fmt, O311Error, O311Result};
use super::{departments, name_of, reader};
use crate::engine::AppealView;
use crate::http::AppState;
use crate::record::{AppealQuery, AppealStatus, Department};

pub(super) fn notice(d: &triage_domain::RoutingDecision) -> String {
    match d.deadlines.iter().find(|x| x.kind == "answer") {
        Some(x) => format!("An answer is due by {}.", x.due),
        None => String::new(),
    }
}

pub(super) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// One request as GeoReport shows it. `full` is false for a portal key
/// reading an appeal it did not submit: status and service fields only, no
/// `description` and no precise place (GeoReport v2 lets a server withhold
/// them), so a public portal key cannot read citizens' appeals.
pub(super) fn request_json(v: &AppealView, deps: &[Department], full: bool) -> Value {
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
        AppealStatus::NotARequest => ("closed", "received; not a request for action"),
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
pub(super) async fn list_requests(
    state: &AppState,
    q: &HashMap<String, String>,
    fmt: Fmt,
) -> O311Result {
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
pub(super) const LIST_CAP: i64 = 1000;

/// A W3C date-time query field, if present.
pub(super) fn w3c_time(
    q: &HashMap<String, String>,
    field: &str,
    fmt: Fmt,
) -> Result<Option<i64>, O311Error> {
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
pub(super) fn statuses(
    q: &HashMap<String, String>,
    fmt: Fmt,
) -> Result<Vec<AppealStatus>, O311Error> {
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
pub(super) async fn get_request(
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
pub(super) async fn get_token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> O311Result {
    let (token, fmt) = split_file(&file)?;
    let tenant = reader(&state, &q, fmt).await?.key.tenant_id;
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
