//! Shadow mode: the router is a running service, asked over HTTP where each
//! test appeal would go (`POST /v1/appeals:preview`), which stores nothing.
//! The service keeps its own case memory, so `fit` only checks that the
//! service answers; nothing of the split's train part is sent.

use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::json;

use crate::router::{LabelledAppeal, Prediction, Router};

/// Where the service is and how to call it (`--url`, `--api-key`).
#[derive(Debug, Clone)]
pub struct ShadowOptions {
    /// Base URL, e.g. `http://localhost:8080`.
    pub url: String,
    /// API key with (at least) the portal role of the tenant to evaluate.
    pub api_key: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The part of the preview answer the metrics need (the API may add fields).
#[derive(Debug, Deserialize)]
struct PreviewBody {
    decision: Decision,
}

#[derive(Debug, Deserialize)]
struct Decision {
    #[serde(default)]
    alternatives: Vec<Alternative>,
    confidence: f64,
    #[serde(default)]
    prediction_set: Vec<String>,
    decision: String,
    language: Option<String>,
    #[serde(default)]
    model: serde_json::Value,
    #[serde(default)]
    not_a_request: Option<NotRequest>,
}

#[derive(Debug, Deserialize)]
struct NotRequest {
    reason: String,
}

#[derive(Debug, Deserialize)]
struct Alternative {
    department: String,
    probability: f64,
}

/// The service behind the [`Router`] seam, read-only.
pub struct ShadowRouter {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    opts: ShadowOptions,
    /// The `model` stamp of the last decision (model and case-memory versions).
    model: serde_json::Value,
    requests: usize,
}

/// Builds the shadow router (no request is made yet).
pub fn shadow_router(opts: &ShadowOptions) -> anyhow::Result<ShadowRouter> {
    let url = opts.url.trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!(
            "--url must start with http:// or https://, got `{}`",
            opts.url
        );
    }
    if opts.api_key.trim().is_empty() {
        bail!("--url needs --api-key (a key with the portal role)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(opts.timeout)
        .build()
        .context("building the HTTP client")?;
    Ok(ShadowRouter {
        runtime,
        client,
        opts: ShadowOptions {
            url,
            ..opts.clone()
        },
        model: serde_json::Value::Null,
        requests: 0,
    })
}

impl ShadowRouter {
    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.opts.url)
    }

    /// POST JSON, answer JSON; a non-2xx answer is an error quoting the body.
    fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let url = self.endpoint(path);
        self.runtime.block_on(async {
            let r = self
                .client
                .post(&url)
                .bearer_auth(&self.opts.api_key)
                .json(body)
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let status = r.status();
            let text = r.text().await.with_context(|| format!("POST {url}"))?;
            if !status.is_success() {
                bail!(
                    "POST {url}: {status}: {}",
                    text.chars().take(500).collect::<String>()
                );
            }
            serde_json::from_str(&text)
                .with_context(|| format!("POST {url}: the answer is not JSON"))
        })
    }
}

fn request(a: &LabelledAppeal) -> serde_json::Value {
    json!({
        "text": a.text,
        "place": { "district": a.district, "municipality": a.municipality, "lat": a.lat, "lon": a.lon },
        "received_at": a.created_at,
        "category": a.category,
    })
}

impl Router for ShadowRouter {
    fn name(&self) -> String {
        "engine".into()
    }

    /// Checks the service is up (`/readyz`); the train part is not sent.
    fn fit(&mut self, _train: &[LabelledAppeal]) -> anyhow::Result<()> {
        let url = self.endpoint("/readyz");
        self.runtime.block_on(async {
            let r = self
                .client
                .get(&url)
                .send()
                .await
                .with_context(|| format!("the service does not answer at {url}"))?;
            if !r.status().is_success() {
                bail!("{url}: {} (the service is not ready)", r.status());
            }
            Ok(())
        })
    }

    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        let v = self.post("/v1/appeals:preview", &request(a))?;
        let body: PreviewBody =
            serde_json::from_value(v).context("the preview answer lacks the decision fields")?;
        self.requests += 1;
        let d = body.decision;
        self.model = d.model;
        Ok(Prediction {
            ranked: d
                .alternatives
                .into_iter()
                .map(|x| (x.department, x.probability))
                .collect(),
            confidence: d.confidence,
            auto: d.decision == "auto_routed",
            prediction_set: d.prediction_set,
            language: d.language,
            not_a_request: d.not_a_request.map(|n| n.reason),
        })
    }

    /// Shadow mode changes nothing in the service: feedback is refused.
    fn feedback(&mut self, a: &LabelledAppeal) -> anyhow::Result<()> {
        bail!(
            "row {}: --feedback is not available with --url (shadow mode never writes)",
            a.row
        )
    }

    fn info(&self) -> serde_json::Value {
        json!({
            "mode": "shadow",
            "url": self.opts.url,
            "endpoint": "POST /v1/appeals:preview",
            "requests": self.requests,
            "model": self.model,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_urls_and_missing_keys() {
        let opts = |url: &str, key: &str| ShadowOptions {
            url: url.into(),
            api_key: key.into(),
            timeout: Duration::from_secs(1),
        };
        let e = shadow_router(&opts("localhost:8080", "k")).err().unwrap();
        assert!(e.to_string().contains("http://"), "{e}");
        let e = shadow_router(&opts("http://localhost:8080", " "))
            .err()
            .unwrap();
        assert!(e.to_string().contains("--api-key"), "{e}");
        let r = shadow_router(&opts("http://localhost:8080/", "k")).unwrap();
        assert_eq!(r.endpoint("/readyz"), "http://localhost:8080/readyz");
    }

    #[test]
    fn request_carries_text_place_and_time() {
        let a = LabelledAppeal {
            row: 1,
            id: "x".into(),
            text: "яма".into(),
            label: "D".into(),
            created_at: 1_612_137_600_000,
            district: Some("Приморский".into()),
            municipality: None,
            lat: Some(59.9),
            lon: None,
            category: vec!["Благоустройство".into(), "Мусор".into()],
        };
        let v = request(&a);
        assert_eq!(v["text"], "яма");
        assert_eq!(v["place"]["district"], "Приморский");
        assert_eq!(v["place"]["lat"], 59.9);
        assert!(v["place"]["lon"].is_null());
        assert_eq!(v["received_at"], 1_612_137_600_000i64);
        assert_eq!(v["category"][1], "Мусор");
        assert!(v.get("department").is_none(), "the label never leaves");
    }
}
