//! Combines the routing signals into one score per candidate department.
//!
//! Each signal term gives a probability per candidate; the score is the
//! weighted sum of their logs (a product of experts) plus an unweighted
//! offset (jurisdiction penalty, cold-start descriptions). One function per
//! term below, so a new signal is one more term and one more
//! [`SignalKind`] row.

use std::collections::{BTreeSet, HashMap};

use super::activity::Activity;
use super::areas::AreaStats;
use super::category::CategoryStats;
use super::head::SoftmaxHead;
use super::knn::{self, Neighbour};
use super::lexical::{LexicalHead, SparseVec};
use super::roles::Roles;
use super::signals::{SignalKind, SignalWeights, SIGNALS};

/// Tunable parameters of the routing signals. Defaults were chosen on a time
/// split of St Petersburg history (see docs/routing.md) and are per-tenant config.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingParams {
    /// Neighbours retrieved per appeal.
    pub knn_k: usize,
    /// Softness of neighbour votes (similarity units).
    pub knn_temperature: f64,
    /// Pseudo-votes spread evenly over candidates, so one neighbour is not certainty.
    pub knn_smoothing: f64,
    /// Similarity at which a confirmed case is a near-duplicate of the appeal.
    pub near_similarity: f32,
    /// Weight of each signal (see [`SignalKind`]). Supervisors' decisions on
    /// near-duplicates weigh most: a decision on a (nearly) identical appeal
    /// must count for the very next appeal even against the fitted models;
    /// imported history has no decisions, so until a tenant's held-out cases
    /// include some, that weight keeps its configured share of the learned ones.
    pub weights: SignalWeights,
    /// Softness of the same-spot votes (similarity units).
    pub geo_temperature: f64,
    /// Pseudo-votes per candidate added to the same-spot votes: a few cases
    /// at an address hint, they do not decide.
    pub geo_smoothing: f64,
    /// Days after which a same-spot case's vote counts half as much as the
    /// newest case's (0: age does not matter); see [`knn::aged_votes`].
    pub geo_half_life_days: f64,
    /// Weight of description similarity at cold start (fades with history).
    pub w_desc: f64,
    /// Pseudo-cases smoothing `P(district | department)`.
    pub area_strength: f64,
    /// Pseudo-cases each category level borrows from the level above.
    pub category_strength: f64,
    /// Softness of description similarities.
    pub desc_temperature: f64,
    /// Confirmed cases per department at which description similarity has half its weight.
    pub cold_start_cases: f64,
}

impl Default for RoutingParams {
    fn default() -> Self {
        Self {
            knn_k: 40,
            knn_temperature: 0.02,
            knn_smoothing: 0.3,
            near_similarity: 0.97,
            weights: SignalWeights::default(),
            geo_temperature: 0.05,
            geo_smoothing: 0.2,
            geo_half_life_days: 30.0,
            w_desc: 1.0,
            area_strength: 1.0,
            category_strength: 2.0,
            desc_temperature: 0.05,
            cold_start_cases: 2.0,
        }
    }
}

/// What routing knows about one department of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentInfo {
    /// Department code.
    pub code: String,
    /// Inactive departments are never suggested.
    pub active: bool,
    /// Declared areas served (empty: learned from history, or everywhere).
    pub areas: Vec<String>,
    /// Cosine similarity of the appeal to the department's description, if it has one.
    pub description_similarity: Option<f32>,
}

