//! TF-IDF + multinomial logistic regression, with or without a one-hot
//! district, and with the portal's category (one-hot per level, plus the
//! deepest level crossed with the district): what a competent data scientist
//! tries first. Tuned fairly: C is chosen on a validation slice (the last
//! tenth of train by time, fitted on the first nine tenths), then the model
//! is refitted on all of train.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use serde_json::json;

use super::calibrate::{self, Scored};
use super::logreg::{self, Targets};
use super::softmax_loss;
use super::sparse::Csr;
use super::tfidf::Tfidf;
use super::{time_ordered, validation_cut, BaselineConfig};
use crate::progress;
use crate::router::{LabelledAppeal, Prediction, Router};

/// Which features beside the text a variant reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Text only (`tfidf_text`).
    Text,
    /// Text and a one-hot district (`tfidf_text_district`).
    TextDistrict,
    /// Text, district, the category's levels and (category, district)
    /// (`tfidf_text_district_category`).
    TextDistrictCategory,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Text => "tfidf_text",
            Variant::TextDistrict => "tfidf_text_district",
            Variant::TextDistrictCategory => "tfidf_text_district_category",
        }
    }

    /// The one-hot features of a row beside its text.
    fn one_hots(self, r: &LabelledAppeal) -> Vec<String> {
        let mut out = Vec::new();
        if self == Variant::Text {
            return out;
        }
        if let Some(d) = &r.district {
            out.push(format!("d\u{1f}{d}"));
        }
        if self == Variant::TextDistrictCategory {
            let mut prefix = String::new();
            for level in &r.category {
                prefix.push('\u{1f}');
                prefix.push_str(&level.to_lowercase());
                out.push(format!("c{prefix}"));
            }
            if let (Some(d), false) = (&r.district, prefix.is_empty()) {
                out.push(format!("x{prefix}\u{1e}{d}"));
            }
        }
        out
    }
}

/// Features and targets of one training set.
struct Design {
    tfidf: Tfidf,
    variant: Variant,
    /// One-hot key (district, category level, crossing) -> column offset
    /// after the text features.
    districts: HashMap<String, u32>,
    classes: Vec<String>,
    x: Csr,
    targets: Targets,
}

impl Design {
    /// Merges rows with the same text (and district, when used) into one row
    /// with soft targets: same loss, less work.
    fn build(rows: &[&LabelledAppeal], min_df: usize, variant: Variant) -> Design {
        let classes: Vec<String> = rows
            .iter()
            .map(|r| r.label.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let class_of: HashMap<&str, u32> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        let mut groups: HashMap<(&str, Vec<String>), HashMap<u32, f32>> = HashMap::new();
        let mut order = Vec::new();
        for r in rows {
            let key = (r.text.as_str(), variant.one_hots(r));
            let g = groups.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                HashMap::new()
            });
            *g.entry(class_of[r.label.as_str()]).or_default() += 1.0;
        }
        let docs: Vec<(&str, usize)> = order
            .iter()
            .map(|k| (k.0, groups[k].values().sum::<f32>() as usize))
            .collect();
        let tfidf = Tfidf::fit(&docs, min_df);
        let districts: HashMap<String, u32> = rows
            .iter()
            .flat_map(|r| variant.one_hots(r))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, d)| (d, i as u32))
            .collect();
        let mut design = Design {
            tfidf,
            variant,
            districts,
            classes,
            x: Csr::default(),
            targets: Vec::new(),
        };
        use rayon::prelude::*;
        let feature_rows: Vec<Vec<(u32, f32)>> = order
            .par_iter()
            .map(|k| design.features_of(k.0, &k.1))
            .collect();
        design.x = Csr::from_rows(&feature_rows, design.n_features());
        design.targets = order
            .iter()
            .map(|k| {
                let mut t: Vec<(u32, f32)> = groups[k].iter().map(|(&c, &w)| (c, w)).collect();
                t.sort_by_key(|e| e.0);
                t
            })
            .collect();
        design
    }

    fn n_features(&self) -> usize {
        self.tfidf.n_features() + self.districts.len()
    }

    fn features_of(&self, text: &str, one_hots: &[String]) -> Vec<(u32, f32)> {
        let mut row = self.tfidf.transform(text);
        let mut extra: Vec<u32> = one_hots
            .iter()
            .filter_map(|k| self.districts.get(k))
            .map(|&j| self.tfidf.n_features() as u32 + j)
            .collect();
        extra.sort_unstable();
        row.extend(extra.into_iter().map(|j| (j, 1.0)));
        row
    }

    fn features(&self, r: &LabelledAppeal) -> Vec<(u32, f32)> {
        self.features_of(&r.text, &self.variant.one_hots(r))
    }

    /// `theta` of a model fitted on `old`, moved into this design's feature
    /// space: shared terms and districts keep their weights, new ones start at 0.
    fn carry_over(&self, old: &Design, theta: &[f32]) -> Vec<f32> {
        let k = self.classes.len();
        let stride = softmax_loss::stride_for(k);
        let mut out = vec![0.0f32; logreg::dim(self.n_features(), k)];
        // Classes by name (a department only in the validation slice is new).
        let col: Vec<Option<usize>> = self
            .classes
            .iter()
            .map(|c| old.classes.binary_search(c).ok())
            .collect();
        let old_stride = softmax_loss::stride_for(old.classes.len());
        let mut rows = vec![None; self.n_features() + 1];
        self.feature_map(old, &mut rows);
        for (j, prev) in rows.iter().enumerate() {
            let Some(p) = prev else { continue };
            for (c, oc) in col.iter().enumerate() {
                if let Some(oc) = oc {
                    out[j * stride + c] = theta[p * old_stride + oc];
                }
            }
        }
        out
    }

    /// Parameter row in `old` of each parameter row here (features, then the intercepts).
    fn feature_map(&self, old: &Design, rows: &mut [Option<usize>]) {
        for (j, p) in self.tfidf.remap_from(&old.tfidf).into_iter().enumerate() {
            rows[j] = p.map(|p| p as usize);
        }
        let (base, old_base) = (self.tfidf.n_features(), old.tfidf.n_features());
        for (d, &j) in &self.districts {
            rows[base + j as usize] = old.districts.get(d).map(|&p| old_base + p as usize);
        }
        rows[self.n_features()] = Some(old.n_features());
    }

    fn truth(&self, label: &str) -> Option<usize> {
        self.classes
            .binary_search_by(|c| c.as_str().cmp(label))
            .ok()
    }
}

