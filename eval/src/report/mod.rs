//! The run's outputs: `report.json` (stable schema, see docs/eval.md),
//! `predictions.jsonl`, `report.md` and `report.html` with inline SVG plots.

pub mod html;
pub mod markdown;
pub mod svg;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::metrics::{self, Metrics};
use crate::runner::RouterRun;
use crate::split::SplitInfo;

/// Version of the `report.json` layout; bumped only for incompatible changes
/// (fields are only ever added).
pub const SCHEMA_VERSION: u32 = 1;

/// One router's section of the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RouterReport {
    /// Router name.
    pub name: String,
    /// `Router::info()`: hyper-parameters, model fingerprint, case-memory version...
    pub info: serde_json::Value,
    /// Train rows (summed over folds).
    pub n_train: usize,
    /// Wall time of fitting, seconds (summed over folds).
    pub fit_seconds: f64,
    /// Wall time of all `predict` calls, seconds.
    pub predict_seconds: f64,
    /// Sequential predictions per second: `n_test / predict_seconds`.
    pub throughput_per_s: f64,
    /// Every metric (flattened into this object).
    #[serde(flatten)]
    pub metrics: Metrics,
}

impl RouterReport {
    /// Summarises a run.
    pub fn of(run: &RouterRun, target_precision: f64) -> RouterReport {
        let metrics = metrics::summarise(&run.outcomes, target_precision);
        RouterReport {
            name: run.name.clone(),
            info: run.info.clone(),
            n_train: run.n_train,
            fit_seconds: run.fit_seconds,
            predict_seconds: run.predict_seconds,
            throughput_per_s: if run.predict_seconds > 0.0 {
                metrics.n_test as f64 / run.predict_seconds
            } else {
                0.0
            },
            metrics,
        }
    }
}

/// Tool name and version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    /// `triage-eval`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// The whole `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Who wrote it.
    pub tool: Tool,
    /// When, RFC 3339 UTC.
    pub created_at: String,
    /// `git rev-parse HEAD` of the working directory, if available.
    pub git_commit: Option<String>,
    /// The run's configuration (flags, column map, baseline settings).
    pub config: serde_json::Value,
    /// The split: rule, sizes, periods, unseen labels.
    pub split: SplitInfo,
    /// The engine; `null` with `--baselines-only`.
    pub engine: Option<RouterReport>,
    /// The baselines by name.
    pub baselines: BTreeMap<String, RouterReport>,
}

impl Report {
    /// Every router, engine first.
    pub fn routers(&self) -> Vec<&RouterReport> {
        self.engine.iter().chain(self.baselines.values()).collect()
    }
}

/// `git rev-parse HEAD`, or `None` outside a repository / without git.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Writes `report.json`, `predictions.jsonl`, `report.md` and `report.html` into `dir`.
pub fn write_all(dir: &Path, report: &Report, runs: &[RouterRun]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(dir.join("report.json"), json + "\n")?;
    let mut out = BufWriter::new(File::create(dir.join("predictions.jsonl"))?);
    for run in runs {
        for o in &run.outcomes {
            serde_json::to_writer(&mut out, o)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    std::fs::write(dir.join("report.md"), markdown::render(report))?;
    std::fs::write(dir.join("report.html"), html::render(report))?;
    Ok(())
}

/// Formats an optional share as a percentage with one decimal, `-` for none.
pub(crate) fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.1}", v * 100.0))
}
