//! What the engine has learned about each tenant, and how it is refitted.
//!
//! Area statistics change with every confirmed case at once (a counter update);
//! the softmax head and the calibration are refitted in the background from the
//! vectors already stored in the index (no re-embedding), versioned, and swapped
//! in atomically; requests never wait for a fit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use triage_domain::routing::calibration::AdaptiveAlpha;
use triage_domain::routing::Activity;
use triage_domain::routing::{
    roles, AreaStats, Calibration, CategoryStats, HeadFitOptions, LearnedWeights,
    LexicalFitOptions, LexicalHead, LexicalPlace, Neighbour, RoleOptions, Roles, ScoreInput,
    Scorer, SignalWeights, SoftmaxHead, TextLength, WeightCase,
};

use crate::index::{CaseFilter, CasePoint};
use crate::memory::{confirmed_statuses, CaseMemory};
use crate::record::{AppealStatus, Department, NearbyCase};

use super::EngineError;

/// The fitted parts of a tenant's router (stored in the record as JSON, so a
/// restart loads them instead of refitting).
#[derive(Debug, Clone, Default)]
pub struct TenantModel {
    /// Softmax head over embeddings (`None` before the first fit); its classes
    /// are the labels of `roles` (a family, or a lone department).
    pub head: Option<Arc<SoftmaxHead>>,
    /// Families of local departments learned with the head.
    pub roles: Arc<Roles>,
    /// Lexical model over the redacted texts (same labels as the head).
    pub lexical: Option<Arc<LexicalHead>>,
    /// Temperature and conformal quantile.
    pub calibration: Calibration,
    /// Increases with every refit.
    pub version: u64,
    /// Confirmed cases the head was fitted on.
    pub fitted_on: usize,
    /// The department activity counted at the refit (restored at start).
    pub activity: Activity,
}

/// Learned state of one tenant.
#[derive(Debug, Default)]
pub struct TenantState {
    /// Which departments serve which districts.
    pub areas: RwLock<AreaStats>,
    /// Which departments take which portal categories (per district).
    pub categories: RwLock<CategoryStats>,
    /// Confirmed cases known.
    pub confirmed: AtomicU64,
    /// Confirmations since the last refit.
    pub since_refit: AtomicU64,
    /// A refit is running.
    pub refitting: AtomicBool,
    /// Current fitted model.
    pub model: RwLock<Arc<TenantModel>>,
    /// Recent against all-time confirmed cases per department: rebuilt at
    /// each refit, counting every confirmation in between at once.
    pub activity: RwLock<Activity>,
    /// Embedded department descriptions, by code (with the text they came from).
    pub descriptions: RwLock<HashMap<String, (String, Vec<f32>)>>,
    /// The adaptive level of the prediction sets (`None` until the first
    /// confirmation after start: the calibrated level applies).
    pub conformal: RwLock<Option<AdaptiveAlpha>>,
}

