//! The decision policy: from the combined scores to what an appeal is told.
//!
//! The engine does the lookups (neighbours, models, catalogue) and the
//! scorer combines them; this turns the scores into the suggestion: the
//! calibrated probabilities and their order, the alternatives, the
//! confidence as recent outcomes reshape it, the prediction set at the
//! adaptive conformal level, the auto-routing
//! threshold (a department's own, else the tenant's learned one, else the
//! tenant's configured one), the gates that keep an appeal with a supervisor
//! (a language routing was not built for, nothing left to read after
//! masking) and the evidence notes. Pure: no storage, no clock.

use crate::decision::{Alternative, Outcome, Signal};
use crate::language::Language;

use super::calibration::{softmax_t, Calibration};
use super::recent::RecentOutcomes;
use super::scorer::Scored;
use super::signals::{SignalKind, SignalWeights};

/// Departments shown as alternatives.
pub const ALTERNATIVES: usize = 5;

/// What the policy reads besides the scores.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The tenant's calibration (temperature, conformal scores, learned threshold).
    pub calibration: &'a Calibration,
    /// The adaptive conformal level in force.
    pub conformal_level: f64,
    /// The weights the scores were combined with (shown in the evidence).
    pub weights: &'a SignalWeights,
    /// The tenant's configured auto-routing threshold (the last resort).
    pub tenant_threshold: f64,
    /// Detected language of the text.
    pub language: Language,
    /// Nothing but masked personal data or symbols was left to route on.
    pub contentless: bool,
    /// The appeal's category path (empty: none).
    pub category: &'a [String],
    /// What the latest confirmed appeals say of the fitted confidence (see
    /// [`super::recent`]); `None`: the fitted calibration alone.
    pub recent: Option<&'a RecentOutcomes>,
}

/// The suggestion the policy makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// Most probable department, if any candidate exists.
    pub department: Option<String>,
    /// Its calibrated probability, as recent outcomes have reshaped it.
    pub confidence: f64,
    /// Its probability under the fitted calibration alone (what recent
    /// outcomes are learned on).
    pub fitted_confidence: f64,
    /// The best [`ALTERNATIVES`] departments with probabilities.
    pub alternatives: Vec<Alternative>,
    /// The prediction set, best first.
    pub prediction_set: Vec<String>,
    /// Auto-routed or left for review.
    pub outcome: Outcome,
    /// What each signal said of the suggestion, and the gates' notes.
    pub signals: Vec<Signal>,
}

