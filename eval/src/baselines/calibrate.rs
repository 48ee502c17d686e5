//! What a baseline learns from its validation slice besides C: the confidence
//! threshold for automatic routing and the conformal quantile (LAC, split
//! conformal). Both come from the model fitted without the validation rows,
//! then are applied to the model refitted on all train (an approximation the
//! report states: the refit model is slightly more confident).

use crate::metrics::coverage;
use crate::outcome::Outcome;

/// One validation prediction: class probabilities and the true class index
/// (`None` when the class was unseen by the model).
pub struct Scored {
    /// Probabilities over the model's classes.
    pub probs: Vec<f64>,
    /// Index of the true class in them.
    pub truth: Option<usize>,
}

/// The lowest confidence threshold whose validation precision reaches `target`
/// (the same rule as the report's coverage-precision curve); `None` if none does.
pub fn auto_threshold(val: &[Scored], target: f64) -> Option<f64> {
    let outcomes: Vec<Outcome> = val
        .iter()
        .map(|s| {
            let (best, conf) = argmax(&s.probs);
            let hit = s.truth == Some(best);
            Outcome {
                router: String::new(),
                fold: 0,
                id: String::new(),
                row: 0,
                label: if hit { "hit" } else { "miss" }.into(),
                district: None,
                month: None,
                language: None,
                top: vec![("hit".into(), conf)],
                confidence: conf,
                auto: false,
                set: Vec::new(),
                not_a_request: None,
                latency_ms: 0.0,
            }
        })
        .collect();
    coverage::curve(&outcomes, target).threshold_at_target
}

/// Index and value of the largest probability.
pub fn argmax(p: &[f64]) -> (usize, f64) {
    p.iter().enumerate().fold(
        (0, f64::NEG_INFINITY),
        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
    )
}

/// A baseline's answer from its probabilities over `classes`: ranked best
/// first (ties by class order), the conformal set `p >= 1 - qhat`, and
/// auto-routed at or above `threshold`.
pub fn prediction(
    probs: &[f64],
    classes: &[String],
    qhat: f64,
    threshold: Option<f64>,
) -> crate::router::Prediction {
    let mut ranked: Vec<(usize, f64)> = probs.iter().copied().enumerate().collect();
    ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    let confidence = ranked.first().map_or(0.0, |r| r.1);
    let name = |i: usize| classes[i].clone();
    crate::router::Prediction {
        prediction_set: ranked
            .iter()
            .take_while(|r| r.1 >= 1.0 - qhat)
            .map(|r| name(r.0))
            .collect(),
        ranked: ranked
            .iter()
            .take(crate::outcome::KEPT_RANKS)
            .map(|r| (name(r.0), r.1))
            .collect(),
        confidence,
        auto: threshold.is_some_and(|t| confidence >= t),
        language: None,
        not_a_request: None,
    }
}

/// LAC conformal quantile: scores `1 - p(true)` (1 for an unseen class); the
/// `ceil((n + 1)(1 - alpha))`-th smallest, or 1 (every class) when that rank
/// exceeds n. The set of a new example is `{c : p_c >= 1 - qhat}`.
pub fn conformal_qhat(val: &[Scored], alpha: f64) -> f64 {
    let mut scores: Vec<f64> = val
        .iter()
        .map(|s| 1.0 - s.truth.map_or(0.0, |t| s.probs[t]))
        .collect();
    scores.sort_by(f64::total_cmp);
    let n = scores.len();
    let rank = ((n + 1) as f64 * (1.0 - alpha)).ceil() as usize;
    if n == 0 || rank > n {
        1.0
    } else {
        scores[rank.max(1) - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &[f64], t: Option<usize>) -> Scored {
        Scored {
            probs: p.to_vec(),
            truth: t,
        }
    }

    #[test]
    fn threshold_and_quantile_by_hand() {
        // Confidences .9 (right), .8 (right), .7 (wrong), .6 (right).
        let v = [
            s(&[0.9, 0.1], Some(0)),
            s(&[0.2, 0.8], Some(1)),
            s(&[0.7, 0.3], Some(1)),
            s(&[0.4, 0.6], Some(1)),
        ];
        // Precision at .8 = 1, at .7 = 2/3, at .6 = 3/4: target .9 -> .8; target .7 -> .6 (3/4 >= .7, more coverage).
        assert_eq!(auto_threshold(&v, 0.9), Some(0.8));
        assert_eq!(auto_threshold(&v, 0.7), Some(0.6));
        // Scores 1 - p(true): .1, .2, .7, .4 -> sorted .1 .2 .4 .7.
        // alpha .4: rank ceil(5 * .6) = 3 -> .4. alpha .1: rank ceil(4.5) = 5 > 4 -> 1.
        assert!((conformal_qhat(&v, 0.4) - 0.4).abs() < 1e-12);
        assert_eq!(conformal_qhat(&v, 0.1), 1.0);
        assert_eq!(
            conformal_qhat(&[s(&[1.0], None)], 0.9),
            1.0,
            "unseen class scores 1"
        );
    }
}