impl TenantState {
    /// The model in force.
    pub fn model(&self) -> Arc<TenantModel> {
        self.model.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Counts a newly confirmed case (and un-counts the one it replaces), so
    /// the very next appeal sees it.
    pub fn confirm(&self, department: &str, case: CaseKey<'_>, replaced: Option<&str>) {
        if let Ok(mut a) = self.areas.write() {
            if let Some(old) = replaced {
                a.remove(old, case.district);
            } else {
                self.confirmed.fetch_add(1, Ordering::Relaxed);
            }
            a.add(department, case.district);
        }
        if let Ok(mut c) = self.categories.write() {
            if let Some(old) = replaced {
                c.remove(old, case.category, case.district);
            }
            c.add(department, case.category, case.district);
        }
        if let Ok(mut a) = self.activity.write() {
            if let Some(old) = replaced {
                a.remove(old, case.received_at);
            }
            a.add(department, case.received_at);
        }
        self.since_refit.fetch_add(1, Ordering::Relaxed);
    }

    /// The level prediction sets are read at now.
    pub fn conformal_level(&self, calibration: &Calibration) -> f64 {
        self.conformal
            .read()
            .ok()
            .and_then(|a| a.map(|a| a.level))
            .unwrap_or(calibration.alpha)
    }

    /// Learns from a confirmed case whether the set its appeal got held the
    /// truth (adaptive conformal inference; `gamma` 0 keeps the level).
    pub fn observe_coverage(&self, covered: bool, alpha: f64, gamma: f64) {
        if gamma <= 0.0 {
            return;
        }
        if let Ok(mut a) = self.conformal.write() {
            let state = a.get_or_insert_with(|| AdaptiveAlpha::new(alpha, gamma));
            state.target = alpha;
            state.gamma = gamma;
            state.update(covered);
        }
    }

    /// Un-counts a case that is no longer confirmed (rerouted).
    pub fn unconfirm(&self, department: &str, case: CaseKey<'_>) {
        if let Ok(mut a) = self.areas.write() {
            a.remove(department, case.district);
        }
        if let Ok(mut c) = self.categories.write() {
            c.remove(department, case.category, case.district);
        }
        if let Ok(mut a) = self.activity.write() {
            a.remove(department, case.received_at);
        }
        let _ = self
            .confirmed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
    }
}

/// What the learned counts key a confirmed case by.
#[derive(Debug, Clone, Copy)]
pub struct CaseKey<'a> {
    /// District, when given.
    pub district: Option<&'a str>,
    /// The portal's category (empty: none).
    pub category: &'a [String],
    /// When the appeal was received (unix ms).
    pub received_at: i64,
}

/// Every confirmed case of a tenant with its vector, oldest first (at most `max`, newest kept).
pub async fn confirmed_cases(
    memory: &CaseMemory,
    tenant: &str,
    max: usize,
) -> Result<Vec<CasePoint>, EngineError> {
    let filter = CaseFilter {
        statuses: confirmed_statuses(),
        ..CaseFilter::tenant(tenant)
    };
    let mut out = Vec::new();
    let mut offset = None;
    loop {
        let page = memory.index().scroll(filter.clone(), offset, 2048).await?;
        out.extend(
            page.points
                .into_iter()
                .filter(|p| p.payload.department.is_some()),
        );
        match page.next_offset {
            Some(o) => offset = Some(o),
            None => break,
        }
    }
    out.sort_by_key(|p| (p.payload.received_at, p.id));
    if out.len() > max {
        out.drain(..out.len() - max);
    }
    Ok(out)
}

/// The stored form of a [`TenantModel`].
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredModel {
    head: Option<SoftmaxHead>,
    #[serde(default)]
    roles: Roles,
    #[serde(default)]
    lexical: Option<LexicalHead>,
    calibration: Calibration,
    version: u64,
    fitted_on: usize,
    #[serde(default)]
    activity: Activity,
}

impl TenantModel {
    /// JSON for the record.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(&StoredModel {
            head: self.head.as_deref().cloned(),
            roles: (*self.roles).clone(),
            lexical: self.lexical.as_deref().cloned(),
            calibration: self.calibration.clone(),
            version: self.version,
            fitted_on: self.fitted_on,
            activity: self.activity.clone(),
        })
    }

    /// Reads the record's JSON back.
    pub fn from_json(body: &str) -> serde_json::Result<Self> {
        let s: StoredModel = serde_json::from_str(body)?;
        Ok(Self {
            head: s.head.map(Arc::new),
            roles: Arc::new(s.roles.reindexed()),
            lexical: s.lexical.map(|l| Arc::new(l.reindexed())),
            calibration: s.calibration,
            version: s.version,
            fitted_on: s.fitted_on,
            activity: s.activity,
        })
    }
}

