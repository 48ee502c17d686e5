//! Open311's two formats: `.json` or `.xml` answers, and errors as its list
//! of `{code, description}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::http::error::ApiError;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Fmt {
    Json,
    Xml,
}

/// An Open311 failure: HTTP status and description, rendered as a list.
pub(super) struct O311Error {
    status: StatusCode,
    description: String,
    fmt: Fmt,
}

impl O311Error {
    pub(super) fn new(status: StatusCode, description: impl Into<String>, fmt: Fmt) -> Self {
        Self {
            status,
            description: description.into(),
            fmt,
        }
    }

    pub(super) fn from_api(e: ApiError, fmt: Fmt) -> Self {
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

pub(super) type O311Result = Result<Response, O311Error>;

/// Splits `name.json` / `name.xml`.
pub(super) fn split_file(file: &str) -> Result<(&str, Fmt), O311Error> {
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

pub(super) fn render(fmt: Fmt, root: &str, item: &str, items: &[Value]) -> Response {
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

pub(super) fn xml_field(s: &mut String, k: &str, v: &Value) {
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

pub(super) fn xml_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
