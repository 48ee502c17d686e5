//! Per-department precision/recall/F1, macro-F1 and the confusion matrix.
//!
//! Departments are the union of true and predicted labels of the test set
//! (sklearn's convention): a department only predicted wrongly counts with F1
//! 0, one never seen in test nor predicted does not count.

use std::borrow::Borrow;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// Scores of one department.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DepartmentScore {
    /// Department name.
    pub department: String,
    /// Of the examples predicted as it, the share that are it (0 if none predicted).
    pub precision: f64,
    /// Of its examples, the share predicted as it (0 if no support).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 if both are 0).
    pub f1: f64,
    /// Test examples that truly belong to it.
    pub support: usize,
    /// Test examples predicted (first choice) as it.
    pub predicted: usize,
}

/// Per-department scores, by support descending then name.
pub fn per_department<O: Borrow<Outcome>>(outcomes: &[O]) -> Vec<DepartmentScore> {
    #[derive(Default)]
    struct C {
        tp: usize,
        support: usize,
        predicted: usize,
    }
    let mut counts: BTreeMap<&str, C> = BTreeMap::new();
    for o in outcomes.iter().map(Borrow::borrow) {
        counts.entry(&o.label).or_default().support += 1;
        if let Some(p) = o.predicted() {
            let c = counts.entry(p).or_default();
            c.predicted += 1;
            if p == o.label {
                c.tp += 1;
            }
        }
    }
    let mut out: Vec<DepartmentScore> = counts
        .into_iter()
        .map(|(d, c)| {
            let precision = super::ratio(c.tp, c.predicted);
            let recall = super::ratio(c.tp, c.support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            DepartmentScore {
                department: d.to_string(),
                precision,
                recall,
                f1,
                support: c.support,
                predicted: c.predicted,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.support
            .cmp(&a.support)
            .then_with(|| a.department.cmp(&b.department))
    });
    out
}

/// Unweighted mean of the departments' F1.
pub fn macro_f1(scores: &[DepartmentScore]) -> f64 {
    if scores.is_empty() {
        0.0
    } else {
        scores.iter().map(|s| s.f1).sum::<f64>() / scores.len() as f64
    }
}

/// Counts of (true, predicted) pairs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Confusion {
    /// Departments, by support descending then name (rows and columns).
    pub labels: Vec<String>,
    /// `matrix[i][j]`: examples of `labels[i]` predicted as `labels[j]`.
    pub matrix: Vec<Vec<usize>>,
    /// Examples the router ranked nothing for (no column).
    pub no_prediction: usize,
}

/// The confusion matrix, rows = truth, columns = first choice.
pub fn confusion(outcomes: &[Outcome]) -> Confusion {
    let labels: Vec<String> = per_department(outcomes)
        .into_iter()
        .map(|s| s.department)
        .collect();
    let index: BTreeMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut matrix = vec![vec![0usize; labels.len()]; labels.len()];
    let mut no_prediction = 0;
    for o in outcomes {
        match o.predicted() {
            Some(p) => matrix[index[o.label.as_str()]][index[p]] += 1,
            None => no_prediction += 1,
        }
    }
    Confusion {
        labels,
        matrix,
        no_prediction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn per_department_macro_f1_and_confusion_by_hand() {
        // First choices: A, B, B, B, C, C against truths A, A, B, C, C, B.
        // A: tp 1 (#1), predicted 1, support 2 -> P 1, R 1/2, F1 2/3.
        // B: tp 1 (#3), predicted 3 (#2 #3 #4), support 2 -> P 1/3, R 1/2, F1 0.4.
        // C: tp 1 (#5), predicted 2 (#5 #6), support 2 -> P 1/2, R 1/2, F1 1/2.
        // D is only ranked third: not a department here. Macro-F1 = (2/3 + 0.4 + 0.5) / 3.
        let s = per_department(&six());
        let names: Vec<&str> = s.iter().map(|d| d.department.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(s[0].precision, 1.0) && close(s[0].recall, 0.5) && close(s[0].f1, 2.0 / 3.0));
        assert!(close(s[1].precision, 1.0 / 3.0) && close(s[1].recall, 0.5) && close(s[1].f1, 0.4));
        assert!(close(s[2].f1, 0.5) && s[2].predicted == 2 && s[2].support == 2);
        assert!(close(macro_f1(&s), (2.0 / 3.0 + 0.4 + 0.5) / 3.0));
        let c = confusion(&six());
        assert_eq!(c.matrix, vec![vec![1, 1, 0], vec![0, 1, 1], vec![0, 1, 1]]);
        assert_eq!(c.no_prediction, 0);
    }
}
