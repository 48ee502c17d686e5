//! What one phase of the load measured: per-request outcomes reduced to the
//! table row (offered vs achieved rate, errors by kind, latency percentiles)
//! and the pass/fail verdict against the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::bench_support::percentile;

/// How a request that got no HTTP answer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No TCP connection to the server.
    Connect,
    /// No answer within the client timeout.
    Timeout,
    /// The connection broke mid-request.
    Http,
    /// The answer's body could not be read.
    Body,
    /// Not sent: the generator's in-flight cap was reached (counted as an
    /// error rather than delayed, so the arrival rate stays what was offered).
    InFlightCap,
}

impl Failure {
    /// The label in the errors column.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Http => "http",
            Self::Body => "body",
            Self::InFlightCap => "in-flight cap",
        }
    }
}

/// The server's answer to one request, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status, with the `error.code` of a JSON error body.
    Status(u16, Option<String>),
    /// No answer.
    Failed(Failure),
}

impl Answer {
    /// The errors-column label of a non-2xx answer (`429 overloaded`, `timeout`).
    pub fn error_label(&self) -> Option<String> {
        match self {
            Self::Status(s, _) if (200..300).contains(s) => None,
            Self::Status(s, Some(code)) => Some(format!("{s} {code}")),
            Self::Status(s, None) => Some(s.to_string()),
            Self::Failed(f) => Some(f.label().to_string()),
        }
    }
}

/// One request of a phase.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When it was due, from the start of the phase.
    pub due: Duration,
    /// From the due time (not the actual send) to the end of the answer.
    pub latency: Duration,
    /// What came back.
    pub answer: Answer,
}

/// The reduction of a phase's measured requests.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Offered rate, requests per second.
    pub offered: f64,
    /// Successful answers per second over the measured window.
    pub achieved: f64,
    /// Requests due in the window.
    pub sent: usize,
    /// 2xx answers.
    pub ok: usize,
    /// 200 answers: an external id already known (should be 0: ids are unique).
    pub repeats: usize,
    /// Errors by label.
    pub errors: BTreeMap<String, usize>,
    /// p50, p95, p99 and max latency of the 2xx answers, ms (None without any).
    pub latency_ms: Option<[f64; 4]>,
    /// p99 latency of the 429 answers, ms (None without any): overload must be
    /// refused fast, not after a wait.
    pub refusal_p99_ms: Option<f64>,
}

impl Summary {
    /// Summarises the requests due in `[from, from + span)`; the window over
    /// which the achieved rate is computed runs from `from` to the last
    /// completion of those requests (at least `span`), so a server that falls
    /// behind shows an achieved rate below the offered one.
    pub fn of(outcomes: &[Outcome], offered: f64, from: Duration, span: Duration) -> Self {
        let measured: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.due >= from && o.due < from + span)
            .collect();
        let mut ok_latencies: Vec<Duration> = Vec::with_capacity(measured.len());
        let mut refusals: Vec<Duration> = Vec::new();
        let mut errors = BTreeMap::new();
        let mut repeats = 0;
        let mut last_end = from + span;
        for o in &measured {
            last_end = last_end.max(o.due + o.latency);
            match o.answer.error_label() {
                None => {
                    ok_latencies.push(o.latency);
                    if o.answer == Answer::Status(200, None) {
                        repeats += 1;
                    }
                }
                Some(label) => {
                    if matches!(o.answer, Answer::Status(429, _)) {
                        refusals.push(o.latency);
                    }
                    *errors.entry(label).or_insert(0) += 1
                }
            }
        }
        ok_latencies.sort_unstable();
        refusals.sort_unstable();
        let refusal_p99_ms = (!refusals.is_empty()).then(|| percentile(&refusals, 0.99));
        let latency_ms = (!ok_latencies.is_empty()).then(|| {
            [
                percentile(&ok_latencies, 0.50),
                percentile(&ok_latencies, 0.95),
                percentile(&ok_latencies, 0.99),
                percentile(&ok_latencies, 1.0),
            ]
        });
        let window = (last_end - from).as_secs_f64();
        Self {
            offered,
            achieved: ok_latencies.len() as f64 / window,
            sent: measured.len(),
            ok: ok_latencies.len(),
            repeats,
            errors,
            latency_ms,
            refusal_p99_ms,
        }
    }

    /// All errors.
    pub fn error_count(&self) -> usize {
        self.errors.values().sum()
    }

    /// `429 overloaded ×3, timeout ×1`, or `0`; the 429s' p99 latency last
    /// (`429 p99 2.1 ms`).
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "0".into();
        }
        let mut s = String::new();
        for (label, n) in &self.errors {
            if !s.is_empty() {
                s.push_str(", ");
            }
            let _ = write!(s, "{label} ×{n}");
        }
        if let Some(p99) = self.refusal_p99_ms {
            let _ = write!(s, "; 429 p99 {p99:.1} ms");
        }
        s
    }

    /// The markdown table row: phase, offered, achieved, sent, ok, errors,
    /// p50, p95, p99, max, verdict.
    pub fn row(&self, phase: &str, verdict: &str) -> String {
        let lat = match self.latency_ms {
            Some([p50, p95, p99, max]) => format!("{p50:.1} | {p95:.1} | {p99:.1} | {max:.1}"),
            None => "- | - | - | -".into(),
        };
        format!(
            "| {phase} | {:.0} | {:.1} | {} | {} | {} | {lat} | {verdict} |",
            self.offered,
            self.achieved,
            self.sent,
            self.ok,
            self.errors_text()
        )
    }
}

