//! Combines the routing signals into one score per candidate department.

use std::collections::{BTreeSet, HashMap};

use super::areas::AreaStats;
use super::head::SoftmaxHead;
use super::knn::{self, Neighbour};
use super::lexical::{LexicalHead, SparseVec};
use super::roles::Roles;
use super::weights::{SignalKind, SignalWeights, SIGNALS};

/// Tunable weights of the routing signals. Defaults were chosen on a time split
/// of St Petersburg history (see docs/routing.md) and are per-tenant config.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingParams {
    /// Neighbours retrieved per appeal.
    pub knn_k: usize,
    /// Softness of neighbour votes (similarity units).
    pub knn_temperature: f64,
    /// Pseudo-votes spread evenly over candidates, so one neighbour is not certainty.
    pub knn_smoothing: f64,
    /// Weight of the neighbour votes.
    pub w_knn: f64,
    /// Weight of the votes of neighbours from the appeal's own district.
    pub w_local: f64,
    /// Similarity at which a confirmed case is a near-duplicate of the appeal.
    pub near_similarity: f32,
    /// Weight of near-duplicate imported cases from the same district (or
    /// without one).
    pub w_near: f64,
    /// Weight of supervisors' decisions on near-duplicates from the same
    /// district (or without one): a decision on a (nearly) identical appeal
    /// is the strongest evidence there is, and must count for the very next
    /// appeal even against the fitted models. Imported history has no
    /// decisions, so until a tenant's held-out cases include some, this
    /// weight keeps its configured share of the learned ones.
    pub w_decided: f64,
    /// Weight of the softmax head.
    pub w_head: f64,
    /// Weight of the lexical (character and word n-gram) model.
    pub w_lex: f64,
    /// Weight of the district/jurisdiction signal.
    pub w_place: f64,
    /// Weight of the votes of confirmed cases from the same spot (same
    /// building or yard: within `geo_radius_m`, see the engine).
    pub w_geo: f64,
    /// Softness of the same-spot votes (similarity units).
    pub geo_temperature: f64,
    /// Pseudo-votes per candidate added to the same-spot votes: a few cases
    /// at an address hint, they do not decide.
    pub geo_smoothing: f64,
    /// Weight of description similarity at cold start (fades with history).
    pub w_desc: f64,
    /// Pseudo-cases smoothing `P(district | department)`.
    pub area_strength: f64,
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
            w_knn: 1.5,
            w_local: 0.5,
            near_similarity: 0.97,
            w_near: 2.0,
            w_decided: 4.0,
            w_head: 1.0,
            w_lex: 3.0,
            w_place: 1.0,
            w_geo: 1.5,
            geo_temperature: 0.05,
            geo_smoothing: 0.2,
            w_desc: 1.0,
            area_strength: 1.0,
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
    /// The fitted head and the appeal's embedding.
    pub head: Option<(&'a SoftmaxHead, &'a [f32])>,
    /// The fitted lexical model and the appeal's features.
    pub lexical: Option<(&'a LexicalHead, &'a SparseVec)>,
    /// The appeal's district, if given.
    pub district: Option<&'a str>,
    /// The department catalogue.
    pub departments: &'a [DepartmentInfo],
    /// Learned areas.
    pub areas: &'a AreaStats,
    /// Confirmed cases of the tenant (drives the cold-start fade).
    pub confirmed_total: u64,
    /// Families of local departments (see [`Roles`]): a text neighbour from
    /// another district votes for its family's member in the appeal's
    /// district, and the head's family probability goes to that member.
    pub roles: &'a Roles,
}

/// Per-signal probability of each candidate, for explanations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SignalProbs {
    /// From neighbour votes.
    pub knn: Option<Vec<f64>>,
    /// From the votes of neighbours in the same district.
    pub local: Option<Vec<f64>>,
    /// From the votes of cases at the same spot.
    pub geo: Option<Vec<f64>>,
    /// From near-duplicate imported cases.
    pub near: Option<Vec<f64>>,
    /// From supervisors' decisions on near-duplicates.
    pub decisions: Option<Vec<f64>>,
    /// From the head.
    pub head: Option<Vec<f64>>,
    /// From the lexical model.
    pub lexical: Option<Vec<f64>>,
    /// Place factor (relative likelihood of the district; 1 = neutral).
    pub place: Option<Vec<f64>>,
    /// From description similarity.
    pub descriptions: Option<Vec<f64>>,
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

