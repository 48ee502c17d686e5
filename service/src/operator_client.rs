//! The CLI's way to a running service: when `serve` holds the embedded data
//! directory, `tenants put` and `keys create` go through the service's
//! operator API instead of opening the directory (onboarding without
//! downtime).

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use crate::record::{KeyRole, Tenant};
use crate::serve::ServeError;

/// Where the running service is and the operator secret to call it with.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Base URL of the running service, used when it holds the data directory.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_SERVICE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub service_url: String,
    /// The operator key file the service runs with (`serve --operator-key-file`).
    #[arg(long, env = "APPEAL_TRIAGE_OPERATOR_KEY_FILE")]
    pub operator_key_file: Option<PathBuf>,
}

/// A client of the operator API.
pub struct OperatorClient {
    base: String,
    secret: String,
    http: reqwest::Client,
}

impl OperatorClient {
    /// A client for `remote`; fails without an operator key file, saying why
    /// one is needed.
    pub fn new(remote: &RemoteArgs, why: &str) -> Result<Self, ServeError> {
        let file = remote.operator_key_file.as_ref().ok_or_else(|| {
            ServeError::Invalid(format!(
                "{why}; pass --operator-key-file (the file `serve` runs with) to go through \
                 its operator API at {}",
                remote.service_url
            ))
        })?;
        let secret = std::fs::read_to_string(file)
            .map_err(|e| ServeError::Invalid(format!("operator key file {}: {e}", file.display())))?
            .trim()
            .to_string();
        Ok(Self {
            base: remote.service_url.trim_end_matches('/').to_string(),
            secret,
            http: reqwest::Client::new(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<(u16, Value), ServeError> {
        let url = format!("{}{path}", self.base);
        let r = self
            .http
            .request(method, &url)
            .bearer_auth(&self.secret)
            .json(&body)
            .send()
            .await
            .map_err(|e| ServeError::Invalid(format!("{url}: {e}")))?;
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    fn failed(what: &str, status: u16, v: &Value) -> ServeError {
        let msg = v["error"]["message"].as_str().unwrap_or("no details");
        ServeError::Invalid(format!("{what}: the service answered {status}: {msg}"))
    }

    /// Creates or changes a tenant (no key is made).
    pub async fn put_tenant(&self, t: &Tenant) -> Result<(), ServeError> {
        let settings = json!({
            "name": t.name,
            "jurisdiction": t.jurisdiction.as_str(),
            "alpha": t.alpha,
            "auto_threshold": t.auto_threshold,
        });
        let path = format!("/v1/admin/tenants/{}", t.id);
        let (status, v) = self
            .call(reqwest::Method::PUT, &path, settings.clone())
            .await?;
        match status {
            200 => Ok(()),
            404 => {
                let mut new = settings;
                new["id"] = json!(t.id);
                new["admin_key"] = json!(false);
                let (status, v) = self
                    .call(reqwest::Method::POST, "/v1/admin/tenants", new)
                    .await?;
                (status == 201)
                    .then_some(())
                    .ok_or_else(|| Self::failed("creating the tenant", status, &v))
            }
            _ => Err(Self::failed("changing the tenant", status, &v)),
        }
    }

    /// Creates a key; returns (key id, secret).
    pub async fn create_key(
        &self,
        tenant: &str,
        role: KeyRole,
        label: Option<&str>,
    ) -> Result<(String, String), ServeError> {
        let path = format!("/v1/admin/tenants/{tenant}/keys");
        let body = json!({ "role": role.as_str(), "label": label });
        let (status, v) = self.call(reqwest::Method::POST, &path, body).await?;
        if status != 201 {
            return Err(Self::failed("creating the key", status, &v));
        }
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Ok((field("id"), field("secret")))
    }
}