/// The markdown table header matching [`Summary::row`].
pub const HEADER: &str = "| phase | offered/s | achieved/s | sent | ok | errors | p50 ms | p95 ms | p99 ms | max ms | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|";

/// What a phase must show to pass.
#[derive(Debug, Clone, Copy)]
pub struct Criteria {
    /// p99 latency of the ok answers below this, ms.
    pub p99_ms: f64,
    /// Errors at most this share of the requests (0: none at all).
    pub max_error_share: f64,
    /// Achieved rate at least this share of the offered one.
    pub min_achieved_share: f64,
}

impl Criteria {
    /// The reasons `s` fails; empty when it passes.
    pub fn failures(&self, s: &Summary) -> Vec<String> {
        let mut why = Vec::new();
        match s.latency_ms {
            Some([_, _, p99, _]) if p99 < self.p99_ms => {}
            Some([_, _, p99, _]) => why.push(format!("p99 {p99:.1} ms >= {} ms", self.p99_ms)),
            None => why.push("no successful answer".into()),
        }
        let errors = s.error_count();
        let share = errors as f64 / s.sent.max(1) as f64;
        let too_many = if self.max_error_share == 0.0 {
            errors > 0
        } else {
            share >= self.max_error_share
        };
        if too_many {
            why.push(format!("{errors} errors ({:.2}%)", share * 100.0));
        }
        if s.achieved < s.offered * self.min_achieved_share {
            why.push(format!(
                "achieved {:.1}/s < {:.0}% of offered",
                s.achieved,
                self.min_achieved_share * 100.0
            ));
        }
        why
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(due_ms: u64, latency_ms: u64) -> Outcome {
        Outcome {
            due: Duration::from_millis(due_ms),
            latency: Duration::from_millis(latency_ms),
            answer: Answer::Status(201, None),
        }
    }

    #[test]
    fn percentiles_errors_and_achieved_rate() {
        // 100 requests at 100/s over 1 s, latencies 1..=100 ms, plus two errors
        // and one warm-up request that must be left out.
        let mut v: Vec<Outcome> = (0..100).map(|i| ok(1000 + i * 10, i + 1)).collect();
        v[3].answer = Answer::Status(429, Some("overloaded".into()));
        v[7].answer = Answer::Failed(Failure::Timeout);
        v.push(ok(500, 5000));
        let s = Summary::of(&v, 100.0, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!((s.sent, s.ok, s.error_count(), s.repeats), (100, 98, 2, 0));
        assert_eq!(
            s.errors_text(),
            "429 overloaded ×1, timeout ×1; 429 p99 4.0 ms"
        );
        let [p50, p95, p99, max] = s.latency_ms.unwrap();
        // ok latencies: 1..=100 without 4 and 8 (98 values).
        assert_eq!(max, 100.0);
        assert!((50.0..=53.0).contains(&p50), "p50 {p50}");
        assert!((95.0..=97.0).contains(&p95), "p95 {p95}");
        assert!((98.0..=100.0).contains(&p99), "p99 {p99}");
        // Last completion at 1990 + 100 ms: window 1.09 s, 98 ok.
        assert!((s.achieved - 98.0 / 1.09).abs() < 1e-9, "{}", s.achieved);
    }

    #[test]
    fn a_server_falling_behind_shows_a_lower_achieved_rate() {
        // 100 due in 1 s but the last one completes 1 s late.
        let v: Vec<Outcome> = (0..100).map(|i| ok(i * 10, 10 + i * 10)).collect();
        let s = Summary::of(&v, 100.0, Duration::ZERO, Duration::from_secs(1));
        assert!(s.achieved < 55.0, "{}", s.achieved);
        let c = Criteria {
            p99_ms: 150.0,
            max_error_share: 0.01,
            min_achieved_share: 0.95,
        };
        let why = c.failures(&s);
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].starts_with("p99"));
        assert!(why[1].starts_with("achieved"));
    }

    #[test]
    fn criteria_pass_and_zero_error_tolerance() {
        let mut v: Vec<Outcome> = (0..200).map(|i| ok(i * 5, 20)).collect();
        let s = Summary::of(&v, 200.0, Duration::ZERO, Duration::from_secs(1));
        let strict = Criteria {
            p99_ms: 150.0,
            max_error_share: 0.0,
            min_achieved_share: 0.95,
        };
        assert!(strict.failures(&s).is_empty(), "{:?}", strict.failures(&s));
        v[0].answer = Answer::Status(503, None);
        let s = Summary::of(&v, 200.0, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(strict.failures(&s), vec!["1 errors (0.50%)".to_string()]);
        let lenient = Criteria {
            max_error_share: 0.01,
            ..strict
        };
        assert!(lenient.failures(&s).is_empty());
    }

    #[test]
    fn repeats_are_counted_and_no_answer_has_no_latency() {
        let mut v = vec![ok(0, 10)];
        v[0].answer = Answer::Status(200, None);
        let s = Summary::of(&v, 1.0, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(s.repeats, 1);
        let v = vec![Outcome {
            answer: Answer::Failed(Failure::Connect),
            ..ok(0, 1)
        }];
        let s = Summary::of(&v, 1.0, Duration::ZERO, Duration::from_secs(1));
        assert!(s.latency_ms.is_none());
        assert!(s.row("x", "-").contains("| - | - | - | - |"));
    }
}
