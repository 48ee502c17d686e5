//! The one error type of the HTTP layer: every failure becomes a status code
//! and a JSON body `{"error": {"code": "...", "message": "..."}}`, where `code`
//! is a stable machine-readable word and `message` says what is wrong.
//!
//! Messages never echo appeal text (no PII in responses of errors or in logs).

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;
use crate::memory::batcher::BatchError;
use crate::record::RecordError;

/// An HTTP error: status, stable code and a human-readable message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid_input`, `unauthorized`, ...).
    pub code: &'static str,
    /// What is wrong, for a human.
    pub message: String,
    /// Seconds after which a retry may succeed (429, 503).
    pub retry_after: Option<u64>,
    /// The cause, for the log only (never sent): the middleware logs it once,
    /// in the request's span, for a 5xx answer.
    pub cause: Option<String>,
}

/// The cause of a 5xx answer, carried from the handler to the middleware
/// that logs it (see `layers.rs`).
#[derive(Debug, Clone)]
pub struct ErrorCause(pub String);

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// 400: the request is malformed or a field is invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 401: no key, or a key that is unknown or revoked.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key> or X-Api-Key)",
        )
    }

    /// 403: the key's role does not allow this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: nothing here for this tenant.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413: body or text over a configured limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 429: rate limit or queue full.
    pub fn too_many(code: &'static str, message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 503: a store is down; nothing was written.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(5),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
    }

    /// 503 for a store that cannot serve for now; `cause` goes to the log only.
    fn store_unavailable(cause: String) -> Self {
        Self {
            cause: Some(cause),
            ..Self::unavailable(
                "a store is temporarily unavailable; nothing was written, retry later",
            )
        }
    }

    /// 500: a bug or an unexpected failure; the details go to the log only
    /// (logged once by the middleware, with the request id).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(detail.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the service log",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(cause) = self.cause {
            resp.extensions_mut().insert(ErrorCause(cause));
        }
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidInput(m) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", m)
            }
            EngineError::UnknownTenant(_) => Self::not_found("unknown tenant"),
            EngineError::UnknownAppeal(id) => Self::not_found(format!("no appeal {id}")),
            EngineError::UnknownDepartment(d) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_department",
                format!("unknown department {d:?}"),
            ),
            EngineError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::Unavailable(m) => Self::store_unavailable(m),
            EngineError::Overloaded(m) => Self::too_many("overloaded", m, 1),
            EngineError::Internal(m) => Self::internal(m),
            e @ (EngineError::Record(_) | EngineError::Index(_)) => {
                let cause = error_chain(&e);
                if e.is_unavailable() {
                    Self::store_unavailable(cause)
                } else {
                    Self::internal(cause)
                }
            }
        }
    }
}

/// An error and its sources, `outer: inner: ...`, for the log (never the body).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        // thiserror's `{0}` formats often repeat the source's own message.
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        EngineError::from(e).into()
    }
}

impl From<crate::record::InvalidTenant> for ApiError {
    fn from(e: crate::record::InvalidTenant) -> Self {
        Self::invalid(e.to_string())
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Overloaded { .. } | BatchError::Behind { .. } => {
                Self::too_many("overloaded", e.to_string(), 1)
            }
            BatchError::TooMany { .. } => Self::too_large(e.to_string()),
            BatchError::Input(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", m),
            BatchError::Failed(m) => Self::internal(m),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::too_large("request body over the configured limit")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected Content-Type: application/json",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("the JSON does not fit the request: {}", r.body_text()),
            ),
            _ => Self::invalid(format!("invalid JSON body: {}", r.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::invalid(format!("invalid query string: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::invalid(format!("invalid path parameter: {}", r.body_text()))
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::too_large("request body over the configured limit")
            }
            _ => Self::invalid(format!("invalid form body: {}", r.body_text())),
        }
    }
}

/// `Json` whose rejections are [`ApiError`]s (so bad JSON gets our error body).
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query` whose rejections are [`ApiError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejections are [`ApiError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Result alias of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_their_status_codes() {
        let cases = [
            (EngineError::InvalidInput("x".into()), 422, "invalid_input"),
            (EngineError::UnknownAppeal(1), 404, "not_found"),
            (
                EngineError::UnknownDepartment("d".into()),
                422,
                "unknown_department",
            ),
            (EngineError::Conflict("c".into()), 409, "conflict"),
            (EngineError::Unavailable("db".into()), 503, "unavailable"),
            (EngineError::Overloaded("full".into()), 429, "overloaded"),
            (EngineError::Internal("bug".into()), 500, "internal"),
            // Store errors keep their source and classify themselves.
            (
                RecordError::Database(sqlx::Error::PoolTimedOut).into(),
                503,
                "unavailable",
            ),
            (
                RecordError::Database(sqlx::Error::RowNotFound).into(),
                500,
                "internal",
            ),
            (
                crate::index::IndexError::InUse("held".into()).into(),
                503,
                "unavailable",
            ),
        ];
        for (e, status, code) in cases {
            let a = ApiError::from(e);
            assert_eq!((a.status.as_u16(), a.code), (status, code));
        }
        // The cause (for the log, never the body) names the store's own error.
        let e: EngineError = RecordError::Database(sqlx::Error::PoolTimedOut).into();
        assert!(
            std::error::Error::source(&e).is_some(),
            "the record error is kept as the source"
        );
        let a = ApiError::from(e);
        assert!(
            a.cause.as_deref().unwrap_or("").contains("pool timed out"),
            "{:?}",
            a.cause
        );
        let full = ApiError::from(BatchError::Overloaded { capacity: 1 });
        assert_eq!(full.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(full
            .into_response()
            .headers()
            .contains_key(header::RETRY_AFTER));
        let hidden = ApiError::from(EngineError::Internal("secret detail".into()));
        assert!(
            !hidden.message.contains("secret detail"),
            "internals stay in the log"
        );
    }
}