/// Loads a tenant's state from the record: area counts by SQL (no vectors
/// read) and the latest stored model.
pub async fn load(memory: &CaseMemory, tenant: &str) -> Result<TenantState, EngineError> {
    let counts = memory.record().area_counts(tenant).await?;
    let state = TenantState::default();
    let mut total = 0u64;
    {
        let mut areas = state.areas.write().expect("fresh lock");
        let mut categories = state.categories.write().expect("fresh lock");
        for c in counts {
            let district = c.district.as_deref();
            areas.add_n(&c.department, district, c.n as u64);
            categories.add_n(&c.department, &c.category, district, c.n as f64);
            total += c.n as u64;
        }
    }
    state.confirmed.store(total, Ordering::Relaxed);
    if let Some((version, body)) = memory.record().latest_routing_model(tenant).await? {
        match TenantModel::from_json(&body) {
            Ok(m) => {
                *state.activity.write().expect("fresh lock") = m.activity.clone();
                *state.model.write().expect("fresh lock") = Arc::new(m);
            }
            Err(e) => {
                tracing::warn!(tenant, version, error = %e, "stored routing model unreadable; refitting at the next confirmation");
                // Keep its version: the next refit must store version + 1.
                *state.model.write().expect("fresh lock") = Arc::new(TenantModel {
                    version,
                    ..TenantModel::default()
                });
                // Due at once, whatever the refit interval.
                state.since_refit.store(u64::MAX / 2, Ordering::Relaxed);
            }
        }
    }
    Ok(state)
}

/// Area statistics of a set of cases.
pub fn areas_of(cases: &[CasePoint]) -> AreaStats {
    let mut a = AreaStats::new();
    for c in cases {
        if let Some(d) = &c.payload.department {
            a.add(d, c.payload.district.as_deref());
        }
    }
    a
}

/// The department activity of cases (any order), decaying with `half_life_days`.
pub fn activity_of(cases: &[CasePoint], half_life_days: f64) -> Activity {
    let mut a = Activity::new(half_life_days);
    let mut times: Vec<(i64, &str)> = cases
        .iter()
        .filter_map(|c| Some((c.payload.received_at, c.payload.department.as_deref()?)))
        .collect();
    times.sort_unstable();
    for (t, d) in times {
        a.add(d, t);
    }
    a
}

/// Category statistics of a set of cases (their categories are in the record).
pub fn categories_of(cases: &[CasePoint], texts: &CaseTexts) -> CategoryStats {
    let mut s = CategoryStats::new();
    for c in cases {
        if let Some(d) = &c.payload.department {
            let category = texts.get(&c.id).map_or(&[][..], |t| &t.category[..]);
            s.add(d, category, c.payload.district.as_deref());
        }
    }
    s
}

/// The fitted parts learned from a set of confirmed cases.
pub struct Fitted {
    /// Families of local departments.
    pub roles: Roles,
    /// Softmax head over embedding + district, with family labels.
    pub head: Option<SoftmaxHead>,
    /// Lexical model over text + district, with the same labels.
    pub lexical: Option<LexicalHead>,
}

/// What the record adds to a case's vector and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDetail {
    /// Redacted text (the lexical model's input).
    pub text: String,
    /// Coordinates, when given and valid.
    pub spot: Option<(f64, f64)>,
    /// Municipality, when given.
    pub municipality: Option<String>,
    /// The portal's category (empty: none).
    pub category: Vec<String>,
}

impl CaseDetail {
    /// The case's place as the lexical model sees it.
    pub fn lexical_place<'a>(&'a self, district: Option<&'a str>) -> LexicalPlace<'a> {
        LexicalPlace {
            district,
            municipality: self.municipality.as_deref(),
            category: &self.category,
        }
    }
}

/// Record details of cases, by appeal id.
pub type CaseTexts = HashMap<u64, CaseDetail>;

/// Reads the redacted texts and coordinates of cases from the record.
pub async fn case_texts(
    memory: &CaseMemory,
    cases: &[CasePoint],
) -> Result<CaseTexts, EngineError> {
    let mut out = HashMap::with_capacity(cases.len());
    for chunk in cases.chunks(2000) {
        let ids: Vec<i64> = chunk.iter().map(|c| c.id as i64).collect();
        for a in memory.record().appeals_by_ids(&ids).await? {
            let spot = valid_spot(a.data.place.lat, a.data.place.lon);
            out.insert(
                a.id as u64,
                CaseDetail {
                    text: a.data.redacted_text,
                    spot,
                    municipality: a.data.place.municipality,
                    category: a.data.category,
                },
            );
        }
    }
    Ok(out)
}

/// Coordinates usable for a same-spot search (both given, finite, in range).
pub fn valid_spot(lat: Option<f64>, lon: Option<f64>) -> Option<(f64, f64)> {
    let (lat, lon) = (lat?, lon?);
    (lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0)
        .then_some((lat, lon))
}

