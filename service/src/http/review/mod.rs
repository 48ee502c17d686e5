//! The supervisor review page at `/review`: one server-rendered HTML page, a
//! stylesheet and a small script, compiled into the binary (no build step, no
//! external assets). The page talks to the JSON API with the supervisor's key,
//! kept in the tab's session storage only; appeal text is inserted as text,
//! never as HTML.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;

use super::AppState;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("app.js");
const STYLE: &str = include_str!("app.css");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(page))
        .route("/review/app.js", get(script))
        .route("/review/app.css", get(style))
}

/// Security headers of the page: no framing, scripts and styles from here only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(PAGE),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}
