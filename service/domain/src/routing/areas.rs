//! Which departments serve which districts.
//!
//! Learned from confirmed history (how often each department handled appeals
//! from each district) unless the catalogue declares a department's areas. The
//! routing question "is this department competent *here*?" is answered by
//! `P(district | department)`, smoothed towards the overall district mix so a
//! city-wide department is neutral and a district agency is all but excluded
//! elsewhere.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Counts of confirmed cases per (department, district).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AreaStats {
    by_department: HashMap<String, HashMap<String, u64>>,
    department_totals: HashMap<String, u64>,
    district_totals: HashMap<String, u64>,
    total: u64,
}

impl AreaStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one confirmed case (call again with `remove` when a decision is reversed).
    pub fn add(&mut self, department: &str, district: Option<&str>) {
        self.add_n(department, district, 1);
    }

    /// Counts `n` confirmed cases of one department in one district.
    pub fn add_n(&mut self, department: &str, district: Option<&str>, n: u64) {
        let Some(district) = district.filter(|d| !d.is_empty()) else {
            return;
        };
        *self
            .by_department
            .entry(department.to_string())
            .or_default()
            .entry(district.to_string())
            .or_default() += n;
        *self
            .department_totals
            .entry(department.to_string())
            .or_default() += n;
        *self
            .district_totals
            .entry(district.to_string())
            .or_default() += n;
        self.total += n;
    }

    /// Un-counts one case (a decision that was overridden).
    pub fn remove(&mut self, department: &str, district: Option<&str>) {
        let Some(district) = district.filter(|d| !d.is_empty()) else {
            return;
        };
        let Some(per) = self.by_department.get_mut(department) else {
            return;
        };
        let Some(c) = per.get_mut(district).filter(|c| **c > 0) else {
            return;
        };
        *c -= 1;
        for map in [&mut self.department_totals] {
            if let Some(t) = map.get_mut(department) {
                *t = t.saturating_sub(1);
            }
        }
        if let Some(t) = self.district_totals.get_mut(district) {
            *t = t.saturating_sub(1);
        }
        self.total = self.total.saturating_sub(1);
    }

    /// Confirmed cases of a department with a known district.
    pub fn department_total(&self, department: &str) -> u64 {
        self.department_totals.get(department).copied().unwrap_or(0)
    }

    /// Whether any confirmed case came from `district`.
    pub fn knows_district(&self, district: &str) -> bool {
        self.district_totals.get(district).is_some_and(|n| *n > 0)
    }

    /// Overall share of appeals from `district` (add-one smoothed).
    pub fn district_prior(&self, district: &str) -> f64 {
        let n = self.district_totals.get(district).copied().unwrap_or(0) as f64;
        let k = self.district_totals.len().max(1) as f64;
        (n + 1.0) / (self.total as f64 + k + 1.0)
    }

    /// `P(district | department)` smoothed with `strength` pseudo-cases spread as
    /// the overall district mix. `None` when the department has no located cases
    /// (the caller then treats it as serving everywhere).
    pub fn likelihood(&self, department: &str, district: &str, strength: f64) -> Option<f64> {
        let total = self.department_total(department);
        if total == 0 {
            return None;
        }
        let n = self
            .by_department
            .get(department)
            .and_then(|m| m.get(district))
            .copied()
            .unwrap_or(0) as f64;
        Some((n + strength * self.district_prior(district)) / (total as f64 + strength))
    }

    /// True when `department` is local to another district than `district`:
    /// at least `share` of its `min_cases` or more located cases come from one
    /// district, and that is not `district`.
    pub fn is_local_elsewhere(
        &self,
        department: &str,
        district: &str,
        share: f64,
        min_cases: u64,
    ) -> bool {
        let total = self.department_total(department);
        if total < min_cases {
            return false;
        }
        let Some(counts) = self.by_department.get(department) else {
            return false;
        };
        counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .is_some_and(|(home, n)| home != district && *n as f64 >= share * total as f64)
    }

    /// Districts a department served, most frequent first, with their counts.
    pub fn districts_of(&self, department: &str) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .by_department
            .get(department)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn district_agency_is_unlikely_elsewhere_city_service_is_neutral() {
        let mut s = AreaStats::new();
        for _ in 0..100 {
            s.add("housing-a", Some("A"));
            s.add("city", Some("A"));
            s.add("city", Some("B"));
            s.add("housing-b", Some("B"));
        }
        let here = s.likelihood("housing-a", "A", 1.0).unwrap();
        let there = s.likelihood("housing-a", "B", 1.0).unwrap();
        assert!(here > 0.98 && there < 0.01, "{here} {there}");
        let city = s.likelihood("city", "B", 1.0).unwrap();
        assert!((city - 0.5).abs() < 0.01, "{city}");
        assert_eq!(s.likelihood("unknown", "A", 1.0), None);
    }

    #[test]
    fn remove_undoes_add() {
        let mut s = AreaStats::new();
        s.add("x", Some("A"));
        s.add("x", Some("A"));
        s.remove("x", Some("A"));
        assert_eq!(s.department_total("x"), 1);
        s.remove("x", Some("Z"));
        assert_eq!(s.department_total("x"), 1);
        s.add("x", None);
        assert_eq!(s.department_total("x"), 1);
    }
}