/// Everything the scorer needs for one appeal.
#[derive(Debug, Clone, Copy)]
pub struct ScoreInput<'a> {
    /// Nearest confirmed cases, best first.
    pub neighbours: &'a [Neighbour],
    /// Nearest confirmed cases from the appeal's own district, best first:
    /// they name the local agency that text neighbours from elsewhere cannot.
    pub local_neighbours: &'a [Neighbour],
    /// Confirmed cases from the same spot as the appeal (any order).
    pub place_neighbours: &'a [Neighbour],
    /// Those of `place_neighbours` with the appeal's category.
    pub place_category_neighbours: &'a [Neighbour],
    /// The nearest confirmed cases around a spot with little history of its
    /// own (empty otherwise).
    pub area_neighbours: &'a [Neighbour],
    /// The nearest of them with the appeal's category.
    pub area_category_neighbours: &'a [Neighbour],
    /// The fitted head and the appeal's embedding.
    pub head: Option<(&'a SoftmaxHead, &'a [f32])>,
    /// The fitted lexical model and the appeal's features.
    pub lexical: Option<(&'a LexicalHead, &'a SparseVec)>,
    /// The appeal's district, if given.
    pub district: Option<&'a str>,
    /// The category statistics and the appeal's category path (empty: none).
    pub category: Option<(&'a CategoryStats, &'a [String])>,
    /// The department catalogue.
    pub departments: &'a [DepartmentInfo],
    /// Learned areas.
    pub areas: &'a AreaStats,
    /// Confirmed cases of the tenant (drives the cold-start fade).
    pub confirmed_total: u64,
    /// Recent against all-time confirmed cases per department, if counted.
    pub activity: Option<&'a Activity>,
    /// Families of local departments (see [`Roles`]): a text neighbour from
    /// another district votes for its family's member in the appeal's
    /// district, and the head's family probability goes to that member.
    pub roles: &'a Roles,
}

/// Per-signal probability of each candidate, for explanations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalProbs {
    /// Per weighted signal (in [`SignalKind`] order): its probability of each
    /// candidate, `None` when it said nothing.
    pub by_signal: [Option<Vec<f64>>; SIGNALS],
    /// From description similarity (an unweighted cold-start term).
    pub descriptions: Option<Vec<f64>>,
    /// Category levels the history knew (0: the category said nothing).
    pub category_levels: usize,
}

impl SignalProbs {
    /// What one signal said.
    pub fn get(&self, kind: SignalKind) -> Option<&Vec<f64>> {
        self.by_signal[kind as usize].as_ref()
    }
}

/// Combined scores over the candidates (uncalibrated log scale).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    /// Candidate department codes.
    pub candidates: Vec<String>,
    /// Combined log score per candidate: `offset + weights . features`.
    pub scores: Vec<f64>,
    /// What each signal said.
    pub signals: SignalProbs,
    /// Per candidate, the log probability each weighted signal gave it (in
    /// [`SignalKind`] order; 0 for a signal that said nothing), so the weights
    /// can be learned from held-out cases (see [`super::weights`]).
    pub features: Vec<[f64; SIGNALS]>,
    /// Per candidate, the part of the score no weight scales: the
    /// jurisdiction penalty and the fading cold-start description term.
    pub offset: Vec<f64>,
}

/// The combination rule; holds only parameters.
#[derive(Debug, Clone, Default)]
pub struct Scorer {
    /// Weights and smoothing.
    pub params: RoutingParams,
}

const FLOOR: f64 = 1e-6;

/// Place factor of a department for a district outside its (declared or
/// learned) area.
const OUTSIDE_AREA: f64 = 1e-6;
/// Log-score penalty of a department outside its area (e^-20 ~ 2e-9): it
/// stays a candidate (calibration still sees it) but never wins against one in
/// its area. Costs nothing on the dev data: 1 test appeal in 7,846 went to an
/// agency local to another district.
const JURISDICTION_PENALTY: f64 = 20.0;
/// A department is local to its home district when at least this share of
/// its confirmed cases come from there...
const LOCAL_SHARE: f64 = 0.95;
/// ...and it has at least this many confirmed cases.
const LOCAL_MIN_CASES: u64 = 20;

fn normalise(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 {
        v.iter_mut().for_each(|x| *x /= s);
    }
}

/// The place signal of the candidates: each department's relative likelihood
/// of the district (1 = neutral), or [`OUTSIDE_AREA`] outside its area.
struct PlaceTerm {
    factors: Vec<f64>,
}

