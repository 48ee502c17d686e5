//! Calibration cases: the held-out recent cases scored as routing would have
//! scored them, with what was known before them; the weights and the
//! calibration are learned from these.

use triage_domain::routing::{
    Activity, AreaStats, CategoryStats, LearnedWeights, ScoreInput, Scorer, SignalWeights,
    TextLength, WeightCase,
};

use crate::index::CasePoint;
use crate::memory::CaseMemory;

use super::fit::Fitted;
use super::lookup::{neighbours, place_neighbours, CaseTexts, SpotCases, SpotQuery};
use super::{EngineError, RoutingConfig};

/// What routing had learned before the held-out cases: models, areas and
/// category counts fitted without them.
pub struct Before {
    /// Models fitted on the earlier cases.
    pub fitted: Fitted,
    /// Areas of the earlier cases.
    pub areas: AreaStats,
    /// Category counts of the earlier cases.
    pub categories: CategoryStats,
    /// How many earlier cases there were.
    pub confirmed: u64,
    /// Score every held-out case with only what was confirmed before the
    /// first of them (`true`), as appeals arriving after a refit are routed
    /// until their own cases are confirmed; `false`: with everything
    /// confirmed before each case.
    pub stale: bool,
    /// When `stale`: neighbours received before this time (unix ms) only, the
    /// first case the models above did not learn from.
    pub known_until: i64,
    /// Department activity of the cases the models learned from.
    pub activity: Activity,
}

/// How many of the oldest `cases` calibration may know when it scores
/// `cases[held_from..]`: those received more than `gap_days` before the
/// first held-out case, but at least half of the cases before it (so a short
/// history is not given up for the gap). `held_from` when `gap_days` is 0.
pub fn known_before(cases: &[CasePoint], held_from: usize, gap_days: u32) -> usize {
    if gap_days == 0 || held_from == 0 {
        return held_from;
    }
    let cut = cases[held_from].payload.received_at - i64::from(gap_days) * 86_400_000;
    let before_cut = cases[..held_from].partition_point(|c| c.payload.received_at < cut);
    before_cut.max(held_from / 2)
}

/// Calibration cases: what each signal says of the held-out recent cases (with
/// models fitted without them and neighbours received before each one), and
/// the index of the truth among the candidates. Unless `before.stale`, the
/// category counts learn each held-out case once it is scored, as they do in
/// service when each case is confirmed at once.
pub async fn calibration_cases(
    memory: &CaseMemory,
    tenant: &str,
    scorer: &Scorer,
    before: Before,
    held_out: &[CasePoint],
    texts: &CaseTexts,
    routing: &RoutingConfig,
) -> Result<Vec<WeightCase>, EngineError> {
    let Before {
        fitted,
        areas,
        mut categories,
        confirmed,
        stale,
        known_until,
        mut activity,
    } = before;
    let mut out = Vec::with_capacity(held_out.len());
    let no_category: Vec<String> = Vec::new();
    for case in held_out {
        let Some(truth) = case.payload.department.as_deref() else {
            continue;
        };
        let k = scorer.params.knn_k;
        let at = if stale {
            Some(known_until)
        } else {
            Some(case.payload.received_at)
        };
        let own = Some(case.id as i64);
        let global = neighbours(memory, tenant, &case.vector, None, at, own, k).await?;
        let district = case.payload.district.as_deref();
        let local = match district {
            Some(d) => neighbours(memory, tenant, &case.vector, Some(d), at, own, k).await?,
            None => Vec::new(),
        };
        let detail = texts.get(&case.id);
        let category = detail.map_or(&no_category, |t| &t.category);
        let head_input = fitted
            .head
            .as_ref()
            .map(|h| (h, h.input(&case.vector, district)));
        let lexical_input = fitted
            .lexical
            .as_ref()
            .zip(detail)
            .map(|(l, t)| (l, l.features(&t.text, t.lexical_place(district))));
        let place = match detail.and_then(|t| t.spot.as_ref()) {
            Some(spot) => {
                let q = SpotQuery {
                    before: at,
                    exclude: own,
                    ..SpotQuery::new(routing, spot, category)
                };
                place_neighbours(memory, tenant, &case.vector, q).await?
            }
            None => SpotCases::default(),
        };
        let input = ScoreInput {
            neighbours: &global,
            local_neighbours: &local,
            place_neighbours: &place.all,
            place_category_neighbours: &place.same_category,
            area_neighbours: &place.around,
            area_category_neighbours: &place.around_category,
            head: head_input.as_ref().map(|(h, x)| (*h, x.as_slice())),
            lexical: lexical_input.as_ref().map(|(l, x)| (*l, x)),
            district,
            category: Some((&categories, category.as_slice())),
            departments: &[],
            areas: &areas,
            confirmed_total: confirmed,
            activity: Some(&activity),
            roles: &fitted.roles,
        };
        let scored = scorer.score(&input);
        if !stale {
            categories.add(truth, category, district);
            activity.add(truth, case.payload.received_at);
        }
        if scored.candidates.is_empty() {
            continue;
        }
        out.push(WeightCase {
            truth: scored.candidates.iter().position(|c| c == truth),
            length: detail.map_or(TextLength::Long, |t| TextLength::of(&t.text)),
            features: scored.features,
            offset: scored.offset,
        });
    }
    Ok(out)
}

/// The combined scores of calibration cases under the learned weights (the
/// configured ones without), with the index of the truth; a truth outside the
/// candidates is a certain miss, appended with score -inf.
pub fn scored_cases(
    cases: &[WeightCase],
    learned: Option<&LearnedWeights>,
    configured: &SignalWeights,
) -> Vec<(Vec<f64>, usize)> {
    cases
        .iter()
        .map(|c| {
            let weights = learned.map_or(configured, |l| l.for_length(c.length));
            let mut scores = c.scores(weights);
            let truth = c.truth.unwrap_or_else(|| {
                scores.push(f64::NEG_INFINITY);
                scores.len() - 1
            });
            (scores, truth)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fit::tests::cases;

    #[test]
    fn calibration_knows_only_cases_older_than_the_gap() {
        let day = 86_400_000i64;
        let (mut points, _) = cases();
        for (i, p) in points.iter_mut().enumerate() {
            p.payload.received_at = i as i64 * day;
        }
        // Held-out from case 30 (day 30): no gap knows cases 0..30.
        assert_eq!(known_before(&points, 30, 0), 30);
        // A 7-day gap knows what came before day 23.
        assert_eq!(known_before(&points, 30, 7), 23);
        // A gap longer than half the history keeps half of it.
        assert_eq!(known_before(&points, 30, 25), 15);
        assert_eq!(known_before(&points, 0, 7), 0);
    }
}
