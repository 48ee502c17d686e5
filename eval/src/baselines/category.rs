//! `category_lookup`: what a portal could do without us. The majority
//! department of the most specific context seen in train, from (category
//! path, district) down to the path's parents, then the district alone, then
//! every case. Its probabilities are that context's department shares, mixed
//! with `smoothing` pseudo-cases of the next broader context; the smoothing
//! is chosen on the validation slice like the TF-IDF baselines' C.

use std::collections::HashMap;

use serde_json::json;

use super::calibrate::{self, Scored};
use super::{time_ordered, validation_cut, BaselineConfig};
use crate::router::{LabelledAppeal, Prediction, Router};

/// Pseudo-case counts tried on the validation slice.
const SMOOTHING_GRID: [f64; 4] = [0.0, 0.5, 2.0, 8.0];

/// Counts per context.
#[derive(Default)]
struct Table {
    counts: HashMap<String, HashMap<String, f64>>,
    classes: Vec<String>,
}

/// The contexts of a row, most specific first: (path, district) and path for
/// each level from the deepest, then the district, then everything.
fn contexts(r: &LabelledAppeal) -> Vec<String> {
    let mut out = Vec::new();
    let levels: Vec<String> = r.category.iter().map(|l| l.to_lowercase()).collect();
    for depth in (1..=levels.len()).rev() {
        let path = levels[..depth].join("\u{1f}");
        if let Some(d) = &r.district {
            out.push(format!("p{path}\u{1e}{d}"));
        }
        out.push(format!("p{path}"));
    }
    if let Some(d) = &r.district {
        out.push(format!("d{d}"));
    }
    out.push(String::new());
    out
}

impl Table {
    fn fit(rows: &[&LabelledAppeal]) -> Table {
        let mut t = Table::default();
        let mut classes = std::collections::BTreeSet::new();
        for r in rows {
            classes.insert(r.label.clone());
            for c in contexts(r) {
                *t.counts
                    .entry(c)
                    .or_default()
                    .entry(r.label.clone())
                    .or_default() += 1.0;
            }
        }
        t.classes = classes.into_iter().collect();
        t
    }

    /// Probabilities over `classes`: from the broadest context to the most
    /// specific one seen, each level mixed with `s` pseudo-cases of the one
    /// before it.
    fn probs(&self, r: &LabelledAppeal, s: f64) -> Vec<f64> {
        let n = self.classes.len().max(1) as f64;
        let mut p = vec![1.0 / n; self.classes.len()];
        let known: Vec<&HashMap<String, f64>> = contexts(r)
            .iter()
            .rev()
            .filter_map(|c| self.counts.get(c))
            .collect();
        for (i, counts) in known.iter().enumerate() {
            let total: f64 = counts.values().sum();
            // The broadest context gets one pseudo-case spread evenly.
            let s = if i == 0 { 1.0 } else { s };
            for (q, c) in p.iter_mut().zip(&self.classes) {
                *q = (counts.get(c).copied().unwrap_or(0.0) + s * *q) / (total + s);
            }
        }
        p
    }
}

/// The category lookup baseline.
pub struct CategoryLookup {
    cfg: BaselineConfig,
    table: Table,
    smoothing: f64,
    threshold: Option<f64>,
    qhat: f64,
    grid: Vec<serde_json::Value>,
}

impl CategoryLookup {
    /// An unfitted router.
    pub fn new(cfg: BaselineConfig) -> CategoryLookup {
        CategoryLookup {
            cfg,
            table: Table::default(),
            smoothing: 0.0,
            threshold: None,
            qhat: 1.0,
            grid: Vec::new(),
        }
    }
}

fn argmax(p: &[f64]) -> Option<usize> {
    (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]))
}

impl Router for CategoryLookup {
    fn name(&self) -> String {
        "category_lookup".into()
    }

    fn fit(&mut self, train: &[LabelledAppeal]) -> anyhow::Result<()> {
        let train = time_ordered(train);
        let cut = validation_cut(train.len(), self.cfg.validation_fraction);
        let sub = Table::fit(&train[..cut]);
        let mut best: Option<(f64, f64, Vec<Scored>)> = None;
        self.grid.clear();
        for s in SMOOTHING_GRID {
            let scored: Vec<Scored> = train[cut..]
                .iter()
                .map(|r| Scored {
                    probs: sub.probs(r, s),
                    truth: sub.classes.binary_search(&r.label).ok(),
                })
                .collect();
            let hits = scored
                .iter()
                .filter(|x| x.truth.is_some() && x.truth == argmax(&x.probs))
                .count();
            let top1 = hits as f64 / scored.len().max(1) as f64;
            self.grid
                .push(json!({"smoothing": s, "validation_top1": top1}));
            if best.as_ref().is_none_or(|b| top1 > b.1) {
                best = Some((s, top1, scored));
            }
        }
        let (s, _, scored) = best.ok_or_else(|| anyhow::anyhow!("empty smoothing grid"))?;
        self.smoothing = s;
        self.threshold = calibrate::auto_threshold(&scored, self.cfg.target_precision);
        self.qhat = calibrate::conformal_qhat(&scored, self.cfg.conformal_alpha);
        self.table = Table::fit(&train);
        Ok(())
    }

    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        let probs = self.table.probs(a, self.smoothing);
        Ok(calibrate::prediction(
            &probs,
            &self.table.classes,
            self.qhat,
            self.threshold,
        ))
    }

    fn info(&self) -> serde_json::Value {
        json!({
            "kind": "category_lookup",
            "rule": "majority of the most specific seen context: (category path, district), path, parents, district, all; each level smoothed toward the broader one",
            "classes": self.table.classes.len(),
            "smoothing": self.smoothing,
            "validation": {"fraction": self.cfg.validation_fraction, "grid": self.grid},
            "auto_threshold": self.threshold,
            "conformal_qhat": self.qhat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: usize, label: &str, category: &[&str], district: &str) -> LabelledAppeal {
        LabelledAppeal {
            row: id,
            id: id.to_string(),
            text: "t".into(),
            label: label.into(),
            created_at: id as i64 * 1000,
            district: Some(district.into()),
            municipality: None,
            lat: None,
            lon: None,
            category: category.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_most_specific_context_decides_and_unseen_ones_back_off() {
        let mut train = Vec::new();
        for i in 0..40 {
            train.push(row(i, "housing-a", &["Housing", "Leaks"], "A"));
            train.push(row(100 + i, "housing-b", &["Housing", "Leaks"], "B"));
            train.push(row(200 + i, "roads", &["Roads"], "A"));
        }
        let mut r = CategoryLookup::new(BaselineConfig::default());
        r.fit(&train).unwrap();
        let top =
            |r: &mut CategoryLookup, a: LabelledAppeal| r.predict(&a).unwrap().ranked[0].0.clone();
        assert_eq!(
            top(&mut r, row(1, "?", &["Housing", "Leaks"], "B")),
            "housing-b"
        );
        assert_eq!(
            top(&mut r, row(1, "?", &["Housing", "Leaks"], "A")),
            "housing-a"
        );
        // An unseen sub-category backs off to its parent, then the district.
        assert_eq!(top(&mut r, row(1, "?", &["Roads", "Snow"], "B")), "roads");
        let p = r.predict(&row(1, "?", &["Unknown"], "B")).unwrap();
        assert_eq!(p.ranked[0].0, "housing-b");
        let total: f64 = r
            .table
            .probs(&row(1, "?", &["Housing"], "A"), 2.0)
            .iter()
            .sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
}
