//! Runs one router over the folds of a split: fit, then predict every test
//! appeal one at a time (timed), optionally replaying supervisor feedback.

use std::time::Instant;

use anyhow::Context;

use crate::outcome::{Outcome, KEPT_RANKS};
use crate::progress;
use crate::router::Router;
use crate::split::Fold;

/// Everything measured for one router.
#[derive(Debug, Clone)]
pub struct RouterRun {
    /// Router name.
    pub name: String,
    /// `Router::info` after the last fit.
    pub info: serde_json::Value,
    /// Train rows over folds.
    pub n_train: usize,
    /// Wall time of `fit`, summed over folds.
    pub fit_seconds: f64,
    /// Wall time of `predict` calls, summed (feedback excluded).
    pub predict_seconds: f64,
    /// One outcome per test appeal, folds pooled.
    pub outcomes: Vec<Outcome>,
}

/// Fits and evaluates `router` on every fold. With `feedback`, each test
/// appeal's true label is given back right after its prediction (in time order).
pub fn evaluate(
    router: &mut dyn Router,
    folds: &[Fold],
    feedback: bool,
) -> anyhow::Result<RouterRun> {
    let name = router.name();
    let mut run = RouterRun {
        name: name.clone(),
        info: serde_json::Value::Null,
        n_train: 0,
        fit_seconds: 0.0,
        predict_seconds: 0.0,
        outcomes: Vec::new(),
    };
    for fold in folds {
        tracing::info!(router = %name, fold = fold.index, n_train = fold.train.len(), "fitting");
        let started = Instant::now();
        router
            .fit(&fold.train)
            .with_context(|| format!("{name}: fit on fold {}", fold.index))?;
        run.fit_seconds += started.elapsed().as_secs_f64();
        run.n_train += fold.train.len();
        let bar = progress::items(
            fold.test.len() as u64,
            &format!("{name} fold {}", fold.index),
        );
        for a in &fold.test {
            let t = Instant::now();
            let p = router
                .predict(a)
                .with_context(|| format!("{name}: predict row {} (id {})", a.row, a.id))?;
            let secs = t.elapsed().as_secs_f64();
            run.predict_seconds += secs;
            if feedback {
                router
                    .feedback(a)
                    .with_context(|| format!("{name}: feedback row {} (id {})", a.row, a.id))?;
            }
            run.outcomes.push(Outcome {
                router: name.clone(),
                fold: fold.index,
                id: a.id.clone(),
                row: a.row,
                label: a.label.clone(),
                district: a.district.clone(),
                month: Some(
                    crate::timeparse::format_ms(a.created_at)
                        .chars()
                        .take(7)
                        .collect(),
                ),
                language: p.language,
                top: p.ranked.into_iter().take(KEPT_RANKS).collect(),
                confidence: p.confidence,
                auto: p.auto,
                set: p.prediction_set,
                not_a_request: p.not_a_request,
                latency_ms: secs * 1e3,
            });
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    run.info = router.info();
    Ok(run)
}