/// Decides from `scored`; `department_threshold` gives a catalogue
/// department's own auto-routing threshold, if it has one.
pub fn decide(
    scored: &Scored,
    policy: &Policy<'_>,
    department_threshold: impl Fn(&str) -> Option<f64>,
) -> Decided {
    let cal = policy.calibration;
    let probs = softmax_t(&scored.scores, cal.temperature);
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let top = order.first().copied();
    let department = top.map(|i| scored.candidates[i].clone());
    let fitted_confidence = top.map_or(0.0, |i| probs[i]);
    let confidence = policy
        .recent
        .map_or(fitted_confidence, |r| r.confidence(fitted_confidence));
    // The others share what the top one no longer claims (or gives up), in
    // their fitted proportions, never above it.
    let rest = if fitted_confidence < 1.0 {
        (1.0 - confidence) / (1.0 - fitted_confidence)
    } else {
        0.0
    };
    let alternatives = order
        .iter()
        .take(ALTERNATIVES)
        .map(|&i| Alternative {
            department: scored.candidates[i].clone(),
            probability: if Some(i) == top {
                confidence
            } else {
                (probs[i] * rest).min(confidence)
            },
        })
        .collect();
    // Sets are read on the fitted probabilities: the adaptive level keeps
    // their coverage, and reshaping the top one never reorders them.
    let prediction_set = cal
        .prediction_set_at(&probs, policy.conformal_level)
        .members
        .into_iter()
        .map(|i| scored.candidates[i].clone())
        .collect();
    // A department's own threshold and the tenant's configured one speak of
    // the confidence shown; a learned one of the fitted confidence it was
    // learned on (recent outcomes' first, then the calibration's).
    let learned = match policy.recent.and_then(RecentOutcomes::auto_threshold) {
        Some(recent) => Some(recent.unwrap_or(f64::INFINITY)),
        None => cal.auto_threshold,
    };
    let confident = match (
        department.as_deref().and_then(&department_threshold),
        learned,
    ) {
        (Some(own), _) => confidence >= own,
        (None, Some(t)) => fitted_confidence >= t,
        (None, None) => confidence >= policy.tenant_threshold,
    };
    // Text in a language the routing was not built for is routed but never
    // sent on without a supervisor.
    let supported = policy.language != Language::Other;
    let outcome = if department.is_some() && confident && supported {
        Outcome::AutoRouted
    } else {
        Outcome::NeedsReview
    };
    let mut signals = top
        .map(|i| signal_notes(scored, i, policy.weights))
        .unwrap_or_default();
    if !policy.category.is_empty() && !policy.contentless {
        signals.extend(category_note(
            policy.category,
            scored.signals.category_levels,
        ));
    }
    if policy.contentless {
        signals.push(Signal {
            name: "abstained".into(),
            weight: None,
            probability: 0.0,
            note: "nothing but personal data or symbols left after masking: a supervisor routes it"
                .into(),
        });
    } else if !supported {
        signals.push(Signal {
            name: "unsupported_language".into(),
            weight: None,
            probability: 0.0,
            note: "language not recognised as uk/ru/kk/en: never routed without review".into(),
        });
    }
    Decided {
        department,
        confidence,
        fitted_confidence,
        alternatives,
        prediction_set,
        outcome,
        signals,
    }
}

/// What each signal said about the chosen candidate: its probability of it,
/// with the weight it had.
fn signal_notes(scored: &Scored, i: usize, w: &SignalWeights) -> Vec<Signal> {
    let mut out: Vec<Signal> = SignalKind::ALL
        .iter()
        .filter_map(|&k| {
            let p = scored.signals.get(k)?;
            Some(Signal {
                name: k.evidence_name().into(),
                weight: Some(w.get(k)),
                probability: p[i],
                note: k.note().into(),
            })
        })
        .collect();
    if let Some(p) = &scored.signals.descriptions {
        out.push(Signal {
            name: "descriptions".into(),
            weight: None,
            probability: p[i],
            note: "similarity to the department's description (cold start)".into(),
        });
    }
    out
}

