//! Families of local departments that do the same job in different districts.
//!
//! In a city like St Petersburg the competent body for a leaking roof is "the
//! housing agency of the appeal's district": eighteen departments, one per
//! district, with the same competence. A model that treats them as eighteen
//! unrelated classes learns "roof -> housing agency of Nevsky" from Nevsky's
//! cases only, and a neighbour from another district votes for the wrong
//! agency. Grouping them into a family — learned from history, never from
//! names — lets every district's cases teach the competence, and the appeal's
//! district then names the member: competence from the text, jurisdiction from
//! the place.
//!
//! A department joins a family when (1) nearly all of its confirmed cases come
//! from one district (it is local), (2) the family has no member for that
//! district yet, and (3) the centroid of its cases is close to the family's
//! (same kind of appeals). Departments that serve many districts stay alone.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::areas::AreaStats;

/// Prefix of family labels: a control character no department code carries.
const FAMILY_PREFIX: &str = "\u{1f}family/";

/// How families are learned.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleOptions {
    /// Confirmed cases a department needs before it can join a family.
    pub min_cases: u64,
    /// Share of a department's cases that must come from its home district.
    pub locality: f64,
    /// Mean cosine between a department's centroid and the family's members'.
    pub similarity: f32,
}

impl Default for RoleOptions {
    fn default() -> Self {
        Self {
            min_cases: 20,
            locality: 0.95,
            similarity: 0.9,
        }
    }
}

/// A department that serves essentially one district.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalDepartment<'a> {
    /// Department code.
    pub code: &'a str,
    /// Its home district.
    pub district: &'a str,
    /// Confirmed cases (orders the greedy grouping: big departments first).
    pub cases: u64,
    /// Normalised mean embedding of its confirmed cases.
    pub centroid: &'a [f32],
    /// The department whose centroid is nearest to this one's, if known:
    /// joining that department's family needs no absolute similarity (the
    /// scale of cosines differs between embedding models).
    pub nearest: Option<&'a str>,
}

/// One family: its members and their home districts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// `(department, home district, confirmed cases)`.
    pub members: Vec<(String, String, u64)>,
}

/// The learned families of a tenant (empty: every department stands alone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    families: Vec<Family>,
    #[serde(skip)]
    by_department: HashMap<String, usize>,
    #[serde(skip)]
    by_place: HashMap<(usize, String), String>,
}

