//! The standard layers around the routes, from `tower-http` and `tower`
//! (kept crates; nothing here re-implements them): request ids, the trace
//! span, CORS, compression, panics caught, the request and body timeouts, the
//! body limit, admission control, plus the pieces that are ours: bodies read
//! whole before any rejection (see [`read_whole_body`]), and every error
//! a layer produces (413, 408, 503, a caught panic) gets the JSON error body
//! the handlers use, and every request is counted in the metrics.

use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use super::error::{ApiError, ErrorCause};
use super::{AppState, HttpConfig};
use crate::metrics;

/// The request id header, set when the client sends none and echoed back.
pub const REQUEST_ID: &str = "x-request-id";

/// Seconds a shed request is told to wait before retrying.
const SHED_RETRY_AFTER_SECS: u64 = 1;

/// The slow-client timeout of the streamed upload (every other body is read
/// whole, within the same timeout and the body limit, by [`read_whole_body`]).
pub(super) fn streamed(routes: Router<AppState>, config: &HttpConfig) -> Router<AppState> {
    routes.layer(RequestBodyTimeoutLayer::new(body_timeout(config)))
}

fn body_timeout(config: &HttpConfig) -> Duration {
    Duration::from_secs(config.body_timeout_secs.max(1))
}

/// The request timeout: past it the request is dropped and answered 503.
pub(super) fn timed_out(routes: Router<AppState>, config: &HttpConfig) -> Router<AppState> {
    routes.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(config.request_timeout_secs.max(1)),
    ))
}

/// One admission limit shared by every route it is applied to (`None` when
/// `max_in_flight` is 0).
pub(super) fn admission(config: &HttpConfig) -> Option<GlobalConcurrencyLimitLayer> {
    (config.max_in_flight > 0).then(|| GlobalConcurrencyLimitLayer::new(config.max_in_flight))
}

/// Past the admission limit a request is refused at once with 429 and
/// `Retry-After`, before any work: overload ends in fast refusals, not in
/// timeouts. (`tower`'s load shedding over its concurrency limit.)
pub(super) fn admitted(
    routes: Router<AppState>,
    limit: &Option<GlobalConcurrencyLimitLayer>,
) -> Router<AppState> {
    let Some(limit) = limit.clone() else {
        return routes;
    };
    routes.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(shed))
            .layer(LoadShedLayer::new())
            .layer(limit),
    )
}

async fn shed(_: BoxError) -> ApiError {
    metrics::observe_shed("in_flight");
    ApiError::too_many(
        "overloaded",
        "the service is at capacity; retry shortly",
        SHED_RETRY_AFTER_SECS,
    )
}

/// The layers every request passes, innermost first: errors as JSON and the
/// metrics, caught panics, compression, CORS, the trace span, the request id.
pub(super) fn outer(app: Router<AppState>, config: &HttpConfig) -> Router<AppState> {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let trace = TraceLayer::new_for_http()
        .make_span_with(make_span)
        .on_request(())
        .on_response(on_response)
        .on_failure(());
    let whole = WholeBody {
        limit: config.max_body_bytes,
        timeout: body_timeout(config),
    };
    let app = app
        // Bodies are limited by `bounded`'s layer, not by axum's extractor default.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(whole, read_whole_body))
        .layer(middleware::from_fn(json_errors_and_metrics))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(CompressionLayer::new());
    let app = match cors(config) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(trace)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Limits of [`read_whole_body`].
#[derive(Clone, Copy)]
struct WholeBody {
    limit: usize,
    timeout: Duration,
}

/// The import upload streams to its spool file.
const STREAMED: &str = "/v1/import";

/// Reads every request body (but the streamed upload) before any handler or
/// rejection runs. A request refused before its body was read (a wrong key,
/// a wrong method, an unknown path) would otherwise get its answer while the
/// client is still sending, and the connection closed under it: the client
/// sees a broken pipe instead of the JSON error. This is where the body limit
/// (`--max-body-bytes`) and the slow-client timeout are enforced.
async fn read_whole_body(
    axum::extract::State(w): axum::extract::State<WholeBody>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == STREAMED {
        // Refused before the upload was read (a wrong key, a bad format), the
        // connection cannot be reused: say so, or a client's pool sends the
        // next request on a socket the server is closing.
        let mut resp = next.run(req).await;
        if !resp.status().is_success() {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        return resp;
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(w.timeout, axum::body::to_bytes(body, w.limit)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, bytes.into())).await,
        // Over the limit (chunked, or a Content-Length that lied), or a
        // broken stream.
        Ok(Err(e)) if e.to_string().contains("length limit") => {
            let mut resp = ApiError::too_large(format!(
                "request body over the configured limit of {} bytes",
                w.limit
            ))
            .into_response();
            // The rest of the body is not read: the connection closes.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
        Ok(Err(e)) => ApiError::invalid(format!("request body unreadable: {e}")).into_response(),
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body did not arrive within the configured time",
        )
        .into_response(),
    }
}

/// The span of one request: method, route template, request id; the tenant
/// and key are filled in by the auth extractor, the status on response. Never
/// the path's values, the query or the body.
fn make_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("unmatched");
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "http",
        method = %req.method(),
        route,
        request_id = id,
        tenant = tracing::field::Empty,
        key = tracing::field::Empty,
        status = tracing::field::Empty,
    )
}

fn on_response(resp: &Response, latency: Duration, span: &Span) {
    let status = resp.status().as_u16();
    span.record("status", status);
    tracing::info!(status, ms = latency.as_secs_f64() * 1000.0, "request");
}

/// A panic in a handler: a JSON 500. The payload is not logged (it may quote
/// the appeal); the request id in the span ties the report to the request.
fn panicked(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("internal error").into_response()
}

/// Counts the request under its route template and gives every error a layer
/// produced (body limit, timeouts, CORS refusals) the JSON error body.
async fn json_errors_and_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = as_json_error(next.run(req).await);
    // Errors are logged here, once, in the request's span (with its request
    // id): not where they are made.
    let status = resp.status();
    let cause = resp.extensions().get::<ErrorCause>().map(|c| c.0.as_str());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(status = status.as_u16(), cause, "unavailable");
    } else if status.is_server_error() {
        tracing::error!(status = status.as_u16(), cause, "request failed");
    }
    metrics::observe_request(
        method.as_str(),
        &route,
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

fn as_json_error(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    // Handlers answer errors as JSON (or, on Open311, as its XML or JSON
    // error list); what is left is axum's and the layers' empty or plain-text
    // bodies.
    let structured = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.starts_with("text/plain"));
    if structured {
        return resp;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "request body over the configured limit"),
        StatusCode::REQUEST_TIMEOUT => (
            "body_timeout",
            "the request body did not arrive within the configured time",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "timeout",
            "the request took longer than the configured timeout",
        ),
        _ => ("error", status.canonical_reason().unwrap_or("error")),
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for (name, value) in resp.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut()
                .entry(name.clone())
                .or_insert(value.clone());
        }
    }
    out
}

/// CORS for the configured origins (`*` for any); `None` sends no CORS headers.
fn cors(config: &HttpConfig) -> Option<CorsLayer> {
    let origins: Vec<&str> = config
        .cors_origins
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static(REQUEST_ID),
            ])
            .expose_headers([HeaderName::from_static(REQUEST_ID), header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}
