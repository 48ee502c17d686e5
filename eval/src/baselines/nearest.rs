//! `nearest_same_category`: the place baseline. The majority of the `k`
//! nearest past appeals (by coordinates) of the same category, backing off to
//! the `k` nearest of any category when the category has none nearby (or the
//! appeal has none). Where the exact building decides (Kyiv's housing
//! offices), this simple rule is hard to beat, so every report with
//! coordinates carries it: no city's report flatters the engine. `k` is
//! chosen on the validation slice.

use std::collections::HashMap;

use serde_json::json;

use super::calibrate::{self, Scored};
use super::{time_ordered, validation_cut, BaselineConfig};
use crate::router::{LabelledAppeal, Prediction, Router};

/// Values of k tried on the validation slice.
const K_GRID: [usize; 4] = [1, 3, 5, 10];
/// Cell of the spatial grid, degrees (about 110 m of latitude).
const CELL: f64 = 0.001;
/// Rings of cells searched at most around the appeal's cell (about 5 km).
const MAX_RING: i64 = 50;
/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;

type Cell = (i64, i64);

/// Past appeals per cell: latitude, longitude, class.
type Cells = HashMap<Cell, Vec<(f64, f64, u32)>>;

/// Past appeals on a grid of cells, by category (`""`: every category).
#[derive(Default)]
struct Grid {
    cells: HashMap<String, Cells>,
    classes: Vec<String>,
}

fn cell(lat: f64, lon: f64) -> Cell {
    ((lat / CELL).floor() as i64, (lon / CELL).floor() as i64)
}

fn category_key(r: &LabelledAppeal) -> Option<String> {
    (!r.category.is_empty()).then(|| r.category.join("\u{1f}").to_lowercase())
}

impl Grid {
    fn fit(rows: &[&LabelledAppeal]) -> Grid {
        let mut g = Grid::default();
        let classes: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.label.as_str()).collect();
        g.classes = classes.into_iter().map(str::to_string).collect();
        for r in rows {
            let (Some(lat), Some(lon)) = (r.lat, r.lon) else {
                continue;
            };
            let y = g.classes.binary_search(&r.label).expect("label listed") as u32;
            let c = cell(lat, lon);
            for key in [Some(String::new()), category_key(r)].into_iter().flatten() {
                g.cells
                    .entry(key)
                    .or_default()
                    .entry(c)
                    .or_default()
                    .push((lat, lon, y));
            }
        }
        g
    }

    /// The `k` nearest past appeals in `key`'s grid: (distance in metres, class).
    fn nearest(&self, key: &str, lat: f64, lon: f64, k: usize) -> Vec<(f64, u32)> {
        let Some(cells) = self.cells.get(key) else {
            return Vec::new();
        };
        let (cy, cx) = cell(lat, lon);
        let cos = lat.to_radians().cos().abs().max(1e-6);
        let mut found: Vec<(f64, u32)> = Vec::new();
        for ring in 0..=MAX_RING {
            for dy in -ring..=ring {
                for dx in -ring..=ring {
                    if dy.abs() != ring && dx.abs() != ring {
                        continue;
                    }
                    for &(plat, plon, y) in cells.get(&(cy + dy, cx + dx)).into_iter().flatten() {
                        let my = (plat - lat) * METRES_PER_DEGREE;
                        let mx = (plon - lon) * METRES_PER_DEGREE * cos;
                        found.push(((my * my + mx * mx).sqrt(), y));
                    }
                }
            }
            // Every point outside the rings searched is at least this far.
            let bound = ring as f64 * CELL * METRES_PER_DEGREE * cos.min(1.0);
            if found.len() >= k && {
                found.sort_by(|a, b| a.0.total_cmp(&b.0));
                found[k - 1].0 <= bound
            } {
                break;
            }
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        found.truncate(k);
        found
    }

    /// Vote shares of the nearest `k` of the same category (else any), with
    /// half a pseudo-vote spread over the classes so no class is impossible.
    fn probs(&self, r: &LabelledAppeal, k: usize) -> Vec<f64> {
        let n = self.classes.len().max(1);
        let mut p = vec![0.5 / n as f64; n];
        let (Some(lat), Some(lon)) = (r.lat, r.lon) else {
            return vec![1.0 / n as f64; n];
        };
        let mut near = category_key(r)
            .map(|key| self.nearest(&key, lat, lon, k))
            .unwrap_or_default();
        if near.is_empty() {
            near = self.nearest("", lat, lon, k);
        }
        for (_, y) in &near {
            p[*y as usize] += 1.0;
        }
        let s: f64 = p.iter().sum();
        p.iter_mut().for_each(|q| *q /= s);
        p
    }
}