struct Fitted {
    design: Design,
    model: logreg::Model,
    threshold: Option<f64>,
    qhat: f64,
}

/// The TF-IDF logistic-regression baseline.
pub struct TfidfLogReg {
    cfg: BaselineConfig,
    variant: Variant,
    fitted: Option<Fitted>,
    info: serde_json::Value,
}

impl TfidfLogReg {
    /// A baseline reading the features of `variant`.
    pub fn new(cfg: BaselineConfig, variant: Variant) -> TfidfLogReg {
        TfidfLogReg {
            cfg,
            variant,
            fitted: None,
            info: json!(null),
        }
    }

    /// Fits on `design` at `c` from `warm` (or zero). With `val`, the
    /// validation slice is scored every `check_every` iterations and the fit
    /// stops once `patience` iterations bring no better top-1 (0: never).
    fn train(
        &self,
        design: &Design,
        c: f64,
        stage: &str,
        warm: Option<Vec<f32>>,
        mut val: Option<&mut Validation>,
    ) -> (logreg::Model, f64) {
        let started = Instant::now();
        let bar = progress::spinner(&format!("{} {stage} C={c}", self.name()));
        let cfg = logreg::Config {
            c,
            max_iter: self.cfg.max_iter,
            ..logreg::Config::default()
        };
        let (every, patience) = (self.cfg.check_every.max(1), self.cfg.patience);
        let model = logreg::fit(
            &design.x,
            &design.targets,
            design.classes.len(),
            &cfg,
            warm,
            &mut |st| {
                bar.set_message(format!(
                    "{} {stage} C={c}: iteration {}, objective {:.5}, max|grad| {:.1e}",
                    self.name(),
                    st.iteration,
                    st.value,
                    st.max_gradient
                ));
                let Some(v) = val.as_deref_mut() else {
                    return true;
                };
                if st.iteration % every == 0 || st.max_gradient <= cfg.gtol {
                    v.check(st.iteration, st.x, design.classes.len());
                }
                patience == 0 || st.iteration < v.best_iteration + patience
            },
        );
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            router = %self.name(), stage, c, iterations = model.iterations,
            stop = ?model.stop, objective = model.objective, secs,
            validation_top1 = val.as_ref().map(|v| v.best_top1),
            best_iteration = val.as_ref().map(|v| v.best_iteration),
            "logistic regression fitted"
        );
        (model, secs)
    }
}

/// The validation slice in a design's feature space, and the best iterate
/// seen on it during one fit.
struct Validation {
    x: Csr,
    truth: Vec<Option<usize>>,
    best_top1: f64,
    best_iteration: usize,
    best_scored: Vec<Scored>,
}

impl Validation {
    fn new(design: &Design, rows: &[&LabelledAppeal]) -> Validation {
        use rayon::prelude::*;
        let feature_rows: Vec<Vec<(u32, f32)>> =
            rows.par_iter().map(|r| design.features(r)).collect();
        Validation {
            x: Csr::from_rows(&feature_rows, design.n_features()),
            truth: rows.iter().map(|r| design.truth(&r.label)).collect(),
            best_top1: f64::NEG_INFINITY,
            best_iteration: 0,
            best_scored: Vec::new(),
        }
    }

    /// Forgets the previous fit's best.
    fn reset(&mut self) {
        self.best_top1 = f64::NEG_INFINITY;
        self.best_iteration = 0;
        self.best_scored.clear();
    }

