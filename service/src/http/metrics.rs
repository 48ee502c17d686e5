//! Prometheus metrics in the text exposition format, kept by hand: a few
//! counters and histograms do not justify a metrics framework.
//!
//! Labels are bounded: routes are axum's matched path templates (never raw
//! paths with ids), outcomes a fixed set of words, statuses numbers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use crate::batcher::{BatcherStats, BATCH_SIZE_BUCKETS};

/// Upper bounds (seconds) of the request latency histogram.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    decisions: BTreeMap<String, u64>,
}

/// The service's metrics; one per process, shared in the app state.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Counts a finished request and its latency under its route template.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = m
            .latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; LATENCY_BUCKETS.len() + 1];
        }
        let secs = took.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        h.counts[i] += 1;
        h.sum += secs;
        h.count += 1;
    }

    /// Counts a routing outcome (`auto_routed`, `needs_review`) or a supervisor
    /// action (`accept`, `override`, `reroute`).
    pub fn observe_decision(&self, outcome: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.decisions.entry(outcome.to_string()).or_default() += 1;
        }
    }

    /// The exposition text, with the batcher's gauges and histogram if given.
    pub fn render(&self, batcher: Option<&BatcherStats>) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        out.push_str(
            "# HELP triage_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE triage_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "triage_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP triage_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE triage_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cum = 0;
            for (i, c) in h.counts.iter().enumerate() {
                cum += c;
                let le = LATENCY_BUCKETS
                    .get(i)
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "+Inf".into());
                let _ = writeln!(
                    out,
                    "triage_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cum}"
                );
            }
            let _ = writeln!(
                out,
                "triage_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "triage_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP triage_decisions_total Routing outcomes and supervisor actions.\n");
        out.push_str("# TYPE triage_decisions_total counter\n");
        for (outcome, n) in &m.decisions {
            let _ = writeln!(out, "triage_decisions_total{{outcome=\"{outcome}\"}} {n}");
        }
        drop(m);
        if let Some(b) = batcher {
            render_batcher(&mut out, b);
        }
        out
    }
}

fn render_batcher(out: &mut String, b: &BatcherStats) {
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    out.push_str("# HELP triage_embed_queue_depth Texts waiting for or in the model.\n");
    out.push_str("# TYPE triage_embed_queue_depth gauge\n");
    let _ = writeln!(out, "triage_embed_queue_depth {}", load(&b.queued_texts));
    out.push_str(
        "# HELP triage_embed_rejected_total Embedding calls refused because the queue was full.\n",
    );
    out.push_str("# TYPE triage_embed_rejected_total counter\n");
    let _ = writeln!(out, "triage_embed_rejected_total {}", load(&b.rejected));
    out.push_str("# HELP triage_embed_cache_hits_total Texts whose vector came from the cache.\n");
    out.push_str("# TYPE triage_embed_cache_hits_total counter\n");
    let _ = writeln!(out, "triage_embed_cache_hits_total {}", load(&b.cache_hits));
    out.push_str("# HELP triage_embed_batch_size Texts per model call.\n");
    out.push_str("# TYPE triage_embed_batch_size histogram\n");
    let mut cum = 0;
    for (i, c) in b.size_buckets.iter().enumerate() {
        cum += load(c);
        let le = BATCH_SIZE_BUCKETS
            .get(i)
            .map(|b| b.to_string())
            .unwrap_or_else(|| "+Inf".into());
        let _ = writeln!(out, "triage_embed_batch_size_bucket{{le=\"{le}\"}} {cum}");
    }
    let _ = writeln!(out, "triage_embed_batch_size_sum {}", load(&b.texts));
    let _ = writeln!(out, "triage_embed_batch_size_count {}", load(&b.batches));
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counted() {
        let m = Metrics::default();
        m.observe_request("GET", "/v1/appeals/{id}", 200, Duration::from_millis(3));
        m.observe_request("GET", "/v1/appeals/{id}", 404, Duration::from_secs(20));
        m.observe_decision("accept");
        let text = m.render(None);
        assert!(text.contains(
            "triage_http_requests_total{method=\"GET\",route=\"/v1/appeals/{id}\",status=\"404\"} 1"
        ));
        assert!(text.contains(
            "triage_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/appeals/{id}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "triage_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/appeals/{id}\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("triage_decisions_total{outcome=\"accept\"} 1"));
    }
}