impl Scorer {
    /// `P(candidate | neighbour votes)` (none without neighbours, or when the
    /// signal is switched off by a zero weight). Votes are softened by
    /// `temperature`, aged by `half_life` days (0: not at all) and
    /// `smoothing` pseudo-votes go to every candidate.
    fn vote_term(
        neighbours: &[Neighbour],
        candidates: &[String],
        (weight, temperature, smoothing, half_life): (f64, f64, f64, f64),
    ) -> Option<Vec<f64>> {
        if neighbours.is_empty() || weight == 0.0 {
            return None;
        }
        let votes = knn::aged_votes(neighbours, temperature, half_life);
        let mut probs: Vec<f64> = candidates
            .iter()
            .map(|c| votes.get(c.as_str()).copied().unwrap_or(0.0) + smoothing)
            .collect();
        normalise(&mut probs);
        Some(probs)
    }

    /// `P(candidate)` from a model over labels (a family or a lone
    /// department, see [`Roles`]).
    fn label_term(
        raw: &[f32],
        classes: &[String],
        candidates: &[String],
        input: &ScoreInput<'_>,
    ) -> Vec<f64> {
        let index: HashMap<&str, usize> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let roles = input.roles;
        let district = input.district.filter(|d| !d.is_empty());
        let mut probs: Vec<f64> = candidates
            .iter()
            // A department the model was not fitted on (new since the last
            // refit) gets a neutral share, not a veto; a family member gets
            // its share of the family's probability.
            .map(|c| {
                let label = roles.label(c);
                index
                    .get(label.as_str())
                    .map_or(1.0 / raw.len().max(1) as f64, |&i| {
                        raw[i] as f64 * roles.share(&label, c, district)
                    })
            })
            .collect();
        normalise(&mut probs);
        probs
    }

    /// A scorer with these parameters.
    pub fn new(params: RoutingParams) -> Self {
        Self { params }
    }

    /// The same scorer with the signal weights replaced (learned weights of a
    /// tenant, see [`super::weights`]).
    pub fn with_weights(&self, weights: &SignalWeights) -> Self {
        Self {
            params: RoutingParams {
                weights: *weights,
                ..self.params.clone()
            },
        }
    }

    /// Neighbours from elsewhere, translated to the member of their family
    /// that serves the appeal's district.
    fn translated(input: &ScoreInput<'_>) -> Vec<Neighbour> {
        let district = input.district.filter(|d| !d.is_empty());
        input
            .neighbours
            .iter()
            .map(|n| Neighbour {
                department: input.roles.translate(&n.department, district).to_string(),
                ..n.clone()
            })
            .collect()
    }

    /// The candidates: active catalogue departments plus any department the
    /// history or the models know, minus inactive ones.
    fn candidates(input: &ScoreInput<'_>, translated: &[Neighbour]) -> Vec<String> {
        let inactive: BTreeSet<&str> = input
            .departments
            .iter()
            .filter(|d| !d.active)
            .map(|d| d.code.as_str())
            .collect();
        let mut set: BTreeSet<&str> = BTreeSet::new();
        set.extend(
            input
                .departments
                .iter()
                .filter(|d| d.active)
                .map(|d| d.code.as_str()),
        );
        set.extend(translated.iter().map(|n| n.department.as_str()));
        set.extend(input.neighbours.iter().map(|n| n.department.as_str()));
        set.extend(input.local_neighbours.iter().map(|n| n.department.as_str()));
        set.extend(input.place_neighbours.iter().map(|n| n.department.as_str()));
        set.extend(input.area_neighbours.iter().map(|n| n.department.as_str()));
        let label_classes = input
            .head
            .map(|(h, _)| &h.classes)
            .into_iter()
            .chain(input.lexical.map(|(l, _)| &l.classes));
        for classes in label_classes {
            set.extend(
                classes
                    .iter()
                    .filter(|c| input.roles.share(c, c, None) > 0.0)
                    .map(String::as_str),
            );
            for f in input.roles.families() {
                set.extend(f.members.iter().map(|m| m.0.as_str()));
            }
        }
        set.into_iter()
            .filter(|c| !inactive.contains(c))
            .map(str::to_string)
            .collect()
    }

