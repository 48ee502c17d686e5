//! One router's answer on one test appeal, next to the truth: the unit every
//! metric is computed from, and one line of `predictions.jsonl` (so `compare`
//! recomputes metrics on resamples from exactly what `run` measured).

use serde::{Deserialize, Serialize};

/// How many ranked departments are kept per example (top-3 needs 3; 5 leaves
/// room for analysis without bloating `predictions.jsonl`).
pub const KEPT_RANKS: usize = 5;

/// A prediction with its ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Router name (`engine`, `majority`, ...).
    pub router: String,
    /// Fold the example was tested in (0 unless `--folds`).
    pub fold: usize,
    /// Appeal id (pairs examples of two runs).
    pub id: String,
    /// 1-based data record number in its file.
    pub row: usize,
    /// True department.
    pub label: String,
    /// District of the appeal, if any (per-district breakdown).
    pub district: Option<String>,
    /// Calendar month the appeal was created in, `YYYY-MM` UTC (per-month
    /// breakdown).
    #[serde(default)]
    pub month: Option<String>,
    /// Language the router detected, if any (per-language breakdown).
    pub language: Option<String>,
    /// Best departments with probabilities, best first, at most [`KEPT_RANKS`].
    pub top: Vec<(String, f64)>,
    /// The router's confidence in its first choice.
    pub confidence: f64,
    /// Whether it would be routed automatically.
    pub auto: bool,
    /// The conformal prediction set.
    pub set: Vec<String>,
    /// Why the router took it for not a request, if it did (engine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_a_request: Option<String>,
    /// Wall time of the `predict` call, milliseconds.
    pub latency_ms: f64,
}

impl Outcome {
    /// The first choice, if the router ranked anything.
    pub fn predicted(&self) -> Option<&str> {
        self.top.first().map(|t| t.0.as_str())
    }

    /// Whether the true department is among the first `k`.
    pub fn hit_at(&self, k: usize) -> bool {
        self.top.iter().take(k).any(|t| t.0 == self.label)
    }

    /// Whether the true department is in the prediction set.
    pub fn in_set(&self) -> bool {
        self.set.contains(&self.label)
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! The hand-computed example every metric test uses (values worked out in
    //! comments next to each assertion).
    use super::Outcome;

    fn o(
        label: &str,
        top: &[(&str, f64)],
        auto: bool,
        set: &[&str],
        lang: Option<&str>,
        district: Option<&str>,
        ms: f64,
    ) -> Outcome {
        Outcome {
            router: "r".into(),
            fold: 0,
            id: format!("{label}{ms}"),
            row: 0,
            label: label.into(),
            district: district.map(str::to_string),
            month: None,
            language: lang.map(str::to_string),
            top: top.iter().map(|(d, p)| (d.to_string(), *p)).collect(),
            confidence: top[0].1,
            auto,
            set: set.iter().map(|s| s.to_string()).collect(),
            not_a_request: None,
            latency_ms: ms,
        }
    }

    /// Six examples over departments A, B, C (D only ever ranked third):
    ///
    /// | # | true | ranked (p)            | auto | set   | lang | district | ms |
    /// |---|------|-----------------------|------|-------|------|----------|----|
    /// | 1 | A    | A .90, B .05, C .05   | yes  | A     | ru   | X        | 5  |
    /// | 2 | A    | B .62, A .30, C .08   | no   | B A   | ru   | X        | 1  |
    /// | 3 | B    | B .85, A .10, C .05   | yes  | B     | ru   | Y        | 3  |
    /// | 4 | C    | B .50, A .30, C .20   | yes  | B A   | en   | -        | 2  |
    /// | 5 | C    | C .88, A .10, B .02   | no   | C     | en   | Y        | 4  |
    /// | 6 | B    | C .45, A .35, D .20   | no   | C A   | -    | Y        | 10 |
    pub fn six() -> Vec<Outcome> {
        vec![
            o(
                "A",
                &[("A", 0.90), ("B", 0.05), ("C", 0.05)],
                true,
                &["A"],
                Some("ru"),
                Some("X"),
                5.0,
            ),
            o(
                "A",
                &[("B", 0.62), ("A", 0.30), ("C", 0.08)],
                false,
                &["B", "A"],
                Some("ru"),
                Some("X"),
                1.0,
            ),
            o(
                "B",
                &[("B", 0.85), ("A", 0.10), ("C", 0.05)],
                true,
                &["B"],
                Some("ru"),
                Some("Y"),
                3.0,
            ),
            o(
                "C",
                &[("B", 0.50), ("A", 0.30), ("C", 0.20)],
                true,
                &["B", "A"],
                Some("en"),
                None,
                2.0,
            ),
            o(
                "C",
                &[("C", 0.88), ("A", 0.10), ("B", 0.02)],
                false,
                &["C"],
                Some("en"),
                Some("Y"),
                4.0,
            ),
            o(
                "B",
                &[("C", 0.45), ("A", 0.35), ("D", 0.20)],
                false,
                &["C", "A"],
                None,
                Some("Y"),
                10.0,
            ),
        ]
    }
}
