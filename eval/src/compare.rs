//! `compare`: which metrics moved between two runs beyond noise.
//!
//! Confidence intervals of the difference (B - A), 95%:
//! * paired bootstrap when both runs have `predictions.jsonl` for a router with
//!   the same test ids (resample examples, recompute both metrics on the same
//!   resample): the right test for two routers on one test set;
//! * unpaired bootstrap when both have predictions but on different ids;
//! * normal approximation for proportions (`sqrt(p(1-p)/n)` per side) when a
//!   run has no predictions; macro-F1 and ECE then get no interval.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::metrics::{accuracy, automation, calibration, classification, conformal, latency};
use crate::outcome::Outcome;
use crate::report::{Report, RouterReport};

/// One metric of one router in both runs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricDiff {
    /// Router name.
    pub router: String,
    /// Metric name (as in report.json).
    pub metric: String,
    /// Value in run A.
    pub a: Option<f64>,
    /// Value in run B.
    pub b: Option<f64>,
    /// `b - a`.
    pub delta: Option<f64>,
    /// 95% interval of the delta, if one could be computed.
    pub ci: Option<(f64, f64)>,
    /// `paired_bootstrap`, `unpaired_bootstrap`, `normal_approximation` or `none`.
    pub method: String,
    /// `better`, `worse` (interval excludes 0; direction per metric), `noise`, or `n/a`.
    pub verdict: String,
}

/// A metric computed on a (re)sample of outcomes; `lower_is_better` for ECE and latency.
struct Metric {
    name: &'static str,
    lower_is_better: bool,
    /// Proportion metrics get a normal-approximation interval without predictions.
    proportion: bool,
    compute: fn(&[&Outcome]) -> Option<f64>,
    from_report: fn(&RouterReport) -> Option<f64>,
}

const METRICS: [Metric; 8] = [
    Metric {
        name: "top1",
        lower_is_better: false,
        proportion: true,
        compute: |o| Some(accuracy::top_k(o, 1)),
        from_report: |r| Some(r.metrics.top1),
    },
    Metric {
        name: "top3",
        lower_is_better: false,
        proportion: true,
        compute: |o| Some(accuracy::top_k(o, 3)),
        from_report: |r| Some(r.metrics.top3),
    },
    Metric {
        name: "macro_f1",
        lower_is_better: false,
        proportion: false,
        compute: |o| Some(classification::macro_f1(&classification::per_department(o))),
        from_report: |r| Some(r.metrics.macro_f1),
    },
    Metric {
        name: "ece",
        lower_is_better: true,
        proportion: false,
        compute: |o| Some(calibration::reliability(o, calibration::BINS).ece),
        from_report: |r| Some(r.metrics.ece),
    },
    Metric {
        name: "auto_share",
        lower_is_better: false,
        proportion: true,
        compute: |o| Some(automation::auto_share(o)),
        from_report: |r| Some(r.metrics.auto_share),
    },
    Metric {
        name: "auto_precision",
        lower_is_better: false,
        proportion: true,
        compute: |o| automation::auto_precision(o),
        from_report: |r| r.metrics.auto_precision,
    },
    Metric {
        name: "conformal_coverage",
        lower_is_better: false,
        proportion: true,
        compute: |o| Some(conformal::coverage(o)),
        from_report: |r| Some(r.metrics.conformal_coverage),
    },
    Metric {
        name: "latency_ms.p50",
        lower_is_better: true,
        proportion: false,
        compute: |o| Some(latency_p50(o)),
        from_report: |r| Some(r.metrics.latency_ms.p50),
    },
];

fn latency_p50(o: &[&Outcome]) -> f64 {
    let mut v: Vec<f64> = o.iter().map(|o| o.latency_ms).collect();
    v.sort_by(f64::total_cmp);
    latency::percentile(&v, 50.0)
}

/// SplitMix64: a tiny deterministic generator for resampling (reproducible CIs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Per-example outcomes of a run, by router name.
pub type ByRouter = HashMap<String, Vec<Outcome>>;

/// Reads a `report.json` and, if present beside it, its `predictions.jsonl`
/// grouped by router. `path` may be the report file or its directory.
pub fn load(path: &Path) -> anyhow::Result<(Report, Option<ByRouter>)> {
    let file: PathBuf = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let report: Report = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a triage-eval report", file.display()))?;
    let preds = file.with_file_name("predictions.jsonl");
    if !preds.is_file() {
        return Ok((report, None));
    }
    let mut by_router: HashMap<String, Vec<Outcome>> = HashMap::new();
    let reader = BufReader::new(
        File::open(&preds).with_context(|| format!("cannot read {}", preds.display()))?,
    );
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", preds.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let o: Outcome = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {}", preds.display(), i + 1))?;
        by_router.entry(o.router.clone()).or_default().push(o);
    }
    Ok((report, Some(by_router)))
}

fn percentile_interval(mut deltas: Vec<f64>) -> Option<(f64, f64)> {
    deltas.retain(|d| d.is_finite());
    if deltas.len() < 10 {
        return None;
    }
    deltas.sort_by(f64::total_cmp);
    let n = deltas.len();
    Some((
        latency::percentile(&deltas, 2.5),
        deltas[((0.975 * n as f64).ceil() as usize).clamp(1, n) - 1],
    ))
}