    /// The neighbour-vote signals: text neighbours, local ones, imported
    /// near-duplicates, supervisors' decisions, same-spot cases and the
    /// cases around a spot (any category, and the appeal's own).
    fn vote_terms(
        &self,
        input: &ScoreInput<'_>,
        translated: &[Neighbour],
        candidates: &[String],
        probs: &mut [Option<Vec<f64>>; SIGNALS],
    ) {
        let p = &self.params;
        let w = |k: SignalKind| p.weights.get(k);
        let n = candidates.len();
        let knn = |w: f64| (w, p.knn_temperature, p.knn_smoothing / n as f64, 0.0);
        let district = input.district.filter(|d| !d.is_empty());
        probs[SignalKind::Knn as usize] =
            Self::vote_term(translated, candidates, knn(w(SignalKind::Knn)));
        probs[SignalKind::Local as usize] = Self::vote_term(
            input.local_neighbours,
            candidates,
            knn(w(SignalKind::Local)),
        );
        // A decision on a near-identical appeal from another district says
        // nothing about which district's agency serves this one.
        let same_place = |n: &&Neighbour| match (district, n.district.as_deref()) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let (decided, near): (Vec<Neighbour>, Vec<Neighbour>) = input
            .neighbours
            .iter()
            .filter(|n| n.similarity >= p.near_similarity)
            .filter(same_place)
            .cloned()
            .partition(|n| n.decided);
        probs[SignalKind::Near as usize] =
            Self::vote_term(&near, candidates, knn(w(SignalKind::Near)));
        probs[SignalKind::Decisions as usize] =
            Self::vote_term(&decided, candidates, knn(w(SignalKind::Decisions)));
        let geo = |w: f64| (w, p.geo_temperature, p.geo_smoothing, p.geo_half_life_days);
        probs[SignalKind::Geo as usize] =
            Self::vote_term(input.place_neighbours, candidates, geo(w(SignalKind::Geo)));
        probs[SignalKind::GeoCategory as usize] = Self::vote_term(
            input.place_category_neighbours,
            candidates,
            geo(w(SignalKind::GeoCategory)),
        );
        probs[SignalKind::Area as usize] =
            Self::vote_term(input.area_neighbours, candidates, geo(w(SignalKind::Area)));
        probs[SignalKind::AreaCategory as usize] = Self::vote_term(
            input.area_category_neighbours,
            candidates,
            geo(w(SignalKind::AreaCategory)),
        );
    }

