//! Votes of the nearest confirmed past cases.

use std::collections::HashMap;

use super::decay::halved;

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
    weighted_votes(neighbours, temperature, |_| 1.0)
}

/// [`votes`] with each case's vote halved for every `half_life_days` it is
/// older than the newest case; a half-life of 0 is the plain vote.
///
/// Who handles a building changes: in Kyiv the same-spot, same-category rule
/// was right 82% of the time inside a period and far less in the months
/// after, and weighing recent cases above old ones helped that rule in every
/// month measured (docs/routing.md). The newest case keeps its full vote:
/// how old the whole evidence is did not predict whether it was right, so
/// age reorders the votes without thinning them.
pub fn aged_votes(
    neighbours: &[Neighbour],
    temperature: f64,
    half_life_days: f64,
) -> HashMap<&str, f64> {
    if half_life_days <= 0.0 {
        return votes(neighbours, temperature);
    }
    let newest = neighbours.iter().map(|n| n.received_at).max().unwrap_or(0);
    weighted_votes(neighbours, temperature, |n| {
        halved(newest - n.received_at, half_life_days)
    })
}

fn weighted_votes(
    neighbours: &[Neighbour],
    temperature: f64,
    weight: impl Fn(&Neighbour) -> f64,
) -> HashMap<&str, f64> {
    let mut out: HashMap<&str, f64> = HashMap::new();
    let best = neighbours
        .iter()
        .map(|n| n.similarity as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    for n in neighbours {
        let w = ((n.similarity as f64 - best) / temperature).exp() * weight(n);
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

    #[test]
    fn recent_cases_at_a_spot_outweigh_older_ones() {
        let day = 86_400_000;
        let mut old = n(1, "old", 0.9);
        old.received_at = 0;
        let mut old2 = n(2, "old", 0.9);
        old2.received_at = day;
        let mut new = n(3, "new", 0.9);
        new.received_at = 200 * day;
        let ns = [old, old2, new];
        let flat = votes(&ns, 0.05);
        assert!(
            flat["old"] > flat["new"],
            "two old cases outvote one without ages"
        );
        let aged = aged_votes(&ns, 0.05, 90.0);
        assert!(aged["new"] > aged["old"], "{aged:?}");
        assert!(
            (aged["new"] - 1.0).abs() < 1e-9,
            "the newest keeps its full vote"
        );
        // A half-life of 0 is the plain vote.
        assert_eq!(aged_votes(&ns, 0.05, 0.0), flat);
    }
}
