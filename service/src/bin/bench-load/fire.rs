//! Firing a phase: requests leave on the [`Schedule`], each in its own task,
//! so a request still waiting for its answer never delays the next one; every
//! outcome is timed from its due time. The server's RSS is sampled meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::rss::rss_mib;
use crate::schedule::Schedule;
use crate::summary::{Answer, Failure, Outcome};
use crate::texts::Bodies;

/// The service under load: `POST /v1/appeals` with a portal key.
pub struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    submit: Uri,
    auth: HeaderValue,
    timeout: Duration,
}

impl Target {
    /// A keep-alive HTTP/1.1 client for `base_url` (`http://host:port`).
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = base_url.trim_end_matches('/').to_string();
        let submit: Uri = format!("{base}/v1/appeals")
            .parse()
            .with_context(|| format!("--url {base_url}: not a URL"))?;
        if submit.scheme_str() != Some("http") {
            bail!("--url {base_url}: only http:// (the benchmark runs on loopback)");
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {api_key}"))
            .context("--api-key: not a valid header value")?;
        auth.set_sensitive(true);
        let mut connector = HttpConnector::new();
        // Small requests and answers: Nagle's delay would show up as latency.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            base,
            submit,
            auth,
            timeout,
        })
    }

    /// Fails unless `GET /readyz` answers 200 (model loaded, stores reachable).
    pub async fn check_ready(&self) -> anyhow::Result<()> {
        let uri: Uri = format!("{}/readyz", self.base).parse()?;
        let req = Request::get(uri).body(Full::new(Bytes::new()))?;
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .with_context(|| format!("{}/readyz: no answer", self.base))?
            .with_context(|| format!("{}/readyz: is the service running?", self.base))?;
        if !resp.status().is_success() {
            bail!("{}/readyz answered {}", self.base, resp.status());
        }
        Ok(())
    }

    /// The service's `triage_embed_cache_hits_total` (0 before any hit).
    pub async fn cache_hits(&self) -> anyhow::Result<f64> {
        let uri: Uri = format!("{}/metrics", self.base).parse()?;
        let req = Request::get(uri).body(Full::new(Bytes::new()))?;
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .with_context(|| format!("{}/metrics: no answer", self.base))??;
        let body = resp.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&body);
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix("triage_embed_cache_hits_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }

    /// Submits one appeal body; the answer's status and error code, or why
    /// there was none within the timeout.
    pub async fn submit(&self, body: Vec<u8>) -> Answer {
        match tokio::time::timeout(self.timeout, self.submit_inner(body)).await {
            Ok(answer) => answer,
            Err(_) => Answer::Failed(Failure::Timeout),
        }
    }

    async fn submit_inner(&self, body: Vec<u8>) -> Answer {
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.submit.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, self.auth.clone())
            .body(Full::new(Bytes::from(body)))
            .expect("method, URI and headers were validated");
        let resp = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Answer::Failed(Failure::Connect),
            Err(_) => return Answer::Failed(Failure::Http),
        };
        let status = resp.status();
        let Ok(collected) = resp.into_body().collect().await else {
            return Answer::Failed(Failure::Body);
        };
        let code = (!status.is_success())
            .then(|| error_code(&collected.to_bytes()))
            .flatten();
        Answer::Status(status.as_u16(), code)
    }
}

/// `error.code` of the service's JSON error body.
pub fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("error")?.get("code")?.as_str().map(str::to_string)
}

/// One phase: a constant rate for `warmup + measure`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Arrivals.
    pub schedule: Schedule,
    /// Leading part whose requests are sent but not summarised.
    pub warmup: Duration,
    /// The measured part.
    pub measure: Duration,
    /// Most requests in flight; a request due beyond it is not sent and
    /// counts as an error (keeps a stalled server from exhausting sockets).
    pub max_in_flight: usize,
}

/// What a phase recorded.
#[derive(Debug)]
pub struct Fired {
    /// Every request, warm-up included, in completion order.
    pub outcomes: Vec<Outcome>,
    /// Latest the generator sent a request after its due time.
    pub max_send_lag: Duration,
    /// Most requests in flight at once.
    pub peak_in_flight: usize,
    /// `(time since phase start, server RSS MiB)`, once a second (empty without a pid).
    pub rss: Vec<(Duration, f64)>,
}

/// Runs `plan` against `target`, taking bodies from `bodies`, sampling the RSS
/// of `pid` if given; returns once every request has its outcome.
pub async fn fire(
    target: &Arc<Target>,
    bodies: &mut Bodies,
    plan: Plan,
    pid: Option<u32>,
) -> Fired {
    let total = plan.schedule.count(plan.warmup + plan.measure);
    let start = Instant::now() + Duration::from_millis(20);
    let rss = Arc::new(Mutex::new(Vec::new()));
    let sampler = pid.map(|pid| {
        let rss = rss.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(start, Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Some(mib) = rss_mib(pid) {
                    let at = start.elapsed();
                    rss.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((at, mib));
                }
            }
        })
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut peak_in_flight = 0;
    let mut max_send_lag = Duration::ZERO;
    for i in 0..total {
        let due = plan.schedule.due(i);
        let at = start + due;
        tokio::time::sleep_until(at).await;
        max_send_lag = max_send_lag.max(at.elapsed());
        let now_in_flight = in_flight.load(Ordering::Relaxed);
        if now_in_flight >= plan.max_in_flight {
            let _ = tx.send(Outcome {
                due,
                latency: Duration::ZERO,
                answer: Answer::Failed(Failure::InFlightCap),
            });
            continue;
        }
        peak_in_flight = peak_in_flight.max(now_in_flight + 1);
        in_flight.fetch_add(1, Ordering::Relaxed);
        let body = bodies.next_body();
        let (target, tx, in_flight) = (target.clone(), tx.clone(), in_flight.clone());
        tokio::spawn(async move {
            let answer = target.submit(body).await;
            let latency = at.elapsed();
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(Outcome {
                due,
                latency,
                answer,
            });
        });
    }
    drop(tx);
    let mut outcomes = Vec::with_capacity(total as usize);
    while let Some(o) = rx.recv().await {
        outcomes.push(o);
    }
    if let Some(s) = sampler {
        s.abort();
    }
    let rss = std::mem::take(&mut *rss.lock().unwrap_or_else(|e| e.into_inner()));
    Fired {
        outcomes,
        max_send_lag,
        peak_in_flight,
        rss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_of_the_service_error_body() {
        let body = br#"{"error":{"code":"rate_limited","message":"retry in 1 s"}}"#;
        assert_eq!(error_code(body).as_deref(), Some("rate_limited"));
        assert_eq!(error_code(b"<html>"), None);
        assert_eq!(error_code(br#"{"code":"x"}"#), None);
    }

    #[test]
    fn only_http_urls_and_valid_keys_are_accepted() {
        let t = Duration::from_secs(1);
        assert!(Target::new("http://127.0.0.1:8080/", "k", t).is_ok());
        let e = Target::new("https://example.org", "k", t).err().unwrap();
        assert!(e.to_string().contains("only http://"), "{e}");
        assert!(Target::new("not a url", "k", t).is_err());
        assert!(Target::new("http://127.0.0.1:8080", "bad\nkey", t).is_err());
    }
}
