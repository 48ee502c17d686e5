//! Not every message is a request: thanks ("Подяки двірникам ЖЕКу", about 1%
//! of Kyiv's appeals) and the copies of a campaign's text ask no department
//! to act. Such an appeal is stored, linked to its campaign, and not sent to
//! a department.
//!
//! What counts as "not a request" is the tenant's to say: an admin marks
//! categories of its catalogue (the portal's "thanks" categories). From
//! there it is learned: a citizen who picked a marked category is taken at
//! their word, and a detector over the text embedding, fitted on the
//! tenant's confirmed history labelled by those categories, finds the same
//! kind of message when no category (or another one) was picked. Nothing is
//! marked by default, so a tenant without such labels sees no change. The
//! detector speaks only above a threshold chosen on held-out recent history
//! for a precision target: a request taken for thanks is a citizen left
//! without an answer, so it errs toward routing.
//!
//! Campaign repeats are a configuration choice, not learned: where the
//! history carries no label for them, the engine only links them (the
//! decision's `campaign`) unless the operator asks for more.

use serde::{Deserialize, Serialize};

use super::calibration::precision_threshold;
use super::head::{HeadFitOptions, SoftmaxHead};
use crate::decision::{NotRequest, NotRequestReason};

/// Options of a detector fit.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorFitOptions {
    /// Fewest marked cases to learn from at all (the held-out part must
    /// hold at least this many too, up to 10).
    pub min_positives: usize,
    /// Share of the cases (the latest) held out to choose the threshold.
    pub held_out: f64,
    /// Precision the threshold must reach on the held-out cases (Wilson
    /// lower bound at `z`).
    pub target_precision: f64,
    /// Standard errors of the bound.
    pub z: f64,
    /// Fewest held-out cases at or above the threshold.
    pub min_detected: usize,
}

impl Default for DetectorFitOptions {
    fn default() -> Self {
        Self {
            min_positives: 30,
            held_out: 0.2,
            target_precision: 0.9,
            z: 1.28,
            min_detected: 10,
        }
    }
}

/// A detector of appeals that are not requests, learned from the tenant's
/// history (cases of marked categories against the rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotRequestDetector {
    head: SoftmaxHead,
    /// Probability at or above which the text is taken as not a request.
    pub threshold: f64,
    /// Marked cases learned from.
    pub positives: usize,
    /// Held-out cases the threshold was chosen on, and how precise and how
    /// complete detection was on them at the threshold.
    pub held_out: usize,
    /// Precision on the held-out cases at the threshold.
    pub precision: f64,
    /// Recall on the held-out cases at the threshold.
    pub recall: f64,
}

/// Copies of each marked case in a fit, so marked cases make up about a
/// tenth of what the model sees (they are ~1% of real history; without it a
/// linear model barely leaves the prior). The threshold is chosen on
/// held-out cases afterwards, so the skew does not reach the decisions.
fn oversampling(positives: usize, negatives: usize) -> usize {
    (negatives / (positives * 9).max(1)).clamp(1, 50)
}

fn fit_head(xs: &[&[f32]], marked: &[bool]) -> Option<SoftmaxHead> {
    let positives = marked.iter().filter(|m| **m).count();
    let copies = oversampling(positives, marked.len() - positives);
    let mut rows: Vec<&[f32]> = Vec::with_capacity(xs.len() + positives * copies);
    let mut ys = Vec::with_capacity(rows.capacity());
    for (x, &m) in xs.iter().zip(marked) {
        for _ in 0..if m { copies } else { 1 } {
            rows.push(x);
            ys.push(usize::from(m));
        }
    }
    SoftmaxHead::fit(
        &rows,
        &ys,
        vec!["request".into(), "not_a_request".into()],
        &HeadFitOptions {
            epochs: 8,
            ..HeadFitOptions::default()
        },
    )
}

impl NotRequestDetector {
    /// Fits on embeddings `xs` in time order, `marked` saying which are of a
    /// marked category. The latest `held_out` share chooses the threshold
    /// (fitted on the rest); the detector kept is then fitted on all cases.
    /// `None` when there are too few marked cases or no threshold reaches the
    /// precision target: then nothing is detected by text.
    pub fn fit(xs: &[&[f32]], marked: &[bool], o: &DetectorFitOptions) -> Option<Self> {
        if xs.len() != marked.len() {
            return None;
        }
        let positives = marked.iter().filter(|m| **m).count();
        if positives < o.min_positives {
            return None;
        }
        let split = xs.len() - (xs.len() as f64 * o.held_out).round() as usize;
        let held_positives = marked[split..].iter().filter(|m| **m).count();
        if held_positives < o.min_positives.clamp(1, 10) {
            return None;
        }
        let probe = fit_head(&xs[..split], &marked[..split])?;
        let mut scored: Vec<(f64, bool)> = xs[split..]
            .iter()
            .zip(&marked[split..])
            .map(|(x, &m)| (f64::from(probe.predict(x)[1]), m))
            .collect();
        let threshold = precision_threshold(&mut scored, o.target_precision, o.min_detected, o.z)?;
        let detected: Vec<bool> = scored
            .iter()
            .filter(|(p, _)| *p >= threshold)
            .map(|(_, m)| *m)
            .collect();
        let right = detected.iter().filter(|m| **m).count();
        Some(Self {
            head: fit_head(xs, marked)?,
            threshold,
            positives,
            held_out: scored.len(),
            precision: right as f64 / detected.len().max(1) as f64,
            recall: right as f64 / held_positives as f64,
        })
    }