impl Roles {
    /// Groups local departments into families (see the module docs).
    pub fn learn(locals: &[LocalDepartment<'_>], opts: &RoleOptions) -> Self {
        let mut order: Vec<&LocalDepartment<'_>> = locals
            .iter()
            .filter(|d| d.cases >= opts.min_cases)
            .collect();
        order.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.code.cmp(b.code)));
        let mut groups: Vec<Vec<&LocalDepartment<'_>>> = Vec::new();
        for d in order {
            let mut best: Option<(usize, f32)> = None;
            for (i, g) in groups.iter().enumerate() {
                if g.iter().any(|m| m.district == d.district) {
                    continue;
                }
                let mean =
                    g.iter().map(|m| dot(m.centroid, d.centroid)).sum::<f32>() / g.len() as f32;
                if best.is_none_or(|(_, s)| mean > s) {
                    best = Some((i, mean));
                }
            }
            match best {
                Some((i, s))
                    if s >= opts.similarity
                        || groups[i].iter().any(|m| Some(m.code) == d.nearest) =>
                {
                    groups[i].push(d)
                }
                _ => groups.push(vec![d]),
            }
        }
        let families = groups
            .into_iter()
            .filter(|g| g.len() >= 2)
            .map(|g| Family {
                members: g
                    .iter()
                    .map(|m| (m.code.to_string(), m.district.to_string(), m.cases))
                    .collect(),
            })
            .collect();
        Self::from_families(families)
    }

    /// Learns families from confirmed history: the area counts name each
    /// department's home district and size, `centroids` its kind of appeals.
    pub fn learn_from_history(
        areas: &AreaStats,
        centroids: &HashMap<String, Vec<f32>>,
        opts: &RoleOptions,
    ) -> Self {
        let sized: Vec<(&String, &Vec<f32>)> = centroids
            .iter()
            .filter(|(code, _)| areas.department_total(code) >= opts.min_cases)
            .collect();
        let nearest = |code: &str, c: &[f32]| -> Option<String> {
            sized
                .iter()
                .filter(|(other, _)| other.as_str() != code)
                .max_by(|a, b| dot(a.1, c).total_cmp(&dot(b.1, c)))
                .map(|(other, _)| (*other).clone())
        };
        // (code, home district, cases, centroid, nearest department)
        type Home<'a> = (&'a str, String, u64, &'a [f32], Option<String>);
        let homes: Vec<Home<'_>> = centroids
            .iter()
            .filter_map(|(code, c)| {
                let total = areas.department_total(code);
                let (home, n) = areas.districts_of(code).into_iter().next()?;
                (total > 0 && n as f64 >= opts.locality * total as f64)
                    .then(|| (code.as_str(), home, total, c.as_slice(), nearest(code, c)))
            })
            .collect();
        let locals: Vec<LocalDepartment<'_>> = homes
            .iter()
            .map(|(code, home, cases, centroid, nearest)| LocalDepartment {
                code,
                district: home,
                cases: *cases,
                centroid,
                nearest: nearest.as_deref(),
            })
            .collect();
        Self::learn(&locals, opts)
    }

    /// Rebuilds the look-up tables (after deserialising).
    pub fn from_families(families: Vec<Family>) -> Self {
        let mut by_department = HashMap::new();
        let mut by_place = HashMap::new();
        for (i, f) in families.iter().enumerate() {
            for (code, district, _) in &f.members {
                by_department.insert(code.clone(), i);
                by_place.insert((i, district.clone()), code.clone());
            }
        }
        Self {
            families,
            by_department,
            by_place,
        }
    }

    /// The learned families.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// What a model learns for a department: its family's label, or the code itself.
    pub fn label(&self, department: &str) -> String {
        match self.by_department.get(department) {
            Some(i) => format!("{FAMILY_PREFIX}{i}"),
            None => department.to_string(),
        }
    }

    /// The family a label stands for, if it is a family label.
    fn family_of_label(&self, label: &str) -> Option<usize> {
        label
            .strip_prefix(FAMILY_PREFIX)
            .and_then(|i| i.parse().ok())
            .filter(|&i| i < self.families.len())
    }

    /// The department that does `department`'s job in `district`: itself when it
    /// stands alone or its family has no member there.
    pub fn translate<'a>(&'a self, department: &'a str, district: Option<&str>) -> &'a str {
        let (Some(&family), Some(district)) = (self.by_department.get(department), district) else {
            return department;
        };
        self.by_place
            .get(&(family, district.to_string()))
            .map_or(department, String::as_str)
    }

    /// The share of a label's probability that goes to `department` for an
    /// appeal from `district`: 1 for a lone department's own label; for a
    /// family, all of it to the member serving the district, or (district
    /// unknown or not served by the family) split by the members' case counts.
    pub fn share(&self, label: &str, department: &str, district: Option<&str>) -> f64 {
        let Some(family) = self.family_of_label(label) else {
            return if label == department { 1.0 } else { 0.0 };
        };
        if self.by_department.get(department) != Some(&family) {
            return 0.0;
        }
        if let Some(member) = district.and_then(|d| self.by_place.get(&(family, d.to_string()))) {
            return if member == department { 1.0 } else { 0.0 };
        }
        let members = &self.families[family].members;
        let total: u64 = members.iter().map(|m| m.2).sum();
        members
            .iter()
            .find(|m| m.0 == department)
            .map_or(0.0, |m| m.2 as f64 / total.max(1) as f64)
    }

    /// Restores the look-up tables of a deserialised value.
    pub fn reindexed(self) -> Self {
        Self::from_families(self.families)
    }
}