/// Confirmed cases from the same spot as an appeal: all of them, and those
/// with the appeal's own category.
#[derive(Debug, Clone, Default)]
pub struct SpotCases {
    /// Every confirmed case within the radius.
    pub all: Vec<Neighbour>,
    /// Those with the same category path (empty without a category).
    pub same_category: Vec<Neighbour>,
}

/// Where and what to look for at a spot.
#[derive(Debug, Clone, Copy)]
pub struct SpotQuery<'a> {
    /// Latitude and longitude.
    pub spot: (f64, f64),
    /// Radius, metres.
    pub radius_m: f64,
    /// Most cases read.
    pub limit: usize,
    /// Only cases received before this (unix ms).
    pub before: Option<i64>,
    /// The appeal itself, when stored.
    pub exclude: Option<i64>,
    /// The appeal's category (empty: none).
    pub category: &'a [String],
}

/// Two category paths name the same category (levels compared trimmed and
/// case-insensitively).
fn same_category(a: &[String], b: &[String]) -> bool {
    use triage_domain::routing::category::normalise;
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| normalise(x) == normalise(y))
}

/// Confirmed cases near a spot (within `radius_m`, received before `before`,
/// without `exclude`), with their similarity to `vector`: the same building's
/// or yard's history. Reads the record for the spot, the index for vectors.
pub async fn place_neighbours(
    memory: &CaseMemory,
    tenant: &str,
    vector: &[f32],
    q: SpotQuery<'_>,
) -> Result<SpotCases, EngineError> {
    if q.radius_m <= 0.0 || q.limit == 0 {
        return Ok(SpotCases::default());
    }
    let near: Vec<NearbyCase> = memory
        .record()
        .nearby_confirmed(
            tenant,
            q.spot.0,
            q.spot.1,
            q.radius_m,
            q.before,
            q.limit + 1,
        )
        .await?
        .into_iter()
        .filter(|c| Some(c.id) != q.exclude)
        .take(q.limit)
        .collect();
    if near.is_empty() {
        return Ok(SpotCases::default());
    }
    let points = memory
        .index()
        .retrieve(near.iter().map(|c| c.id as u64).collect())
        .await?;
    let points: HashMap<u64, CasePoint> = points.into_iter().map(|p| (p.id, p)).collect();
    let mut out = SpotCases::default();
    for c in near {
        let Some(p) = points.get(&(c.id as u64)) else {
            continue;
        };
        let similarity = p.vector.iter().zip(vector).map(|(a, b)| a * b).sum();
        let n = Neighbour {
            id: c.id,
            department: c.department,
            district: None,
            similarity,
            received_at: c.received_at,
            decided: p.payload.status == AppealStatus::Decided.as_str(),
        };
        if !q.category.is_empty() && same_category(&c.category, q.category) {
            out.same_category.push(n.clone());
        }
        out.all.push(n);
    }
    Ok(out)
}

/// What the catalogue says about one department, as text: its code, names and
/// description. The lexical model learns it as one more case of the
/// department (see [`fit_router`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentDoc {
    /// Department code.
    pub code: String,
    /// Code, names and description, joined.
    pub text: String,
}

/// How many cases a department's catalogue document counts as in the lexical
/// fit: a name is worth a few appeals (and words seen in a single document
/// are dropped from the vocabulary, so one copy would lose the name's own
/// words: "Бородянська" occurs nowhere else).
const DOC_CASES: usize = 3;

/// The documents of a catalogue's active departments.
pub fn department_docs(departments: &[Department]) -> Vec<DepartmentDoc> {
    departments
        .iter()
        .filter(|d| d.active)
        .map(|d| {
            let mut parts: Vec<&str> = vec![d.code.as_str()];
            for n in d.names.values() {
                if !parts.contains(&n.as_str()) {
                    parts.push(n);
                }
            }
            parts.push(&d.description);
            DepartmentDoc {
                code: d.code.clone(),
                text: parts.join("\n").trim().to_string(),
            }
        })
        .collect()
}