/// The nearest-same-category baseline.
pub struct NearestSameCategory {
    cfg: BaselineConfig,
    grid: Grid,
    k: usize,
    threshold: Option<f64>,
    qhat: f64,
    tried: Vec<serde_json::Value>,
}

impl NearestSameCategory {
    /// An unfitted router.
    pub fn new(cfg: BaselineConfig) -> NearestSameCategory {
        NearestSameCategory {
            cfg,
            grid: Grid::default(),
            k: 5,
            threshold: None,
            qhat: 1.0,
            tried: Vec::new(),
        }
    }
}

fn argmax(p: &[f64]) -> Option<usize> {
    (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]))
}

impl Router for NearestSameCategory {
    fn name(&self) -> String {
        "nearest_same_category".into()
    }

    fn fit(&mut self, train: &[LabelledAppeal]) -> anyhow::Result<()> {
        let train = time_ordered(train);
        let cut = validation_cut(train.len(), self.cfg.validation_fraction);
        let sub = Grid::fit(&train[..cut]);
        let mut best: Option<(usize, f64, Vec<Scored>)> = None;
        self.tried.clear();
        for k in K_GRID {
            let scored: Vec<Scored> = train[cut..]
                .iter()
                .map(|r| Scored {
                    probs: sub.probs(r, k),
                    truth: sub.classes.binary_search(&r.label).ok(),
                })
                .collect();
            let hits = scored
                .iter()
                .filter(|x| x.truth.is_some() && x.truth == argmax(&x.probs))
                .count();
            let top1 = hits as f64 / scored.len().max(1) as f64;
            self.tried.push(json!({"k": k, "validation_top1": top1}));
            if best.as_ref().is_none_or(|b| top1 > b.1) {
                best = Some((k, top1, scored));
            }
        }
        let (k, _, scored) = best.ok_or_else(|| anyhow::anyhow!("empty k grid"))?;
        self.k = k;
        self.threshold = calibrate::auto_threshold(&scored, self.cfg.target_precision);
        self.qhat = calibrate::conformal_qhat(&scored, self.cfg.conformal_alpha);
        self.grid = Grid::fit(&train);
        Ok(())
    }

    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        let probs = self.grid.probs(a, self.k);
        Ok(calibrate::prediction(
            &probs,
            &self.grid.classes,
            self.qhat,
            self.threshold,
        ))
    }

    fn info(&self) -> serde_json::Value {
        json!({
            "kind": "nearest_same_category",
            "rule": "majority of the k nearest past appeals by coordinates with the same category; any category when none",
            "k": self.k,
            "validation": {"fraction": self.cfg.validation_fraction, "grid": self.tried},
            "auto_threshold": self.threshold,
            "conformal_qhat": self.qhat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: usize, label: &str, category: &str, lat: f64, lon: f64) -> LabelledAppeal {
        LabelledAppeal {
            row: id,
            id: id.to_string(),
            text: "t".into(),
            label: label.into(),
            created_at: id as i64,
            district: None,
            municipality: None,
            lat: Some(lat),
            lon: Some(lon),
            category: vec![category.into()],
        }
    }

    #[test]
    fn the_same_building_and_category_decide_with_a_fallback_to_any_category() {
        let mut train = Vec::new();
        for i in 0..30 {
            let wobble = (i % 3) as f64 * 1e-5;
            // One building: leaks go to its housing office, lights to the city.
            train.push(at(i, "office-7", "leaks", 50.45 + wobble, 30.52));
            train.push(at(100 + i, "city-lights", "lights", 50.45, 30.52 + wobble));
            // Another building two kilometres away.
            train.push(at(200 + i, "office-9", "leaks", 50.47 + wobble, 30.52));
        }
        let mut r = NearestSameCategory::new(BaselineConfig::default());
        r.fit(&train).unwrap();
        let top = |r: &mut NearestSameCategory, a: LabelledAppeal| {
            r.predict(&a).unwrap().ranked[0].0.clone()
        };
        assert_eq!(top(&mut r, at(1, "?", "leaks", 50.4501, 30.52)), "office-7");
        assert_eq!(
            top(&mut r, at(1, "?", "lights", 50.4501, 30.52)),
            "city-lights"
        );
        assert_eq!(top(&mut r, at(1, "?", "leaks", 50.4699, 30.52)), "office-9");
        // A category nobody filed: the nearest of any category.
        assert_eq!(top(&mut r, at(1, "?", "snow", 50.4699, 30.52)), "office-9");
    }
}
