//! The service's metrics, through the `metrics` facade and its Prometheus
//! exporter (no hand-written exposition format).
//!
//! One recorder per process, installed on first use: the engine, the batcher
//! and the HTTP edge record with the `metrics` macros wherever the work
//! happens, and `GET /metrics` renders the recorder. Labels are bounded: routes
//! are axum's matched path templates (never raw paths with ids), stages and
//! outcomes fixed words, statuses numbers. No label ever carries appeal text.
//!
//! Names (unchanged from the hand-written renderer they replace, plus the
//! per-stage histogram):
//! - `triage_http_requests_total{method,route,status}` counter
//! - `triage_http_request_duration_seconds{method,route}` histogram
//! - `triage_http_shed_total{reason}` requests refused at admission (429)
//! - `triage_decisions_total{outcome}` routing outcomes and supervisor actions
//! - `triage_stage_duration_seconds{stage}` time per step of a request (see [`Stage`])
//! - `triage_embed_queue_depth` gauge, `triage_embed_rejected_total`,
//!   `triage_embed_cache_hits_total` counters, `triage_embed_batch_size` histogram
//! - `triage_outbox_pending`, `triage_outbox_dead_letters` gauges,
//!   `triage_outbox_dead_letters_total` counter

use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the latency histograms.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of the batch-size histogram.
const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Requests by method, route template and status.
pub const HTTP_REQUESTS: &str = "triage_http_requests_total";
/// Request latency by method and route template.
pub const HTTP_DURATION: &str = "triage_http_request_duration_seconds";
/// Requests refused at admission, by reason.
pub const HTTP_SHED: &str = "triage_http_shed_total";
/// Routing outcomes and supervisor actions.
pub const DECISIONS: &str = "triage_decisions_total";
/// Time per step of serving a request.
pub const STAGE_DURATION: &str = "triage_stage_duration_seconds";
/// Texts waiting for or in the model.
pub const EMBED_QUEUE_DEPTH: &str = "triage_embed_queue_depth";
/// Embedding calls refused because the queue was full or too long to wait in.
pub const EMBED_REJECTED: &str = "triage_embed_rejected_total";
/// Texts whose vector came from the cache.
pub const EMBED_CACHE_HITS: &str = "triage_embed_cache_hits_total";
/// Texts per model call.
pub const EMBED_BATCH_SIZE: &str = "triage_embed_batch_size";
/// Index writes set aside because the model refuses their text.
pub const OUTBOX_DEAD: &str = "triage_outbox_dead_letters_total";
/// Dead letters waiting for an admin (all tenants), set on each scrape.
pub const OUTBOX_DEAD_PENDING: &str = "triage_outbox_dead_letters";
/// Index writes not yet applied, set on each scrape.
pub const OUTBOX_PENDING: &str = "triage_outbox_pending";

/// The process's Prometheus recorder, installed as the global `metrics`
/// recorder on first call. If another recorder was installed first (a host
/// program's), ours still renders what is recorded through it directly.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(EMBED_BATCH_SIZE.into()), BATCH_SIZE_BUCKETS)
            })
            .expect("bucket lists are non-empty constants");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_ok() {
            describe();
        }
        // Histogram samples are buffered until drained: drain them even when
        // nobody scrapes, so memory stays flat.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            });
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(HTTP_REQUESTS, "HTTP requests by method, route and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route."
    );
    describe_counter!(
        HTTP_SHED,
        "Requests refused with 429 before any work, by reason."
    );
    describe_counter!(DECISIONS, "Routing outcomes and supervisor actions.");
    describe_histogram!(
        STAGE_DURATION,
        Unit::Seconds,
        "Time spent per step of a request (queue_wait, embed, search_*, score, evidence, commit, index_write)."
    );
    describe_gauge!(EMBED_QUEUE_DEPTH, "Texts waiting for or in the model.");
    describe_counter!(
        EMBED_REJECTED,
        "Embedding calls refused because the queue was full or too long to wait in."
    );
    describe_counter!(EMBED_CACHE_HITS, "Texts whose vector came from the cache.");
    describe_histogram!(EMBED_BATCH_SIZE, "Texts per model call.");
    describe_counter!(
        OUTBOX_DEAD,
        "Index writes set aside as dead letters because the model refuses their text."
    );
    describe_gauge!(
        OUTBOX_DEAD_PENDING,
        "Dead letters waiting for an admin to retry or drop them."
    );
    describe_gauge!(OUTBOX_PENDING, "Index writes not yet applied.");
}