    /// What the fit found, for an audit entry or a report: marked cases,
    /// threshold, and precision and recall on the held-out cases.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "positives": self.positives,
            "threshold": self.threshold,
            "held_out": self.held_out,
            "precision": self.precision,
            "recall": self.recall,
        })
    }

    /// The probability that an appeal with this embedding is not a request.
    pub fn probability(&self, embedding: &[f32]) -> f64 {
        f64::from(self.head.predict(embedding).get(1).copied().unwrap_or(0.0))
    }

    /// The finding for an embedding, when its probability reaches the threshold.
    pub fn detect(&self, embedding: &[f32]) -> Option<NotRequest> {
        let p = self.probability(embedding);
        (p >= self.threshold).then(|| NotRequest {
            reason: NotRequestReason::Text,
            probability: Some(p),
            note: format!(
                "reads like this authority's past appeals of categories marked not a request \
                 (p = {p:.3}, threshold {:.3}: on recent history {:.0}% of such findings were right)",
                self.threshold,
                100.0 * self.precision
            ),
        })
    }
}

/// What an appeal offers to tell whether it is a request.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Its text embedding.
    pub embedding: &'a [f32],
    /// Its text (redacted).
    pub text: &'a str,
    /// The category the citizen picked (empty: none).
    pub category: &'a [String],
    /// The campaign it belongs to, if any.
    pub campaign: Option<&'a str>,
}

/// The tenant's rules for telling requests apart.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Its detector, if it has learned one.
    pub detector: Option<&'a NotRequestDetector>,
    /// The category paths it marks as not a request.
    pub marked: &'a [Vec<String>],
    /// Whether a campaign's repeats of at least this many characters are
    /// not requests (`None`: campaigns are only linked).
    pub campaign_min_chars: Option<usize>,
}

/// Whether an appeal is not a request, and why: the learned detector first
/// (so what it finds is told apart from what the category says), then a
/// marked category, then, where the rules ask for it, a long enough repeat
/// of a campaign. A tenant that no longer marks any category gets no
/// finding from a detector learned before (at once, not at the next refit).
pub fn find(e: &Evidence<'_>, rules: &Rules<'_>) -> Option<NotRequest> {
    let detector = rules.detector.filter(|_| !rules.marked.is_empty());
    if let Some(found) = detector.and_then(|d| d.detect(e.embedding)) {
        return Some(found);
    }
    if is_marked(e.category, rules.marked) {
        return Some(marked_category(e.category));
    }
    match (e.campaign, rules.campaign_min_chars) {
        (Some(c), Some(min)) if e.text.chars().count() >= min => Some(campaign_repeat(c)),
        _ => None,
    }
}

/// Whether the category `path` falls under one of the `marked` paths (a
/// marked path is a prefix of it: marking "Подяки" marks its sub-categories).
pub fn is_marked(path: &[String], marked: &[Vec<String>]) -> bool {
    !path.is_empty()
        && marked
            .iter()
            .any(|m| !m.is_empty() && path.len() >= m.len() && path[..m.len()] == m[..])
}

/// The finding for an appeal that picked a marked category.
fn marked_category(path: &[String]) -> NotRequest {
    NotRequest {
        reason: NotRequestReason::Category,
        probability: None,
        note: format!(
            "the citizen picked \"{}\", a category this authority marks as not a request",
            path.join(" / ")
        ),
    }
}