impl Scorer {
    /// `P(candidate | neighbour votes)` (none without neighbours, or when the
    /// signal is switched off by a zero weight). Votes are softened by
    /// `temperature` and `smoothing` pseudo-votes go to every candidate.
    fn vote_term(
        neighbours: &[Neighbour],
        candidates: &[String],
        (weight, temperature, smoothing): (f64, f64, f64),
    ) -> Option<Vec<f64>> {
        if neighbours.is_empty() || weight == 0.0 {
            return None;
        }
        let votes = knn::votes(neighbours, temperature);
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
        let mut params = self.params.clone();
        weights.apply_to(&mut params);
        Self { params }
    }

    /// Scores every candidate: active catalogue departments plus any department
    /// the history or the head knows, minus inactive ones.
    pub fn score(&self, input: &ScoreInput<'_>) -> Scored {
        let p = &self.params;
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
        let district = input.district.filter(|d| !d.is_empty());
        // Neighbours from elsewhere, translated to the member of their family
        // that serves the appeal's district.
        let translated: Vec<Neighbour> = input
            .neighbours
            .iter()
            .map(|n| Neighbour {
                department: input.roles.translate(&n.department, district).to_string(),
                ..n.clone()
            })
            .collect();
        set.extend(translated.iter().map(|n| n.department.as_str()));
        set.extend(input.neighbours.iter().map(|n| n.department.as_str()));
        set.extend(input.local_neighbours.iter().map(|n| n.department.as_str()));
        set.extend(input.place_neighbours.iter().map(|n| n.department.as_str()));
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
        let candidates: Vec<String> = set
            .into_iter()
            .filter(|c| !inactive.contains(c))
            .map(str::to_string)
            .collect();
        let n = candidates.len();
        let mut features = vec![[0.0; SIGNALS]; n];
        let mut offset = vec![0.0; n];
        let mut signals = SignalProbs::default();
        if n == 0 {
            return Scored::default();
        }
        // Each signal's log probabilities go into its feature column.
        let mut put = |signal: SignalKind, probs: &Option<Vec<f64>>| {
            for (f, q) in features.iter_mut().zip(probs.iter().flatten()) {
                f[signal as usize] = q.max(FLOOR).ln();
            }
        };

        let knn = |w: f64| (w, p.knn_temperature, p.knn_smoothing / n as f64);
        signals.knn = Self::vote_term(&translated, &candidates, knn(p.w_knn));
        put(SignalKind::Knn, &signals.knn);
        signals.local = Self::vote_term(input.local_neighbours, &candidates, knn(p.w_local));
        put(SignalKind::Local, &signals.local);
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
        signals.near = Self::vote_term(&near, &candidates, knn(p.w_near));
        put(SignalKind::Near, &signals.near);
        signals.decisions = Self::vote_term(&decided, &candidates, knn(p.w_decided));
        put(SignalKind::Decisions, &signals.decisions);
        let geo = (p.w_geo, p.geo_temperature, p.geo_smoothing);
        signals.geo = Self::vote_term(input.place_neighbours, &candidates, geo);
        put(SignalKind::Geo, &signals.geo);

        if let Some((head, x)) = input.head {
            let raw = head.predict(x);
            signals.head = Some(Self::label_term(&raw, &head.classes, &candidates, input));
            put(SignalKind::Head, &signals.head);
        }
        if let Some((lex, x)) = input.lexical {
            let raw = lex.predict(x);
            signals.lexical = Some(Self::label_term(&raw, &lex.classes, &candidates, input));
            put(SignalKind::Lexical, &signals.lexical);
        }

        // A district nobody has seen (no confirmed case, no declared area) says
        // nothing: the place signal is left out rather than guessed.
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
        if let Some(district) = district.filter(|d| known(d)) {
            let prior = input.areas.district_prior(district);
            let factors: Vec<f64> = candidates
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
                    } else if input.areas.is_local_elsewhere(
                        c,
                        district,
                        LOCAL_SHARE,
                        LOCAL_MIN_CASES,
                    ) {
                        // Learned jurisdiction, as binding as a declared one:
                        // a district's own agency does not serve another district.
                        OUTSIDE_AREA
                    } else {
                        input
                            .areas
                            .likelihood(c, district, p.area_strength)
                            .map_or(1.0, |l| l / prior)
                    }
                })
                .collect();
            for ((o, x), f) in offset.iter_mut().zip(features.iter_mut()).zip(&factors) {
                // Outside its area a department is not competent: a fixed
                // penalty no amount of text evidence outweighs (the texts of a
                // district's agency say nothing about the district).
                if *f <= OUTSIDE_AREA {
                    *o -= JURISDICTION_PENALTY;
                } else {
                    x[SignalKind::Place as usize] = f.max(FLOOR).ln();
                }
            }
            signals.place = Some(factors);
        }

        let sims: HashMap<&str, f32> = input
            .departments
            .iter()
            .filter_map(|d| d.description_similarity.map(|s| (d.code.as_str(), s)))
            .collect();
        if !sims.is_empty() {
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
            for (o, q) in offset.iter_mut().zip(&probs) {
                *o += p.w_desc * fade * q.max(FLOOR).ln();
            }
            signals.descriptions = Some(probs);
        }

        let weights = SignalWeights::from_params(p);
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
mod tests {
    use std::sync::LazyLock;