    /// The place factors of the candidates; `None` for a district nobody has
    /// seen (no confirmed case, no declared area): it says nothing, and is
    /// left out rather than guessed.
    fn place_term(&self, input: &ScoreInput<'_>, candidates: &[String]) -> Option<PlaceTerm> {
        let declared: HashMap<&str, &Vec<String>> = input
            .departments
            .iter()
            .filter(|d| !d.areas.is_empty())
            .map(|d| (d.code.as_str(), &d.areas))
            .collect();
        let known = |district: &str| {
            input.areas.knows_district(district)
                || declared
                    .values()
                    .any(|areas| areas.iter().any(|a| a == district))
        };
        let district = input.district.filter(|d| !d.is_empty() && known(d))?;
        let prior = input.areas.district_prior(district);
        let factors = candidates
            .iter()
            .map(|c| {
                if let Some(areas) = declared.get(c.as_str()) {
                    if areas
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(district) || a == district)
                    {
                        1.0 / (areas.len() as f64 * prior).max(FLOOR)
                    } else {
                        OUTSIDE_AREA
                    }
                } else if input
                    .areas
                    .is_local_elsewhere(c, district, LOCAL_SHARE, LOCAL_MIN_CASES)
                {
                    // Learned jurisdiction, as binding as a declared one:
                    // a district's own agency does not serve another district.
                    OUTSIDE_AREA
                } else {
                    input
                        .areas
                        .likelihood(c, district, self.params.area_strength)
                        .map_or(1.0, |l| l / prior)
                }
            })
            .collect();
        Some(PlaceTerm { factors })
    }

    /// Similarity to each department's description, for the cold start:
    /// probabilities, and the offset they add (fading as history grows).
    fn description_term(
        &self,
        input: &ScoreInput<'_>,
        candidates: &[String],
    ) -> Option<(Vec<f64>, f64)> {
        let p = &self.params;
        let n = candidates.len();
        let sims: HashMap<&str, f32> = input
            .departments
            .iter()
            .filter_map(|d| d.description_similarity.map(|s| (d.code.as_str(), s)))
            .collect();
        if sims.is_empty() {
            return None;
        }
        let per_department = input.confirmed_total as f64 / n as f64;
        let fade = p.cold_start_cases / (p.cold_start_cases + per_department);
        let best = sims.values().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let mut probs: Vec<f64> = candidates
            .iter()
            .map(|c| {
                sims.get(c.as_str())
                    .map_or(0.0, |&s| ((s as f64 - best) / p.desc_temperature).exp())
            })
            .collect();
        let floor = 0.01 / n as f64;
        probs.iter_mut().for_each(|q| *q += floor);
        normalise(&mut probs);
        Some((probs, p.w_desc * fade))
    }

    /// Scores every candidate: active catalogue departments plus any department
    /// the history or the head knows, minus inactive ones.
    pub fn score(&self, input: &ScoreInput<'_>) -> Scored {
        let translated = Self::translated(input);
        let candidates = Self::candidates(input, &translated);
        let n = candidates.len();
        if n == 0 {
            return Scored::default();
        }
        let mut signals = SignalProbs::default();
        let probs = &mut signals.by_signal;
        self.vote_terms(input, &translated, &candidates, probs);
        if let Some((head, x)) = input.head {
            let raw = head.predict(x);
            probs[SignalKind::Head as usize] =
                Some(Self::label_term(&raw, &head.classes, &candidates, input));
        }
        if let Some((lex, x)) = input.lexical {
            let raw = lex.predict(x);
            probs[SignalKind::Lexical as usize] =
                Some(Self::label_term(&raw, &lex.classes, &candidates, input));
        }
        probs[SignalKind::Activity as usize] = input.activity.and_then(|a| a.probs(&candidates));
        if let Some((stats, path)) = input.category {
            let district = input.district.filter(|d| !d.is_empty());
            if let Some(e) =
                stats.estimate(path, district, &candidates, self.params.category_strength)
            {
                signals.category_levels = e.known_levels;
                signals.by_signal[SignalKind::Category as usize] = Some(e.probs);
            }
        }
        // Each signal's log probabilities go into its feature column.
        let mut features = vec![[0.0; SIGNALS]; n];
        for (j, probs) in signals.by_signal.iter().enumerate() {
            for (f, q) in features.iter_mut().zip(probs.iter().flatten()) {
                f[j] = q.max(FLOOR).ln();
            }
        }
        let mut offset = vec![0.0; n];
        if let Some(place) = self.place_term(input, &candidates) {
            for ((o, x), f) in offset
                .iter_mut()
                .zip(features.iter_mut())
                .zip(&place.factors)
            {
                // Outside its area a department is not competent: a fixed
                // penalty no amount of text evidence outweighs (the texts of a
                // district's agency say nothing about the district).
                if *f <= OUTSIDE_AREA {
                    *o -= JURISDICTION_PENALTY;
                } else {
                    x[SignalKind::Place as usize] = f.max(FLOOR).ln();
                }
            }
            // Shown as a probability: the factors normalised over the
            // candidates (the same log scores up to a constant).
            let mut shown: Vec<f64> = place
                .factors
                .iter()
                .map(|&f| if f <= OUTSIDE_AREA { 0.0 } else { f })
                .collect();
            normalise(&mut shown);
            signals.by_signal[SignalKind::Place as usize] = Some(shown);
        }
        if let Some((probs, weight)) = self.description_term(input, &candidates) {
            for (o, q) in offset.iter_mut().zip(&probs) {
                *o += weight * q.max(FLOOR).ln();
            }
            signals.descriptions = Some(probs);
        }
        let weights = &self.params.weights;
        let scores = features
            .iter()
            .zip(&offset)
            .map(|(f, o)| o + weights.dot(f))
            .collect();
        Scored {
            candidates,
            scores,
            signals,
            features,
            offset,
        }
    }
}

#[cfg(test)]
mod tests;
