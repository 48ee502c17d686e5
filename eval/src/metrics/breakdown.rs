//! Metrics per group (language, district): where the router is weak.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ratio;
use crate::outcome::Outcome;

/// Name of the group of examples without a key.
pub const UNKNOWN: &str = "unknown";

/// Metrics of one group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    /// Group key (`unknown` when missing).
    pub key: String,
    /// Examples.
    pub n: usize,
    /// Top-1 accuracy.
    pub top1: f64,
    /// Top-3 accuracy.
    pub top3: f64,
    /// Share routed automatically.
    pub auto_share: f64,
}

/// Groups by `key` and computes each group's metrics; largest group first.
pub fn by<'a>(outcomes: &'a [Outcome], key: impl Fn(&'a Outcome) -> Option<&'a str>) -> Vec<Group> {
    let mut groups: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        groups.entry(key(o).unwrap_or(UNKNOWN)).or_default().push(o);
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(k, v)| Group {
            key: k.to_string(),
            n: v.len(),
            top1: ratio(v.iter().filter(|o| o.hit_at(1)).count(), v.len()),
            top3: ratio(v.iter().filter(|o| o.hit_at(3)).count(), v.len()),
            auto_share: ratio(v.iter().filter(|o| o.auto).count(), v.len()),
        })
        .collect();
    out.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.key.cmp(&b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::fixture::six;

    #[test]
    fn language_and_district_groups_by_hand() {
        // ru: #1 R, #2 W, #3 R -> 2/3, auto 2/3; en: #4 W, #5 R -> 1/2; unknown: #6 W.
        let g = by(&six(), |o| o.language.as_deref());
        let keys: Vec<&str> = g.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["ru", "en", "unknown"]);
        assert!(
            (g[0].top1 - 2.0 / 3.0).abs() < 1e-12 && (g[0].auto_share - 2.0 / 3.0).abs() < 1e-12
        );
        assert_eq!((g[1].n, g[1].top1, g[1].top3), (2, 0.5, 1.0));
        assert_eq!((g[2].n, g[2].top1, g[2].top3), (1, 0.0, 0.0));
        // Y: #3 R, #5 R, #6 W -> 2/3; X: #1 R, #2 W -> 1/2; unknown: #4 W.
        let d = by(&six(), |o| o.district.as_deref());
        assert_eq!(
            d.iter().map(|g| (g.key.as_str(), g.n)).collect::<Vec<_>>(),
            [("Y", 3), ("X", 2), ("unknown", 1)]
        );
        assert!((d[0].top1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(d[1].top1, 0.5);
    }
}
