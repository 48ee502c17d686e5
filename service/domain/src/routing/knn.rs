//! Votes of the nearest confirmed past cases.

use std::collections::HashMap;

/// A confirmed past case near the new appeal, as the case memory returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    /// Appeal id in the system of record.
    pub id: i64,
    /// Its confirmed department.
    pub department: String,
    /// Its district, if known.
    pub district: Option<String>,
    /// Cosine similarity to the new appeal.
    pub similarity: f32,
    /// When it was received, unix ms.
    pub received_at: i64,
    /// Its department was set by a supervisor's decision in this system (a
    /// confirmation or a correction), not imported with the history.
    pub decided: bool,
}

/// Similarity-weighted votes per department: `sum exp((s - s_max) / temperature)`.
///
/// Weights are relative to the best neighbour, so a near-identical confirmed case
/// (a correction just made) outweighs a crowd of loosely similar ones.
pub fn votes(neighbours: &[Neighbour], temperature: f64) -> HashMap<&str, f64> {
    let mut out: HashMap<&str, f64> = HashMap::new();
    let best = neighbours
        .iter()
        .map(|n| n.similarity as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    for n in neighbours {
        let w = ((n.similarity as f64 - best) / temperature).exp();
        *out.entry(n.department.as_str()).or_default() += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: i64, d: &str, s: f32) -> Neighbour {
        Neighbour {
            id,
            department: d.into(),
            district: None,
            similarity: s,
            received_at: 0,
            decided: false,
        }
    }

    #[test]
    fn a_close_case_outweighs_several_loose_ones() {
        let ns = [
            n(1, "a", 0.97),
            n(2, "b", 0.90),
            n(3, "b", 0.90),
            n(4, "b", 0.89),
        ];
        let v = votes(&ns, 0.02);
        assert!(v["a"] > v["b"], "{v:?}");
        assert!((v["a"] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn empty_neighbours_give_no_votes() {
        assert!(votes(&[], 0.05).is_empty());
    }
}