    /// Scores the iterate `theta`; keeps it when its top-1 is the best yet.
    fn check(&mut self, iteration: usize, theta: &[f32], n_classes: usize) {
        let probs = logreg::predict_all(theta, n_classes, &self.x);
        let scored: Vec<Scored> = probs
            .into_iter()
            .zip(&self.truth)
            .map(|(probs, &truth)| Scored { probs, truth })
            .collect();
        let hits = scored
            .iter()
            .filter(|s| s.truth == Some(calibrate::argmax(&s.probs).0))
            .count();
        let top1 = hits as f64 / scored.len().max(1) as f64;
        if top1 > self.best_top1 {
            self.best_top1 = top1;
            self.best_iteration = iteration;
            self.best_scored = scored;
        }
    }
}

impl Router for TfidfLogReg {
    fn name(&self) -> String {
        self.variant.name().into()
    }

    fn fit(&mut self, train: &[LabelledAppeal]) -> anyhow::Result<()> {
        let started = Instant::now();
        let train = time_ordered(train);
        let cut = validation_cut(train.len(), self.cfg.validation_fraction);
        let (sub, val) = train.split_at(cut);
        let design = Design::build(sub, self.cfg.min_df, self.variant);
        let mut validation = Validation::new(&design, val);
        let mut grid = Vec::new();
        // (C, validation top-1, its scored predictions, the fit's last iterate).
        let mut best: Option<(f64, f64, Vec<Scored>, Vec<f32>)> = None;
        for &c in &self.cfg.c_grid {
            // Cold start for every C: from the previous C's optimum the gradient is
            // already below the tolerance (the penalty changes by ~1e-5), so a warm
            // start would stop at once and every C would score the same.
            validation.reset();
            let (model, secs) =
                self.train(&design, c, "validation fit", None, Some(&mut validation));
            let top1 = validation.best_top1;
            grid.push(
                json!({"c": c, "validation_top1": top1, "best_iteration": validation.best_iteration,
                             "iterations": model.iterations, "stop": format!("{:?}", model.stop),
                             "converged": model.converged, "seconds": secs}),
            );
            if best.as_ref().is_none_or(|b| top1 > b.1) {
                let scored = std::mem::take(&mut validation.best_scored);
                best = Some((c, top1, scored, model.theta));
            }
        }
        let (c, val_top1, scored, theta) = best.ok_or_else(|| anyhow::anyhow!("empty C grid"))?;
        let threshold = calibrate::auto_threshold(&scored, self.cfg.target_precision);
        let qhat = calibrate::conformal_qhat(&scored, self.cfg.conformal_alpha);
        drop(validation);
        let full = Design::build(&train, self.cfg.min_df, self.variant);
        // Warm start from the validation fit at the chosen C, term by term: the
        // same objective and tolerance, far fewer iterations than from zero.
        let warm = full.carry_over(&design, &theta);
        drop(design);
        let design = full;
        let (model, secs) = self.train(&design, c, "final fit", Some(warm), None);
        let (n_words, n_chars) = design.tfidf.vocabulary_sizes();
        self.info = json!({
            "kind": "tfidf_logreg",
            "features": {
                "word_ngrams": [1, 2], "char_wb_ngrams": [2, 5], "sublinear_tf": true, "norm": "l2",
                "min_df": self.cfg.min_df, "district_one_hot": self.variant != Variant::Text,
                "category_one_hots": self.variant == Variant::TextDistrictCategory,
                "n_word": n_words, "n_char": n_chars, "n_district": design.districts.len(),
            },
            "train_rows": train.len(), "unique_rows": design.x.n_rows(), "classes": design.classes.len(),
            "validation": {"rule": "last fraction of train by time", "fraction": self.cfg.validation_fraction,
                           "n_fit": sub.len(), "n_validation": val.len(), "grid": grid},
            "chosen_c": c, "validation_top1": val_top1,
            "validation_stopping": {"check_every": self.cfg.check_every, "patience": self.cfg.patience,
                                    "rule": "a validation fit stops once `patience` iterations bring no better validation top-1 (0: runs to the tolerance); its best iterate is scored"},
            "final_fit": {"warm_start": "validation fit at the chosen C, mapped term by term", "iterations": model.iterations,
                          "converged": model.converged, "objective": model.objective, "seconds": secs},
            "auto_threshold": threshold,
            "conformal": {"method": "LAC split conformal on the validation slice", "alpha": self.cfg.conformal_alpha, "qhat": qhat},
            "fit_seconds": started.elapsed().as_secs_f64(),
        });
        self.fitted = Some(Fitted {
            design,
            model,
            threshold,
            qhat,
        });
        Ok(())
    }

    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        let f = self
            .fitted
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{}: predict before fit", self.name()))?;
        let probs = f.model.probabilities(&f.design.features(a));
        Ok(calibrate::prediction(
            &probs,
            &f.design.classes,
            f.qhat,
            f.threshold,
        ))
    }

    fn info(&self) -> serde_json::Value {
        self.info.clone()
    }
}
