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
use triage_domain::routing::{
    Activity, AreaStats, Calibration, CategoryStats, LexicalHead, NotRequestDetector,
    RecentOutcomes, Roles, SoftmaxHead,
};

use crate::index::{CaseFilter, CasePoint};
use crate::memory::{confirmed_statuses, CaseMemory};

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
    /// Finds texts that are not requests (`None`: the tenant marks no
    /// category as not a request, or too few cases to learn it).
    pub not_request: Option<Arc<NotRequestDetector>>,
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
    /// How often the latest confirmed appeals' fitted confidence was right
    /// (reshapes the confidence shown and the learned auto-routing
    /// threshold); kept in memory, started again from the calibration's
    /// outcomes after a restart.
    pub recent: RwLock<RecentOutcomes>,
    /// The category paths the tenant marks as not a request (read at load,
    /// and again when its catalogue changes).
    pub not_request_paths: RwLock<Vec<Vec<String>>>,
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

    /// Learns from a confirmed appeal whether its suggestion was right, at
    /// the confidence the fitted calibration gave it.
    ///
    /// Returns whether auto-routing was paused (`Some(true)`: recent
    /// outcomes put the target precision out of reach) or resumed
    /// (`Some(false)`) by this outcome.
    pub fn observe_outcome(&self, fitted_confidence: f64, right: bool) -> Option<bool> {
        let mut r = self.recent.write().ok()?;
        let paused = |r: &RecentOutcomes| r.auto_threshold() == Some(None);
        let before = paused(&r);
        r.observe(fitted_confidence, right);
        let after = paused(&r);
        (before != after).then_some(after)
    }

    /// Swaps `model` in, and starts recent outcomes from its calibration's.
    pub fn install(&self, model: Arc<TenantModel>) {
        if let Ok(mut r) = self.recent.write() {
            r.seed(&model.calibration.outcomes);
        }
        if let Ok(mut m) = self.model.write() {
            *m = model;
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
    #[serde(default)]
    not_request: Option<NotRequestDetector>,
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
            not_request: self.not_request.as_deref().cloned(),
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
            not_request: s.not_request.map(Arc::new),
        })
    }
}

/// Loads a tenant's state from the record: area counts by SQL (no vectors
/// read) and the latest stored model; `recent` is the empty window of
/// recent outcomes the model's calibration starts.
pub async fn load(
    memory: &CaseMemory,
    tenant: &str,
    recent: RecentOutcomes,
) -> Result<TenantState, EngineError> {
    let counts = memory.record().area_counts(tenant).await?;
    let state = TenantState {
        recent: RwLock::new(recent),
        not_request_paths: RwLock::new(memory.record().not_request_paths(tenant).await?),
        ..TenantState::default()
    };
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
                state.install(Arc::new(m));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_says_when_auto_routing_pauses_and_resumes() {
        let state = TenantState {
            recent: RwLock::new(RecentOutcomes::new(100, 10, 0.9)),
            ..TenantState::default()
        };
        // Nine wrong answers: not enough to take over yet.
        for _ in 0..9 {
            assert_eq!(state.observe_outcome(0.95, false), None);
        }
        // The tenth takes over and puts 0.9 out of reach.
        assert_eq!(state.observe_outcome(0.95, false), Some(true));
        assert_eq!(state.observe_outcome(0.95, false), None);
        // A long run of right answers brings it back once.
        let changes: Vec<bool> = (0..200)
            .filter_map(|_| state.observe_outcome(0.95, true))
            .collect();
        assert_eq!(changes, vec![false]);
    }
}
