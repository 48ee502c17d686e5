//! The floor every router must beat: always the most frequent department of
//! train, with the train frequencies as probabilities.

use std::collections::HashMap;

use serde_json::json;

use super::calibrate::{self, Scored};
use super::{time_ordered, validation_cut, BaselineConfig};
use crate::router::{LabelledAppeal, Prediction, Router};

/// Majority-class router.
pub struct Majority {
    cfg: BaselineConfig,
    /// Departments by train frequency, most frequent first, with their share.
    prior: Vec<(String, f64)>,
    threshold: Option<f64>,
    qhat: f64,
}

impl Majority {
    /// An unfitted router.
    pub fn new(cfg: BaselineConfig) -> Majority {
        Majority {
            cfg,
            prior: Vec::new(),
            threshold: None,
            qhat: 1.0,
        }
    }
}

fn prior(rows: &[&LabelledAppeal]) -> Vec<(String, f64)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        *counts.entry(&r.label).or_default() += 1;
    }
    let mut v: Vec<(String, f64)> = counts
        .into_iter()
        .map(|(l, n)| (l.to_string(), n as f64 / rows.len() as f64))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

impl Router for Majority {
    fn name(&self) -> String {
        "majority".into()
    }

    fn fit(&mut self, train: &[LabelledAppeal]) -> anyhow::Result<()> {
        let train = time_ordered(train);
        let cut = validation_cut(train.len(), self.cfg.validation_fraction);
        let sub = prior(&train[..cut]);
        let probs: Vec<f64> = sub.iter().map(|p| p.1).collect();
        let val: Vec<Scored> = train[cut..]
            .iter()
            .map(|r| Scored {
                probs: probs.clone(),
                truth: sub.iter().position(|p| p.0 == r.label),
            })
            .collect();
        self.threshold = calibrate::auto_threshold(&val, self.cfg.target_precision);
        self.qhat = calibrate::conformal_qhat(&val, self.cfg.conformal_alpha);
        self.prior = prior(&train);
        Ok(())
    }

    fn predict(&mut self, _a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        let confidence = self.prior.first().map_or(0.0, |p| p.1);
        Ok(Prediction {
            ranked: self
                .prior
                .iter()
                .take(crate::outcome::KEPT_RANKS)
                .cloned()
                .collect(),
            confidence,
            auto: self.threshold.is_some_and(|t| confidence >= t),
            prediction_set: self
                .prior
                .iter()
                .filter(|p| p.1 >= 1.0 - self.qhat)
                .map(|p| p.0.clone())
                .collect(),
            language: None,
            not_a_request: None,
        })
    }

    fn info(&self) -> serde_json::Value {
        json!({
            "kind": "majority",
            "departments": self.prior.len(),
            "majority": self.prior.first().map(|p| &p.0),
            "auto_threshold": self.threshold,
            "conformal_qhat": self.qhat,
        })
    }
}