/// The finding for a repeat of campaign `campaign`.
fn campaign_repeat(campaign: &str) -> NotRequest {
    NotRequest {
        reason: NotRequestReason::Campaign,
        probability: None,
        note: format!("repeats the text of campaign {campaign}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2,000 cases in 8 dimensions: marked ones (1 in 20) lean on dimension
    /// 0, with noise everywhere.
    fn history() -> (Vec<Vec<f32>>, Vec<bool>) {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 10_000) as f32 / 10_000.0 - 0.5
        };
        let mut xs = Vec::new();
        let mut marked = Vec::new();
        for i in 0..2_000 {
            let m = i % 20 == 7;
            let mut v: Vec<f32> = (0..8).map(|_| next()).collect();
            if m {
                v[0] += 2.0;
            }
            xs.push(v);
            marked.push(m);
        }
        (xs, marked)
    }

    #[test]
    fn learns_marked_cases_and_meets_its_precision_on_held_out_history() {
        let (xs, marked) = history();
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let d = NotRequestDetector::fit(&refs, &marked, &DetectorFitOptions::default())
            .expect("a detector");
        assert!(d.precision >= 0.9, "{d:?}");
        assert!(d.recall >= 0.5, "{d:?}");
        let mut thanks = vec![0.0f32; 8];
        thanks[0] = 2.0;
        assert_eq!(d.summary()["positives"], d.positives);
        let found = d.detect(&thanks).expect("detected");
        assert_eq!(found.reason, NotRequestReason::Text);
        assert!(found.probability.unwrap() >= d.threshold);
        assert!(
            d.detect(&[0.0; 8]).is_none(),
            "an ordinary request stays one"
        );
    }

    #[test]
    fn too_few_marked_cases_or_no_reachable_precision_detect_nothing() {
        let (xs, mut marked) = history();
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let few: Vec<bool> = marked
            .iter()
            .enumerate()
            .map(|(i, m)| *m && i < 400)
            .collect();
        assert!(NotRequestDetector::fit(&refs, &few, &DetectorFitOptions::default()).is_none());
        // Labels unrelated to the text: no threshold reaches 90% precision.
        for (i, m) in marked.iter_mut().enumerate() {
            *m = i % 20 == 11;
        }
        assert!(NotRequestDetector::fit(&refs, &marked, &DetectorFitOptions::default()).is_none());
    }

    #[test]
    fn the_detector_speaks_first_then_the_category_then_a_campaign_if_asked() {
        let (xs, marked) = history();
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let d = NotRequestDetector::fit(&refs, &marked, &DetectorFitOptions::default()).unwrap();
        let thanks_path = vec!["Подяки".to_string()];
        let marks = vec![thanks_path.clone()];
        let mut thanks = vec![0.0f32; 8];
        thanks[0] = 2.0;
        let long = "x".repeat(120);
        let rules = Rules {
            detector: Some(&d),
            marked: &marks,
            campaign_min_chars: Some(100),
        };
        let at = |embedding: &[f32], category: &[String], campaign, text: &str| {
            let e = Evidence {
                embedding,
                text,
                category,
                campaign,
            };
            find(&e, &rules).map(|n| n.reason)
        };
        let plain = [0.0f32; 8];
        assert_eq!(
            at(&thanks, &thanks_path, Some("c1"), &long),
            Some(NotRequestReason::Text)
        );
        assert_eq!(
            at(&plain, &thanks_path, Some("c1"), &long),
            Some(NotRequestReason::Category)
        );
        assert_eq!(
            at(&plain, &[], Some("c1"), &long),
            Some(NotRequestReason::Campaign)
        );
        assert_eq!(
            at(&plain, &[], Some("c1"), "short"),
            None,
            "a short repeat is a request"
        );
        assert_eq!(at(&plain, &[], None, &long), None);
        let off = Rules {
            campaign_min_chars: None,
            ..rules
        };
        let e = Evidence {
            embedding: &plain,
            text: &long,
            category: &[],
            campaign: Some("c1"),
        };
        assert_eq!(find(&e, &off), None, "campaigns only linked unless asked");
        let unmarked = Rules {
            marked: &[],
            ..rules
        };
        let e = Evidence {
            embedding: &thanks,
            text: "Дякую",
            category: &[],
            campaign: None,
        };
        assert_eq!(
            find(&e, &unmarked),
            None,
            "nothing marked any more: no detector"
        );
    }

    #[test]
    fn a_reasons_wire_form_is_its_name() {
        for r in [
            NotRequestReason::Category,
            NotRequestReason::Text,
            NotRequestReason::Campaign,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn a_marked_path_marks_its_sub_categories_only() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let marked = vec![p(&["Подяки"]), p(&["ЖКГ", "Подяки майстрам"])];
        assert!(is_marked(&p(&["Подяки"]), &marked));
        assert!(is_marked(&p(&["Подяки", "Двірникам"]), &marked));
        assert!(is_marked(&p(&["ЖКГ", "Подяки майстрам"]), &marked));
        assert!(
            !is_marked(&p(&["ЖКГ"]), &marked),
            "a parent of a marked path is not marked"
        );
        assert!(!is_marked(&p(&["Прибирання"]), &marked));
        assert!(!is_marked(&[], &marked));
        assert!(
            !is_marked(&p(&["Подяки"]), &[Vec::new()]),
            "an empty mark marks nothing"
        );
    }
}