    use super::*;

    static NO_ROLES: LazyLock<Roles> = LazyLock::new(Roles::default);

    /// An input with nothing in it but `areas`: each test sets what it needs.
    fn bare(areas: &AreaStats) -> ScoreInput<'_> {
        ScoreInput {
            neighbours: &[],
            local_neighbours: &[],
            place_neighbours: &[],
            head: None,
            lexical: None,
            district: None,
            departments: &[],
            areas,
            confirmed_total: 0,
            roles: &NO_ROLES,
        }
    }

    fn nb(id: i64, d: &str, s: f32) -> Neighbour {
        Neighbour {
            id,
            department: d.into(),
            district: None,
            similarity: s,
            received_at: 0,
            decided: false,
        }
    }

    fn best(s: &Scored) -> &str {
        let i = (0..s.scores.len())
            .max_by(|&a, &b| s.scores[a].total_cmp(&s.scores[b]))
            .unwrap();
        &s.candidates[i]
    }

    #[test]
    fn the_district_picks_the_local_agency_the_text_cannot_name() {
        let mut areas = AreaStats::new();
        for _ in 0..50 {
            areas.add("housing-north", Some("North"));
            areas.add("housing-south", Some("South"));
        }
        // Text neighbours are all northern housing cases...
        let ns = [
            nb(1, "housing-north", 0.95),
            nb(2, "housing-north", 0.94),
            nb(3, "housing-south", 0.90),
        ];
        let input = ScoreInput {
            neighbours: &ns,
            district: Some("South"),
            confirmed_total: 100,
            ..bare(&areas)
        };
        // ...but the appeal is from the south.
        assert_eq!(best(&Scorer::default().score(&input)), "housing-south");
        let no_place = ScoreInput {
            district: None,
            ..input
        };
        assert_eq!(best(&Scorer::default().score(&no_place)), "housing-north");
    }

    #[test]
    fn descriptions_route_at_cold_start_and_inactive_departments_never_win() {
        let areas = AreaStats::new();
        let deps = vec![
            DepartmentInfo {
                code: "roads".into(),
                active: true,
                areas: vec![],
                description_similarity: Some(0.88),
            },
            DepartmentInfo {
                code: "water".into(),
                active: true,
                areas: vec![],
                description_similarity: Some(0.80),
            },
            DepartmentInfo {
                code: "old".into(),
                active: false,
                areas: vec![],
                description_similarity: Some(0.95),
            },
        ];
        let input = ScoreInput {
            departments: &deps,
            ..bare(&areas)
        };
        let s = Scorer::default().score(&input);
        assert_eq!(best(&s), "roads");
        assert!(!s.candidates.contains(&"old".to_string()));
        let ns = [nb(1, "old", 0.99)];
        let s = Scorer::default().score(&ScoreInput {
            neighbours: &ns,
            ..input
        });
        assert!(!s.candidates.contains(&"old".to_string()));
    }

    #[test]
    fn declared_areas_exclude_departments_elsewhere() {
        let areas = AreaStats::new();
        let deps = vec![
            DepartmentInfo {
                code: "a".into(),
                active: true,
                areas: vec!["East".into()],
                description_similarity: None,
            },
            DepartmentInfo {
                code: "b".into(),
                active: true,
                areas: vec!["West".into()],
                description_similarity: None,
            },
        ];
        let ns = [nb(1, "a", 0.95), nb(2, "b", 0.93)];
        let input = ScoreInput {
            neighbours: &ns,
            district: Some("West"),
            departments: &deps,
            confirmed_total: 2,
            ..bare(&areas)
        };
        assert_eq!(best(&Scorer::default().score(&input)), "b");
    }

    #[test]
    fn an_unknown_district_leaves_the_place_signal_out() {
        let mut areas = AreaStats::new();
        for _ in 0..100 {
            areas.add("big", Some("A"));
        }
        areas.add("small", Some("A"));
        let ns = [nb(1, "big", 0.95), nb(2, "small", 0.90)];
        let input = ScoreInput {
            neighbours: &ns,
            district: Some("Atlantis"),
            confirmed_total: 101,
            ..bare(&areas)
        };
        let s = Scorer::default().score(&input);
        assert!(s.signals.place.is_none());
        assert_eq!(best(&s), "big");
    }

    #[test]
    fn same_spot_cases_tip_a_close_call_but_do_not_decide_alone() {
        let areas = AreaStats::new();
        // Text neighbours are split evenly between two departments...
        let ns = [nb(1, "roads", 0.90), nb(2, "parks", 0.90)];
        let spot = [nb(3, "parks", 0.80)];
        let input = ScoreInput {
            neighbours: &ns,
            place_neighbours: &spot,
            confirmed_total: 3,
            ..bare(&areas)
        };
        // ...and the one case from the same yard went to parks.
        let s = Scorer::default().score(&input);
        assert_eq!(best(&s), "parks");
        assert!(s.signals.geo.is_some());
        // Against clear text evidence one same-spot case is a hint, not a veto.
        let strong = [
            nb(1, "roads", 0.95),
            nb(4, "roads", 0.94),
            nb(2, "parks", 0.80),
        ];
        let s = Scorer::default().score(&ScoreInput {
            neighbours: &strong,
            ..input
        });
        assert_eq!(best(&s), "roads");
    }

    #[test]
    fn nothing_known_means_no_candidates() {
        let areas = AreaStats::new();
        let input = ScoreInput {
            district: Some("x"),
            ..bare(&areas)
        };
        assert!(Scorer::default().score(&input).candidates.is_empty());
    }

    #[test]
    fn scores_are_the_offset_plus_the_weighted_features_under_any_weights() {
        let mut areas = AreaStats::new();
        for _ in 0..50 {
            areas.add("housing-north", Some("North"));
            areas.add("housing-south", Some("South"));
            areas.add("roads", Some("North"));
        }
        for _ in 0..40 {
            areas.add("roads", Some("South"));
        }
        let ns = [
            nb(1, "housing-north", 0.95),
            nb(2, "roads", 0.94),
            nb(3, "housing-south", 0.90),
        ];
        let input = ScoreInput {
            neighbours: &ns,
            local_neighbours: &ns[2..],
            place_neighbours: &ns[1..2],
            district: Some("South"),
            confirmed_total: 140,
            ..bare(&areas)
        };
        let scorer = Scorer::default();
        let scored = scorer.score(&input);
        assert_eq!(scored.features.len(), scored.candidates.len());
        // The northern agency is outside its area: the penalty is an offset.
        let north = scored
            .candidates
            .iter()
            .position(|c| c == "housing-north")
            .unwrap();
        assert_eq!(scored.offset[north], -JURISDICTION_PENALTY);
        let learned = SignalWeights::from_array([0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let reweighted = scorer.with_weights(&learned).score(&input);
        for (i, f) in scored.features.iter().enumerate() {
            let expect = scored.offset[i] + SignalWeights::from_params(&scorer.params).dot(f);
            assert!((scored.scores[i] - expect).abs() < 1e-9);
            let expect = scored.offset[i] + learned.dot(f);
            assert!((reweighted.scores[i] - expect).abs() < 1e-9);
        }
        // The defaults follow the same-spot case; with the local neighbours
        // weighted up instead, the district's agency wins.
        assert_eq!(best(&scored), "roads");
        assert_eq!(best(&reweighted), "housing-south");
    }
    #[test]
    fn a_supervisors_decision_on_a_near_identical_appeal_outweighs_the_crowd() {
        let areas = AreaStats::new();
        // Thirty loosely similar cases and two imported near-duplicates went
        // to roads.
        let mut crowd: Vec<Neighbour> = (0..30).map(|i| nb(i, "roads", 0.90)).collect();
        crowd.extend([nb(50, "roads", 0.975), nb(51, "roads", 0.975)]);
        let input = |ns: &[Neighbour]| {
            let input = ScoreInput {
                neighbours: ns,
                confirmed_total: 1000,
                ..bare(&areas)
            };
            Scorer::default().score(&input)
        };
        // One more imported near-duplicate went to parks: the crowd wins.
        let mut imported = crowd.clone();
        imported.push(nb(99, "parks", 0.975));
        assert_eq!(best(&input(&imported)), "roads");
        // The same case as a supervisor's decision: it decides.
        crowd.push(Neighbour {
            decided: true,
            ..nb(99, "parks", 0.975)
        });
        let scored = input(&crowd);
        assert_eq!(best(&scored), "parks");
        assert!(scored.signals.decisions.is_some());
        let parks = scored.candidates.iter().position(|c| c == "parks").unwrap();
        assert!(scored.features[parks][SignalKind::Decisions as usize] > -0.5);
    }
}