/// Learns the department families and fits the head on cases (blocking; call
/// from a blocking thread).
///
/// The lexical model also learns each catalogue document as a case of its
/// department: with a handful of cases per department, the department's own
/// name ("Бородянська селищна рада") is evidence that the texts naming its
/// place or its trade share words and character n-grams with; and a
/// department without confirmed cases yet becomes a class the lexical model
/// can name. (Few-shot text classifiers use the label's name the same way.)
///
/// The cases may come in any order: the fits see them by (received, id), so
/// the same set of cases always gives the same models (the fits shuffle with
/// a fixed seed, and a shuffle of a different order is a different fit).
pub fn fit_router(cases: &[CasePoint], texts: &CaseTexts, docs: &[DepartmentDoc]) -> Fitted {
    let mut labelled: Vec<(&str, &CasePoint)> = cases
        .iter()
        .filter_map(|c| Some((c.payload.department.as_deref()?, c)))
        .collect();
    labelled.sort_by_key(|(_, c)| (c.payload.received_at, c.id));
    let areas = areas_of(cases);
    let centroids = roles::centroids(labelled.iter().map(|(d, c)| (*d, c.vector.as_slice())));
    let roles = Roles::learn_from_history(&areas, &centroids, &RoleOptions::default());
    let labels: Vec<String> = labelled.iter().map(|(d, _)| roles.label(d)).collect();
    let mut classes = labels.clone();
    classes.sort();
    classes.dedup();
    let index: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let xs: Vec<&[f32]> = labelled.iter().map(|(_, c)| c.vector.as_slice()).collect();
    let districts: Vec<Option<&str>> = labelled
        .iter()
        .map(|(_, c)| c.payload.district.as_deref())
        .collect();
    let ys: Vec<usize> = labels.iter().map(|l| index[l.as_str()]).collect();
    let head = SoftmaxHead::fit_with_districts(
        &xs,
        &districts,
        &ys,
        classes.clone(),
        &HeadFitOptions::default(),
    );
    let with_text: Vec<(usize, &CaseDetail)> = labelled
        .iter()
        .enumerate()
        .filter_map(|(i, (_, c))| Some((i, texts.get(&c.id)?)))
        .collect();
    let mut lex_texts: Vec<&str> = with_text.iter().map(|(_, t)| t.text.as_str()).collect();
    let mut lex_places: Vec<LexicalPlace<'_>> = with_text
        .iter()
        .map(|(i, t)| t.lexical_place(districts[*i]))
        .collect();
    let mut lex_ys: Vec<usize> = with_text.iter().map(|(i, _)| ys[*i]).collect();
    let mut lex_classes = classes.clone();
    if !lex_texts.is_empty() {
        let doc_labels: Vec<(String, &str)> = docs
            .iter()
            .filter(|d| !d.text.is_empty())
            .map(|d| (roles.label(&d.code), d.text.as_str()))
            .collect();
        let mut new_classes: Vec<&String> = doc_labels
            .iter()
            .map(|(l, _)| l)
            .filter(|l| !index.contains_key(l.as_str()))
            .collect();
        new_classes.sort();
        new_classes.dedup();
        lex_classes.extend(new_classes.into_iter().cloned());
        let lex_index: HashMap<&str, usize> = lex_classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        for (label, text) in &doc_labels {
            for _ in 0..DOC_CASES {
                lex_texts.push(text);
                lex_places.push(LexicalPlace::default());
                lex_ys.push(lex_index[label.as_str()]);
            }
        }
    }
    let lexical = LexicalHead::fit(
        &lex_texts,
        &lex_places,
        &lex_ys,
        lex_classes,
        &LexicalFitOptions::default(),
    );
    Fitted {
        roles,
        head,
        lexical,
    }
}

