//! The portal's category as evidence: `P(department | category path, district)`.
//!
//! Every real portal asks the citizen to pick a category ("Благоустройство >
//! Мусор", an Open311 `service_code`), and on St Petersburg's later months the
//! majority department per (sub-category, district) alone beats a text model
//! by more than ten points. The category is a path from general to specific;
//! a context deep in the tree or crossed with a district has few cases, so each
//! level is smoothed toward the one above it (a hierarchical Dirichlet
//! back-off):
//!
//! `P_l(d) = (n_l(d) + s * P_{l-1}(d)) / (N_l + s)`, from the tenant's overall
//! department shares up to the deepest level of the path the history knows,
//! then once more for that level crossed with the district.
//!
//! Citizens pick wrong categories; the signal is one expert among the others
//! with a learned weight, so clear text still wins over a wrong pick (see the
//! scorer's tests).

use std::collections::HashMap;

/// Counts of confirmed cases per category context and department.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryStats {
    /// Context key -> department -> cases.
    counts: HashMap<String, HashMap<String, f64>>,
    /// Context key -> cases.
    totals: HashMap<String, f64>,
}

/// Separates the levels of a path inside a context key (never in a level:
/// control characters are dropped from input text).
const LEVEL_SEP: char = '\u{1f}';
/// Separates the path from the district inside a context key.
const DISTRICT_SEP: char = '\u{1e}';

/// Key of the first `depth` levels of `path` (depth 0: every case).
fn key(path: &[String], depth: usize) -> String {
    let mut k = String::new();
    for (i, level) in path.iter().take(depth).enumerate() {
        if i > 0 {
            k.push(LEVEL_SEP);
        }
        k.push_str(&normalise(level));
    }
    k
}

/// A level as compared: trimmed and lower-cased (portals change case).
pub fn normalise(level: &str) -> String {
    level.trim().to_lowercase()
}

fn with_district(key: &str, district: &str) -> String {
    format!("{key}{DISTRICT_SEP}{district}")
}

/// What the category said of the candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryEstimate {
    /// Probability per candidate.
    pub probs: Vec<f64>,
    /// Levels of the path the history knew (1..=path length).
    pub known_levels: usize,
    /// Whether the district crossing of the deepest known level was known.
    pub district_known: bool,
}