/// The exposition text of everything recorded so far.
pub fn render() -> String {
    handle().render()
}

/// A step of serving a request, timed into [`STAGE_DURATION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting in the batcher's queue for a model call.
    QueueWait,
    /// The model call (tokenise + forward) for one batch.
    Embed,
    /// The tokenising part of [`Stage::Embed`].
    Tokenize,
    /// Nearest past cases over the whole tenant.
    SearchGlobal,
    /// Nearest past cases in the appeal's district.
    SearchDistrict,
    /// Past cases at the appeal's spot.
    SearchPlace,
    /// Duplicate and campaign lookups.
    SearchDuplicates,
    /// The department catalogue read.
    Catalogue,
    /// Scoring, calibration and the decision policy.
    Score,
    /// Reading the texts of the evidence cases.
    Evidence,
    /// The record transaction (appeal, suggestion, audit, outbox).
    Commit,
    /// Writing the appeal's vector into the index.
    IndexWrite,
}

impl Stage {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::QueueWait => "queue_wait",
            Stage::Embed => "embed",
            Stage::Tokenize => "tokenize",
            Stage::SearchGlobal => "search_global",
            Stage::SearchDistrict => "search_district",
            Stage::SearchPlace => "search_place",
            Stage::SearchDuplicates => "search_duplicates",
            Stage::Catalogue => "catalogue",
            Stage::Score => "score",
            Stage::Evidence => "evidence",
            Stage::Commit => "commit",
            Stage::IndexWrite => "index_write",
        }
    }
}

/// Records `took` for `stage`, in the histogram and as a debug event in the
/// current (request's) span.
pub fn observe_stage(stage: Stage, took: Duration) {
    let secs = took.as_secs_f64();
    metrics::histogram!(STAGE_DURATION, "stage" => stage.as_str()).record(secs);
    tracing::debug!(stage = stage.as_str(), ms = secs * 1000.0, "stage");
}

/// Runs `fut` and records how long it took under `stage`.
pub async fn timed<F: Future>(stage: Stage, fut: F) -> F::Output {
    let started = Instant::now();
    let out = fut.await;
    observe_stage(stage, started.elapsed());
    out
}

/// Counts a finished request and its latency under its route template.
pub fn observe_request(method: &str, route: &str, status: u16, took: Duration) {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels[..2]).record(took.as_secs_f64());
}

/// Counts a routing outcome (`auto_routed`, `needs_review`) or a supervisor
/// action (`accept`, `override`, `reroute`).
pub fn observe_decision(outcome: &'static str) {
    metrics::counter!(DECISIONS, "outcome" => outcome).increment(1);
}

/// Counts a request refused at admission.
pub fn observe_shed(reason: &'static str) {
    metrics::counter!(HTTP_SHED, "reason" => reason).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_render_under_their_names() {
        handle();
        observe_request("GET", "/v1/appeals/{id}", 404, Duration::from_millis(3));
        observe_decision("accept");
        observe_stage(Stage::Commit, Duration::from_micros(700));
        let text = render();
        assert!(
            text.contains(
                "triage_http_requests_total{method=\"GET\",route=\"/v1/appeals/{id}\",status=\"404\"}"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "triage_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/appeals/{id}\",le=\"0.005\"}"
            ),
            "{text}"
        );
        assert!(text.contains("triage_decisions_total{outcome=\"accept\"}"));
        assert!(
            text.contains("triage_stage_duration_seconds_bucket{stage=\"commit\",le=\"0.001\"}")
        );
        assert!(text.contains("# TYPE triage_stage_duration_seconds histogram"));
    }
}