/// The `k` nearest confirmed cases of a tenant, optionally only from one
/// district and only received before a time, without the appeal itself.
pub async fn neighbours(
    memory: &CaseMemory,
    tenant: &str,
    vector: &[f32],
    district: Option<&str>,
    before: Option<i64>,
    exclude: Option<i64>,
    k: usize,
) -> Result<Vec<Neighbour>, EngineError> {
    let filter = CaseFilter {
        statuses: confirmed_statuses(),
        district: district.map(str::to_string),
        received_before: before,
        ..CaseFilter::tenant(tenant)
    };
    let hits = memory.search(vector, filter, k + 1).await?;
    Ok(hits
        .into_iter()
        .filter(|h| Some(h.id as i64) != exclude)
        .filter_map(|h| {
            Some(Neighbour {
                id: h.id as i64,
                department: h.payload.department?,
                district: h.payload.district,
                similarity: h.score,
                received_at: h.payload.received_at,
                decided: h.payload.status == AppealStatus::Decided.as_str(),
            })
        })
        .take(k)
        .collect())
}

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
    geo: (f64, usize),
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
        let place = match detail.and_then(|t| t.spot) {
            Some(spot) => {
                let q = SpotQuery {
                    spot,
                    radius_m: geo.0,
                    limit: geo.1,
                    before: at,
                    exclude: own,
                    category,
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
    use crate::index::CasePayload;

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

    /// Cases of two topics in two districts, with texts and municipalities.
    fn cases() -> (Vec<CasePoint>, CaseTexts) {
        let topics = [
            ("roads", [1.0f32, 0.0, 0.0], "яма на дороге у дома"),
            ("water", [0.0, 1.0, 0.0], "нет воды в квартире"),
        ];
        let mut points = Vec::new();
        let mut texts = CaseTexts::new();
        for i in 0..40u64 {
            let (dept, v, text) = topics[(i % 2) as usize];
            let wobble = (i as f32 * 0.37).sin() * 0.2;
            points.push(CasePoint {
                id: i + 1,
                vector: vec![v[0] + wobble, v[1] - wobble, 0.3],
                payload: CasePayload {
                    tenant: "t".into(),
                    department: Some(dept.into()),
                    district: Some(if i % 3 == 0 { "A" } else { "B" }.into()),
                    status: "imported".into(),
                    received_at: 1_000 * (i as i64 / 2),
                    model: "m".into(),
                },
            });
            texts.insert(
                i + 1,
                CaseDetail {
                    text: format!("{text} номер {}", i % 5),
                    spot: None,
                    municipality: Some(format!("M{}", i % 4)),
                    category: Vec::new(),
                },
            );
        }
        (points, texts)
    }

    #[test]
    fn a_departments_own_name_is_lexical_evidence_even_without_cases() {
        let (points, texts) = cases();
        let docs = department_docs(&[
            Department {
                tenant_id: "t".into(),
                code: "borodianka".into(),
                names: [("uk".to_string(), "Бородянська селищна рада".to_string())].into(),
                description: "благоустрій селища Бородянка".into(),
                areas: Vec::new(),
                auto_threshold: None,
                active: true,
            },
            Department {
                tenant_id: "t".into(),
                code: "closed".into(),
                names: Default::default(),
                description: "закрито".into(),
                areas: Vec::new(),
                auto_threshold: None,
                active: false,
            },
        ]);
        assert_eq!(docs.len(), 1, "inactive departments bring no document");
        let fitted = fit_router(&points, &texts, &docs);
        let lexical = fitted.lexical.expect("a lexical model");
        // The department without cases is a class the lexical model can name...
        let at = lexical.classes.iter().position(|c| c == "borodianka");
        let at = at.expect("a class for the catalogue's department");
        assert!(!lexical.classes.iter().any(|c| c == "closed"));
        // ...and a text naming its place points to it above the others.
        let x = lexical.features("у селищі Бородянка", LexicalPlace::default());
        let p = lexical.predict(&x);
        let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]));
        assert_eq!(best, Some(at), "{:?} {p:?}", lexical.classes);
        // The head is fitted on cases only: its classes are the history's.
        assert_eq!(fitted.head.expect("a head").classes, ["roads", "water"]);
    }

    #[test]
    fn the_same_cases_in_another_order_give_the_same_models() {
        let (points, texts) = cases();
        let a = fit_router(&points, &texts, &[]);
        let mut reversed = points.clone();
        reversed.reverse();
        let b = fit_router(&reversed, &texts, &[]);
        assert!(a.lexical.is_some() && a.head.is_some());
        assert_eq!(a.lexical, b.lexical);
        assert_eq!(a.head, b.head);
    }
}