/// Normalised mean vector per label, e.g. per department.
pub fn centroids<'a>(
    cases: impl IntoIterator<Item = (&'a str, &'a [f32])>,
) -> HashMap<String, Vec<f32>> {
    let mut sums: HashMap<String, Vec<f32>> = HashMap::new();
    for (label, v) in cases {
        let s = sums
            .entry(label.to_string())
            .or_insert_with(|| vec![0.0; v.len()]);
        if s.len() == v.len() {
            s.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        }
    }
    for s in sums.values_mut() {
        let n = s.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            s.iter_mut().for_each(|x| *x /= n);
        }
    }
    sums
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn same_job_in_different_districts_forms_a_family() {
        let housing = unit(&[1.0, 0.1, 0.0]);
        let housing2 = unit(&[1.0, 0.12, 0.02]);
        let admin = unit(&[0.0, 1.0, 0.2]);
        let admin2 = unit(&[0.05, 1.0, 0.2]);
        let locals = [
            LocalDepartment {
                code: "housing-n",
                district: "North",
                cases: 100,
                centroid: &housing,
                nearest: None,
            },
            LocalDepartment {
                code: "housing-s",
                district: "South",
                cases: 90,
                centroid: &housing2,
                nearest: None,
            },
            LocalDepartment {
                code: "admin-n",
                district: "North",
                cases: 50,
                centroid: &admin,
                nearest: None,
            },
            LocalDepartment {
                code: "admin-s",
                district: "South",
                cases: 40,
                centroid: &admin2,
                nearest: None,
            },
            LocalDepartment {
                code: "tiny",
                district: "East",
                cases: 3,
                centroid: &housing,
                nearest: None,
            },
        ];
        let roles = Roles::learn(&locals, &RoleOptions::default());
        assert_eq!(roles.families().len(), 2);
        assert_eq!(roles.label("housing-n"), roles.label("housing-s"));
        assert_ne!(roles.label("housing-n"), roles.label("admin-n"));
        // Too few cases: stands alone.
        assert_eq!(roles.label("tiny"), "tiny");
        assert_eq!(roles.translate("housing-n", Some("South")), "housing-s");
        assert_eq!(roles.translate("housing-n", Some("West")), "housing-n");
        assert_eq!(roles.translate("housing-n", None), "housing-n");
        assert_eq!(roles.translate("city-roads", Some("South")), "city-roads");

        let label = roles.label("housing-n");
        assert_eq!(roles.share(&label, "housing-s", Some("South")), 1.0);
        assert_eq!(roles.share(&label, "housing-n", Some("South")), 0.0);
        assert_eq!(roles.share(&label, "admin-s", Some("South")), 0.0);
        let split = roles.share(&label, "housing-n", None);
        assert!((split - 100.0 / 190.0).abs() < 1e-9, "{split}");
        assert_eq!(roles.share("city-roads", "city-roads", Some("South")), 1.0);
        assert_eq!(roles.share("city-roads", "housing-s", Some("South")), 0.0);

        let json = serde_json::to_string(&roles).unwrap();
        let back: Roles = serde_json::from_str::<Roles>(&json).unwrap().reindexed();
        assert_eq!(back, roles);
    }

    #[test]
    fn dissimilar_local_departments_stay_alone() {
        let a = unit(&[1.0, 0.0]);
        let b = unit(&[0.0, 1.0]);
        let locals = [
            LocalDepartment {
                code: "a",
                district: "North",
                cases: 100,
                centroid: &a,
                nearest: None,
            },
            LocalDepartment {
                code: "b",
                district: "South",
                cases: 100,
                centroid: &b,
                nearest: None,
            },
        ];
        let roles = Roles::learn(&locals, &RoleOptions::default());
        assert!(roles.families().is_empty());
        assert_eq!(roles.translate("a", Some("South")), "a");
    }
}