impl CategoryStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context keys a case with this path and district counts in.
    fn keys(path: &[String], district: Option<&str>) -> Vec<String> {
        let district = district.filter(|d| !d.is_empty());
        let mut out = vec![String::new()];
        for depth in 1..=path.len() {
            let k = key(path, depth);
            if let Some(d) = district {
                out.push(with_district(&k, d));
            }
            out.push(k);
        }
        out
    }

    /// Adds `n` confirmed cases of `department` with this category path (the
    /// overall shares count every case, with or without a category).
    pub fn add_n(&mut self, department: &str, path: &[String], district: Option<&str>, n: f64) {
        for k in Self::keys(path, district) {
            *self
                .counts
                .entry(k.clone())
                .or_default()
                .entry(department.to_string())
                .or_default() += n;
            *self.totals.entry(k).or_default() += n;
        }
    }

    /// Adds one confirmed case.
    pub fn add(&mut self, department: &str, path: &[String], district: Option<&str>) {
        self.add_n(department, path, district, 1.0);
    }

    /// Removes one confirmed case (a correction replaced it, or it was rerouted).
    pub fn remove(&mut self, department: &str, path: &[String], district: Option<&str>) {
        for k in Self::keys(path, district) {
            if let Some(c) = self.counts.get_mut(&k).and_then(|m| m.get_mut(department)) {
                *c = (*c - 1.0).max(0.0);
            }
            if let Some(t) = self.totals.get_mut(&k) {
                *t = (*t - 1.0).max(0.0);
            }
        }
    }

    /// Whether any case had a category at all.
    pub fn is_empty(&self) -> bool {
        self.totals.len() <= 1
    }

    /// `P(candidate | path, district)` with back-off (`strength`: pseudo-cases
    /// drawn from the level above). `None` when the path is empty or its first
    /// level was never seen: an unseen category says nothing.
    pub fn estimate(
        &self,
        path: &[String],
        district: Option<&str>,
        candidates: &[String],
        strength: f64,
    ) -> Option<CategoryEstimate> {
        if path.is_empty() || candidates.is_empty() {
            return None;
        }
        let n = candidates.len() as f64;
        let empty = HashMap::new();
        let level = |k: &str| -> Option<(&HashMap<String, f64>, f64)> {
            let total = self.totals.get(k).copied().unwrap_or(0.0);
            (total > 0.0).then(|| (self.counts.get(k).unwrap_or(&empty), total))
        };
        // Overall shares, with one pseudo-case spread over the candidates.
        let (all, total) = level("").unwrap_or((&empty, 0.0));
        let mut p: Vec<f64> = candidates
            .iter()
            .map(|c| (all.get(c).copied().unwrap_or(0.0) + 1.0 / n) / (total + 1.0))
            .collect();
        let mut refine = |counts: &HashMap<String, f64>, total: f64| {
            for (q, c) in p.iter_mut().zip(candidates) {
                *q = (counts.get(c).copied().unwrap_or(0.0) + strength * *q) / (total + strength);
            }
        };
        let mut known_levels = 0;
        let mut deepest = String::new();
        for depth in 1..=path.len() {
            let k = key(path, depth);
            let Some((counts, total)) = level(&k) else {
                break;
            };
            refine(counts, total);
            known_levels = depth;
            deepest = k;
        }
        if known_levels == 0 {
            return None;
        }
        let mut district_known = false;
        if let Some(d) = district.filter(|d| !d.is_empty()) {
            if let Some((counts, total)) = level(&with_district(&deepest, d)) {
                refine(counts, total);
                district_known = true;
            }
        }
        let s: f64 = p.iter().sum();
        if s > 0.0 {
            p.iter_mut().for_each(|q| *q /= s);
        }
        Some(CategoryEstimate {
            probs: p,
            known_levels,
            district_known,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn cands() -> Vec<String> {
        path(&["housing-a", "housing-b", "roads"])
    }

    fn stats() -> CategoryStats {
        let mut s = CategoryStats::new();
        for _ in 0..30 {
            s.add("roads", &path(&["Roads", "Potholes"]), Some("A"));
            s.add("housing-a", &path(&["Housing", "Leaks"]), Some("A"));
            s.add("housing-b", &path(&["Housing", "Leaks"]), Some("B"));
        }
        for _ in 0..5 {
            s.add("roads", &path(&["Housing", "Yard"]), Some("A"));
        }
        s
    }

    fn best(e: &CategoryEstimate) -> usize {
        (0..e.probs.len())
            .max_by(|&a, &b| e.probs[a].total_cmp(&e.probs[b]))
            .unwrap()
    }

    #[test]
    fn the_category_and_district_name_the_department() {
        let s = stats();
        let e = s
            .estimate(&path(&["housing", "LEAKS "]), Some("B"), &cands(), 2.0)
            .unwrap();
        assert_eq!(cands()[best(&e)], "housing-b");
        assert!(e.probs[1] > 0.8, "{e:?}");
        assert_eq!((e.known_levels, e.district_known), (2, true));
        assert!((e.probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // Without the district the two housing agencies share the category.
        let e = s
            .estimate(&path(&["Housing", "Leaks"]), None, &cands(), 2.0)
            .unwrap();
        assert!((e.probs[0] - e.probs[1]).abs() < 1e-9);
        assert!(e.probs[2] < 0.1);
    }

    #[test]
    fn an_unseen_sub_category_backs_off_to_its_parent_and_an_unseen_root_says_nothing() {
        let s = stats();
        let e = s
            .estimate(&path(&["Roads", "Never seen"]), Some("A"), &cands(), 2.0)
            .unwrap();
        assert_eq!(e.known_levels, 1);
        assert_eq!(cands()[best(&e)], "roads");
        assert!(s
            .estimate(&path(&["Unknown"]), Some("A"), &cands(), 2.0)
            .is_none());
        assert!(s.estimate(&[], Some("A"), &cands(), 2.0).is_none());
    }

    #[test]
    fn removing_a_case_undoes_adding_it() {
        let mut s = stats();
        let before = s.clone();
        s.add("roads", &path(&["Housing", "Leaks"]), Some("B"));
        assert_ne!(s, before);
        s.remove("roads", &path(&["Housing", "Leaks"]), Some("B"));
        let e1 = s.estimate(&path(&["Housing", "Leaks"]), Some("B"), &cands(), 2.0);
        let e2 = before.estimate(&path(&["Housing", "Leaks"]), Some("B"), &cands(), 2.0);
        assert_eq!(e1, e2);
    }
}
