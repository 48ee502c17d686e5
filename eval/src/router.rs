//! The seam between the evaluation harness and whatever routes appeals: the
//! engine and the baselines implement [`Router`], the harness only sees this.

use serde::Serialize;

/// One labelled appeal as read from the evaluation data.
///
/// Kept independent of the service's own types so the eval tool can read any
/// export a data scientist has (column names are mapped at read time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelledAppeal {
    /// 1-based data record number in its source file (the header is not counted),
    /// so error messages and predictions can point back at the file.
    pub row: usize,
    /// The appeal's id; unique within a file, used to pair predictions of two runs.
    pub id: String,
    /// Free text of the appeal.
    pub text: String,
    /// The department that handled it (the routing label).
    pub label: String,
    /// Creation time, unix milliseconds (UTC); drives time-ordered splits.
    pub created_at: i64,
    /// City district, when known.
    pub district: Option<String>,
    /// Municipality, when known.
    pub municipality: Option<String>,
    /// Latitude (WGS 84), when known.
    pub lat: Option<f64>,
    /// Longitude (WGS 84), when known.
    pub lon: Option<f64>,
    /// The portal's category, general to specific (empty: none, or not read:
    /// see `--category-cols`).
    pub category: Vec<String>,
}

/// What a router says about one appeal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Departments with probabilities, best first. May be truncated (top-k);
    /// top-1/top-3 metrics read the first entries.
    pub ranked: Vec<(String, f64)>,
    /// The router's confidence in its first choice, in [0, 1]; calibration and
    /// the coverage-precision curve are computed on it.
    pub confidence: f64,
    /// Whether the router would route this appeal automatically (no human).
    pub auto: bool,
    /// The conformal prediction set (departments that together should contain
    /// the true one with the router's nominal coverage). Empty if unsupported.
    pub prediction_set: Vec<String>,
    /// Detected language of the text, if the router detects one (per-language
    /// breakdown; `None` is reported as `unknown`).
    pub language: Option<String>,
    /// Why the router takes the appeal for not a request (`text`,
    /// `category`, `campaign`), if it does; `None` for routers that do not
    /// tell.
    pub not_a_request: Option<String>,
}

/// Anything that can be trained on labelled appeals and then route new ones.
///
/// Object safe: the harness holds `Box<dyn Router>` for the engine and each
/// baseline and runs them identically on the same split.
pub trait Router {
    /// Stable name used as the key in the report (`engine`, `majority`, ...).
    fn name(&self) -> String;
    /// Learns from the training part of the split (called once per fold, before
    /// any `predict`). Rows are in time order.
    fn fit(&mut self, train: &[LabelledAppeal]) -> anyhow::Result<()>;
    /// Routes one test appeal. The harness times each call (latency metrics),
    /// so do per-appeal work here, not in bulk beforehand.
    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction>;
    /// Supervisor feedback with the true label after a decision (only called
    /// with `--feedback`), for routers that learn online (case memory).
    fn feedback(&mut self, a: &LabelledAppeal) -> anyhow::Result<()> {
        let _ = a;
        Ok(())
    }
    /// Free-form description for the report: hyper-parameters, model
    /// fingerprint, case-memory version... Called after `fit`.
    fn info(&self) -> serde_json::Value;
}