/// Compares every router present in both reports on every metric.
pub fn compare(a: &Path, b: &Path, resamples: usize, seed: u64) -> anyhow::Result<Vec<MetricDiff>> {
    let (ra, pa) = load(a)?;
    let (rb, pb) = load(b)?;
    let routers_a: BTreeMap<&str, &RouterReport> = ra
        .routers()
        .into_iter()
        .map(|r| (r.name.as_str(), r))
        .collect();
    let mut out = Vec::new();
    let mut rng = Rng(seed);
    for rb_router in rb.routers() {
        let Some(ra_router) = routers_a.get(rb_router.name.as_str()) else {
            continue;
        };
        let name = rb_router.name.as_str();
        let oa = pa.as_ref().and_then(|p| p.get(name));
        let ob = pb.as_ref().and_then(|p| p.get(name));
        // Pair by id when both sides hold exactly the same ids.
        let paired: Option<Vec<(&Outcome, &Outcome)>> = match (oa, ob) {
            (Some(x), Some(y)) if x.len() == y.len() => {
                let index: HashMap<&str, &Outcome> = y.iter().map(|o| (o.id.as_str(), o)).collect();
                let pairs: Vec<(&Outcome, &Outcome)> = x
                    .iter()
                    .filter_map(|o| index.get(o.id.as_str()).map(|p| (o, *p)))
                    .collect();
                (pairs.len() == x.len() && index.len() == y.len()).then_some(pairs)
            }
            _ => None,
        };
        for m in &METRICS {
            let (va, vb) = ((m.from_report)(ra_router), (m.from_report)(rb_router));
            let delta = va.zip(vb).map(|(x, y)| y - x);
            let (ci, method) = if let Some(pairs) = &paired {
                let n = pairs.len();
                let mut deltas = Vec::with_capacity(resamples);
                let (mut sa, mut sb) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for _ in 0..resamples {
                    sa.clear();
                    sb.clear();
                    for _ in 0..n {
                        let (x, y) = pairs[rng.below(n)];
                        sa.push(x);
                        sb.push(y);
                    }
                    if let (Some(x), Some(y)) = ((m.compute)(&sa), (m.compute)(&sb)) {
                        deltas.push(y - x);
                    }
                }
                (percentile_interval(deltas), "paired_bootstrap")
            } else if let (Some(x), Some(y)) = (oa, ob) {
                let mut deltas = Vec::with_capacity(resamples);
                for _ in 0..resamples {
                    let sa: Vec<&Outcome> = (0..x.len()).map(|_| &x[rng.below(x.len())]).collect();
                    let sb: Vec<&Outcome> = (0..y.len()).map(|_| &y[rng.below(y.len())]).collect();
                    if let (Some(u), Some(v)) = ((m.compute)(&sa), (m.compute)(&sb)) {
                        deltas.push(v - u);
                    }
                }
                (percentile_interval(deltas), "unpaired_bootstrap")
            } else if let (true, Some(x), Some(y)) = (m.proportion, va, vb) {
                let n_of = |r: &RouterReport| {
                    let n = r.metrics.n_test as f64;
                    if m.name == "auto_precision" {
                        n * r.metrics.auto_share
                    } else {
                        n
                    }
                };
                let (na, nb) = (n_of(ra_router), n_of(rb_router));
                if na >= 1.0 && nb >= 1.0 {
                    let se = (x * (1.0 - x) / na + y * (1.0 - y) / nb).sqrt();
                    (
                        (y - x - 1.96 * se, y - x + 1.96 * se).into(),
                        "normal_approximation",
                    )
                } else {
                    (None, "none")
                }
            } else {
                (None, "none")
            };
            let verdict = match ci {
                Some((lo, hi)) if lo > 0.0 || hi < 0.0 => {
                    let up = lo > 0.0;
                    if up != m.lower_is_better {
                        "better"
                    } else {
                        "worse"
                    }
                }
                Some(_) => "noise",
                None => "n/a",
            };
            out.push(MetricDiff {
                router: name.to_string(),
                metric: m.name.to_string(),
                a: va,
                b: vb,
                delta,
                ci,
                method: method.to_string(),
                verdict: verdict.to_string(),
            });
        }
    }
    Ok(out)
}

/// The diffs as a plain-text table.
pub fn table(diffs: &[MetricDiff]) -> String {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut s = format!(
        "{:<22} {:<20} {:>9} {:>9} {:>9} {:>21} {:<21} {}\n",
        "router", "metric", "A", "B", "B-A", "95% CI", "method", "verdict"
    );
    for d in diffs {
        let ci =
            d.ci.map_or("-".to_string(), |(l, h)| format!("[{l:+.4}, {h:+.4}]"));
        let delta = d.delta.map_or("-".to_string(), |v| format!("{v:+.4}"));
        s.push_str(&format!(
            "{:<22} {:<20} {:>9} {:>9} {:>9} {:>21} {:<21} {}\n",
            d.router,
            d.metric,
            f(d.a),
            f(d.b),
            delta,
            ci,
            d.method,
            d.verdict
        ));
    }
    s
}