/// Says how much of the portal's category the history knew, when not all of
/// it: an unseen category is routed by text and place alone.
fn category_note(category: &[String], known_levels: usize) -> Option<Signal> {
    let note = match known_levels {
        0 => "category never seen in this tenant's history: routed by text and place alone"
            .to_string(),
        k if k < category.len() => format!(
            "only the first {k} of {} category levels seen in history: the rest is not evidence",
            category.len()
        ),
        _ => return None,
    };
    Some(Signal {
        name: "category_unseen".into(),
        weight: None,
        probability: 0.0,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored() -> Scored {
        let mut s = Scored {
            candidates: vec!["parks".into(), "roads".into(), "water".into()],
            scores: vec![0.0, 3.0, -2.0],
            ..Scored::default()
        };
        s.signals.by_signal[SignalKind::Knn as usize] = Some(vec![0.1, 0.8, 0.1]);
        s
    }

    fn policy<'a>(cal: &'a Calibration, w: &'a SignalWeights) -> Policy<'a> {
        Policy {
            calibration: cal,
            conformal_level: 0.1,
            weights: w,
            tenant_threshold: 0.9,
            language: Language::En,
            contentless: false,
            category: &[],
            recent: None,
        }
    }

    #[test]
    fn thresholds_take_precedence_department_then_learned_then_tenant() {
        let (cal, w) = (Calibration::default(), SignalWeights::default());
        let s = scored();
        // p(roads) = e^3 / (1 + e^3 + e^-2) ~ 0.947.
        let d = decide(&s, &policy(&cal, &w), |_| None);
        assert_eq!(d.department.as_deref(), Some("roads"));
        assert!((d.confidence - 0.947).abs() < 0.01, "{}", d.confidence);
        assert_eq!(d.outcome, Outcome::AutoRouted, "over the tenant's 0.9");
        assert_eq!(d.alternatives[0].department, "roads");
        assert_eq!(d.signals[0].name, "text_neighbours");
        assert_eq!(d.signals[0].probability, 0.8);
        // The department's own threshold wins over the tenant's...
        let d = decide(&s, &policy(&cal, &w), |code| {
            (code == "roads").then_some(0.99)
        });
        assert_eq!(d.outcome, Outcome::NeedsReview);
        // ...and the learned one over the tenant's.
        let learned = Calibration {
            auto_threshold: Some(0.97),
            ..Calibration::default()
        };
        let d = decide(&s, &policy(&learned, &w), |_| None);
        assert_eq!(d.outcome, Outcome::NeedsReview);
    }

    #[test]
    fn recent_outcomes_reshape_the_confidence_and_hold_back_auto_routing() {
        let w = SignalWeights::default();
        let cal = Calibration {
            auto_threshold: Some(0.9),
            ..Calibration::default()
        };
        let s = scored();
        let before = decide(&s, &policy(&cal, &w), |_| None);
        assert_eq!(before.outcome, Outcome::AutoRouted);
        // Lately, answers this sure were right 60% of the time.
        let mut recent = RecentOutcomes::new(1000, 100, 0.95);
        for i in 0..500 {
            recent.observe(before.fitted_confidence, i % 5 < 3);
        }
        let after = decide(
            &s,
            &Policy {
                recent: Some(&recent),
                ..policy(&cal, &w)
            },
            |_| None,
        );
        assert_eq!(after.fitted_confidence, before.fitted_confidence);
        assert!(
            (after.confidence - 0.6).abs() < 0.05,
            "{}",
            after.confidence
        );
        assert_eq!(after.alternatives[0].probability, after.confidence);
        let total: f64 = after.alternatives.iter().map(|a| a.probability).sum();
        assert!(total <= 1.0 + 1e-9 && total > after.confidence, "{total}");
        assert!(after
            .alternatives
            .windows(2)
            .all(|p| p[0].probability >= p[1].probability));
        assert_eq!(after.prediction_set, before.prediction_set);
        assert_eq!(
            after.outcome,
            Outcome::NeedsReview,
            "0.95 is out of reach lately"
        );
        // A department's own threshold still decides, on the confidence shown.
        let own = decide(
            &s,
            &Policy {
                recent: Some(&recent),
                ..policy(&cal, &w)
            },
            |_| Some(0.5),
        );
        assert_eq!(own.outcome, Outcome::AutoRouted);
    }

    #[test]
    fn gates_keep_the_appeal_with_a_supervisor_and_say_why() {
        let (cal, w) = (Calibration::default(), SignalWeights::default());
        let s = scored();
        let other = Policy {
            language: Language::Other,
            ..policy(&cal, &w)
        };
        let d = decide(&s, &other, |_| None);
        assert_eq!(d.outcome, Outcome::NeedsReview);
        assert!(d.signals.iter().any(|x| x.name == "unsupported_language"));
        let empty = decide(
            &Scored::default(),
            &Policy {
                contentless: true,
                ..policy(&cal, &w)
            },
            |_| None,
        );
        assert_eq!(
            (empty.department, empty.outcome),
            (None, Outcome::NeedsReview)
        );
        assert_eq!(empty.signals[0].name, "abstained");
        let category = ["Space".to_string()];
        let d = decide(
            &s,
            &Policy {
                category: &category,
                ..policy(&cal, &w)
            },
            |_| None,
        );
        assert!(d.signals.iter().any(|x| x.name == "category_unseen"));
    }
}
