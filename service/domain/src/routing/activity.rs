//! How busy each department has been lately, against its whole history.
//!
//! Departments are renamed, merged and replaced, and who serves a building
//! changes: in Kyiv one housing office's appeals went to a successor with a
//! new name from one month to the next, and every signal built on counts over
//! the whole history kept naming the old one with high confidence. A
//! department that took none of the last weeks' confirmed cases though it
//! used to take many is probably gone; one that took many lately though it
//! had few before is probably its successor. This signal is that ratio: each
//! department's time-decayed count of confirmed cases over its all-time
//! count. With supervisors' decisions arriving it learns a succession within
//! days; the rest of the signals learn it only at the next refit, and then
//! still outvoted by the old name's history.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::decay::halved;

/// Pseudo-cases each department borrows at the tenant's average pace, so a
/// department seen once is not "all recent" and one never seen is steady.
const PRIOR_CASES: f64 = 0.5;

/// Decayed and all-time counts of confirmed cases per department.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Days after which a case counts half (0: the signal is off).
    pub half_life_days: f64,
    /// Time the decayed counts are as of (unix ms).
    at: i64,
    /// Per department: (decayed count as of `at`, all-time count).
    counts: HashMap<String, (f64, f64)>,
}

impl Activity {
    /// Empty counts decaying with this half-life (days; 0 turns it off).
    pub fn new(half_life_days: f64) -> Self {
        Self {
            half_life_days: half_life_days.max(0.0),
            ..Self::default()
        }
    }

    /// Counts a confirmed case of `department` received at `t` (unix ms); a
    /// case older than the newest one seen counts as decayed as it is now.
    pub fn add(&mut self, department: &str, t: i64) {
        self.add_n(department, t, 1.0);
    }

    /// Un-counts a case (rerouted, or replaced by a correction).
    pub fn remove(&mut self, department: &str, t: i64) {
        self.add_n(department, t, -1.0);
    }

    fn add_n(&mut self, department: &str, t: i64, n: f64) {
        if self.half_life_days <= 0.0 {
            return;
        }
        if t > self.at {
            let f = halved(t - self.at, self.half_life_days);
            self.counts.values_mut().for_each(|c| c.0 *= f);
            self.at = t;
        }
        let w = n * halved(self.at - t, self.half_life_days);
        let c = self.counts.entry(department.to_string()).or_default();
        c.0 = (c.0 + w).max(0.0);
        c.1 = (c.1 + n).max(0.0);
    }

    /// `P(candidate)` in proportion to its recent share over its all-time
    /// share (the tenant's average pace for a department never seen); `None`
    /// when off or with nothing counted.
    pub fn probs(&self, candidates: &[String]) -> Option<Vec<f64>> {
        let (recent_total, all_total) = self
            .counts
            .values()
            .fold((0.0, 0.0), |(r, a), c| (r + c.0, a + c.1));
        if self.half_life_days <= 0.0 || all_total <= 0.0 || candidates.is_empty() {
            return None;
        }
        let pace = recent_total / all_total;
        let mut out: Vec<f64> = candidates
            .iter()
            .map(|c| {
                let (recent, all) = self.counts.get(c).copied().unwrap_or((0.0, 0.0));
                (recent + PRIOR_CASES * pace) / (all + PRIOR_CASES)
            })
            .collect();
        let s: f64 = out.iter().sum();
        if s <= 0.0 {
            return None;
        }
        out.iter_mut().for_each(|x| *x /= s);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_successor_rises_and_the_department_it_replaced_falls() {
        let mut a = Activity::new(14.0);
        // A year of steady work: "old" and "other" each take a case a day.
        for d in 0..365 {
            a.add("old", d * DAY);
            a.add("other", d * DAY);
        }
        let c = ["old".to_string(), "other".to_string(), "new".to_string()];
        let p = a.probs(&c).unwrap();
        assert!(
            (p[0] - p[1]).abs() < 1e-9,
            "steady departments are even: {p:?}"
        );
        assert!(
            (p[2] - p[1]).abs() / p[1] < 0.05,
            "unknown is steady: {p:?}"
        );
        // Then "new" takes over "old"'s cases for three weeks.
        for d in 365..386 {
            a.add("new", d * DAY);
            a.add("other", d * DAY);
        }
        let p = a.probs(&c).unwrap();
        assert!(p[2] > 2.0 * p[1], "the successor leads: {p:?}");
        assert!(p[0] < p[1] / 2.0, "the replaced one falls: {p:?}");
        // A case counted late (received earlier than the newest) decays as old.
        let mut late = a.clone();
        late.add("old", 300 * DAY);
        let q = late.probs(&c).unwrap();
        assert!(q[0] < p[0] * 1.2, "{q:?} {p:?}");
        // Removing what was added restores the counts.
        late.remove("old", 300 * DAY);
        let r = late.probs(&c).unwrap();
        assert!((r[0] - p[0]).abs() < 1e-9);
    }

    #[test]
    fn off_or_empty_says_nothing() {
        let c = ["a".to_string()];
        assert!(Activity::new(14.0).probs(&c).is_none());
        let mut off = Activity::new(0.0);
        off.add("a", 0);
        assert!(off.probs(&c).is_none());
    }
}
