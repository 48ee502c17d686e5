//! The routing engine: takes an appeal, records it, routes it, and learns from
//! every supervisor decision.
//!
//! It orchestrates; it decides nothing itself. Decisions come from the domain
//! crate ([`triage_domain::routing`]), storage from the [`CaseMemory`]. The HTTP
//! layer, the CLI and the eval tool all drive this one type.

mod annotate;
mod appeals;
mod calibrate;
mod config;
mod error;
mod fit;
mod lookup;
mod route;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use triage_domain::routing::{weights, Calibration, RecentOutcomes, Scorer, WeightFitOptions};
use triage_domain::{Place, RouteInput, RoutingDecision};
use triage_models::Embedder;

use crate::config::ModelConfig;
use crate::datadir::DataDir;
use crate::index::config::{open_index, IndexConfig};
use crate::memory::CaseMemory;
use crate::record::{now_ms, Appeal, AppealStatus, DecisionRow, Record, Tenant};

/// Calibration cases at or above a learned auto-routing threshold needed to trust it.
const AUTO_THRESHOLD_MIN_CASES: usize = 50;

pub use config::RoutingConfig;
pub use error::EngineError;
pub use fit::{department_docs, fit_router, DepartmentDoc, Fitted};
pub use lookup::{
    case_texts, place_neighbours, spot_of, valid_spot, CaseDetail, CaseTexts, Spot, SpotCases,
    SpotQuery,
};
pub use state::{TenantModel, TenantState};

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Everything needed to open an engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Model and data directory.
    pub model: ModelConfig,
    /// Which vector index.
    pub index: IndexConfig,
    /// System of record URL; default: SQLite in the data directory.
    pub database_url: Option<String>,
    /// Routing behaviour.
    pub routing: RoutingConfig,
}

/// An appeal as a portal submits it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewAppeal {
    /// The portal's id for the appeal (makes submission idempotent).
    pub external_id: Option<String>,
    /// The appeal text as written.
    pub text: String,
    /// Where it is about.
    #[serde(default)]
    pub place: Place,
    /// Channel (portal, email, open311...).
    pub channel: Option<String>,
    /// Applicant category (may make it privileged).
    pub applicant_category: Option<String>,
    /// Received at (unix ms); default: now.
    pub received_at: Option<i64>,
    /// The category the citizen picked, general to specific (empty: none).
    #[serde(
        default,
        deserialize_with = "triage_domain::category::deserialize_path"
    )]
    pub category: Vec<String>,
}

impl NewAppeal {
    /// What routing sees of this appeal: its masked text and its facts.
    fn route_input(&self, tenant: &str, redacted: String, received_at: i64) -> RouteInput {
        RouteInput {
            tenant: tenant.to_string(),
            text: redacted,
            place: self.place.clone(),
            received_at,
            channel: self.channel.clone(),
            applicant_category: self.applicant_category.clone(),
            category: self.category.clone(),
        }
    }
}

/// Channels an appeal can come through (`channel`; anything else is refused).
pub const CHANNELS: [&str; 11] = [
    "web",
    "email",
    "phone",
    "mail",
    "in_person",
    "mobile_app",
    "social",
    "chatbot",
    "open311",
    "portal",
    "other",
];

/// Earliest accepted `received_at`: 1990-01-01T00:00:00Z, in unix ms.
pub const EARLIEST_RECEIVED_AT_MS: i64 = 631_152_000_000;
/// How far in the future `received_at` may be (clock skew between systems).
pub const RECEIVED_AT_SKEW_MS: i64 = 86_400_000;
/// Longest `external_id`, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 256;

/// An external id: 1 to [`MAX_EXTERNAL_ID_CHARS`] letters, digits and
/// `-_.:/#@+` (portal ids such as `Ш-3553` or `ext-42/2021`), nothing that
/// could smuggle a line break or markup into a log or a page.
fn check_external_id(ext: &str) -> Result<()> {
    let n = ext.chars().count();
    if n == 0 || n > MAX_EXTERNAL_ID_CHARS {
        return Err(EngineError::InvalidInput(format!(
            "external_id is {n} characters; 1 to {MAX_EXTERNAL_ID_CHARS} are allowed"
        )));
    }
    if let Some(c) = ext
        .chars()
        .find(|c| !(c.is_alphanumeric() || "-_.:/#@+".contains(*c)))
    {
        return Err(EngineError::InvalidInput(format!(
            "external_id holds {c:?}; only letters, digits and -_.:/#@+ are allowed"
        )));
    }
    Ok(())
}

/// The answer to a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Appeal id in the record.
    pub appeal_id: i64,
    /// False when the external id was already known (nothing changed).
    pub created: bool,
    /// Status after routing.
    pub status: AppealStatus,
    /// The routing decision.
    pub decision: RoutingDecision,
}

/// An appeal with its latest suggestion and the decisions taken on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppealView {
    /// The stored appeal.
    pub appeal: Appeal,
    /// The latest routing decision, if routed.
    pub suggestion: Option<RoutingDecision>,
    /// Decisions and reroutes, oldest first.
    pub decisions: Vec<DecisionRow>,
}

/// What readiness probes report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// Model loaded (always true once the engine exists).
    pub model: bool,
    /// System of record answers.
    pub record: bool,
    /// Writes to the system of record commit (false after a commit failed
    /// for want of disk, until a probe commit works again).
    pub record_writable: bool,
    /// Vector index answers.
    pub index: bool,
    /// Index writes not yet applied (`None` when the record does not answer).
    /// New appeals are routed against the index without them until they are.
    pub outbox_pending: Option<i64>,
    /// Index writes set aside because the model refuses their text; the
    /// service serves, but those appeals are not similar cases until an admin
    /// retries or drops them.
    pub dead_letters: Option<i64>,
}

impl Readiness {
    /// All parts ready.
    pub fn ok(&self) -> bool {
        self.model && self.record && self.record_writable && self.index
    }
}

/// A routing decision as the record stores it (JSON).
fn parse_suggestion(json: &str) -> Result<RoutingDecision> {
    serde_json::from_str(json).map_err(|e| EngineError::Internal(format!("stored suggestion: {e}")))
}

/// The routing engine. Share it as `Arc<Engine>`.
pub struct Engine {
    memory: Arc<CaseMemory>,
    routing: RoutingConfig,
    scorer: Scorer,
    tenants: RwLock<HashMap<String, Arc<TenantState>>>,
    _datadir: Option<DataDir>,
}

impl Engine {
    /// Opens the data directory (locked against a second process), the record,
    /// the index and the model, then replays the outbox.
    pub async fn open(cfg: &EngineConfig) -> Result<Arc<Self>> {
        let datadir = DataDir::open(&cfg.model.data_dir)
            .map_err(|e| EngineError::Unavailable(e.to_string()))?;
        let url = cfg
            .database_url
            .clone()
            .unwrap_or_else(|| datadir.record_url());
        let record = Record::open(&url).await?;
        let model_dir: PathBuf = cfg.model.model_dir();
        let options = cfg.model.embedder_options();
        let embedder = tokio::task::spawn_blocking(move || Embedder::load(&model_dir, options))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .map_err(|e| EngineError::Unavailable(format!("model: {e}")))?;
        let index = open_index(&cfg.index, &datadir.index_dir(), embedder.dim()).await?;
        let memory = CaseMemory::new(record, index, Arc::new(embedder));
        let engine = Self::with_memory(Arc::new(memory), cfg.routing.clone(), Some(datadir));
        let replayed = engine.memory.drain_outbox().await?;
        if replayed > 0 {
            tracing::info!(replayed, "outbox replayed into the index");
        }
        Ok(Arc::new(engine))
    }

    /// An engine over an already opened case memory.
    pub fn with_memory(
        memory: Arc<CaseMemory>,
        routing: RoutingConfig,
        datadir: Option<DataDir>,
    ) -> Self {
        Self {
            memory,
            scorer: Scorer::new(routing.params()),
            routing,
            tenants: RwLock::new(HashMap::new()),
            _datadir: datadir,
        }
    }

    /// The case memory.
    pub fn memory(&self) -> &Arc<CaseMemory> {
        &self.memory
    }

    /// Routing configuration.
    pub fn routing(&self) -> &RoutingConfig {
        &self.routing
    }

    /// Whether the model and stores answer.
    pub async fn ready(&self) -> Readiness {
        let record = self.memory.record();
        Readiness {
            model: true,
            record: record.ping().await,
            record_writable: record.writable().await,
            index: self.memory.index().snapshot().await.is_ok(),
            outbox_pending: record.outbox_len().await.ok(),
            dead_letters: record.count_dead_letters().await.ok(),
        }
    }

    async fn tenant(&self, tenant: &str) -> Result<Tenant> {
        self.memory
            .record()
            .tenant(tenant)
            .await?
            .ok_or_else(|| EngineError::UnknownTenant(tenant.to_string()))
    }

    /// The learned state of a tenant, loaded from the index on first use.
    pub async fn state(&self, tenant: &str) -> Result<Arc<TenantState>> {
        if let Some(s) = self
            .tenants
            .read()
            .ok()
            .and_then(|m| m.get(tenant).cloned())
        {
            return Ok(s);
        }
        let recent = RecentOutcomes::new(
            self.routing.recent_outcomes,
            self.routing.recent_outcomes_min,
            self.routing.target_precision,
        );
        let fresh = Arc::new(state::load(&self.memory, tenant, recent).await?);
        let mut map = self
            .tenants
            .write()
            .map_err(|_| EngineError::Internal("tenant state lock poisoned".into()))?;
        Ok(map.entry(tenant.to_string()).or_insert(fresh).clone())
    }

    /// Refits the tenant's head and calibration from the stored cases and swaps
    /// them in. Runs off the request path (call it from a background task).
    pub async fn refit(&self, tenant: &str) -> Result<Arc<TenantModel>> {
        let t = self.tenant(tenant).await?;
        let state = self.state(tenant).await?;
        if state.refitting.swap(true, Ordering::AcqRel) {
            return Ok(state.model());
        }
        let result = self.refit_inner(&t, &state).await;
        state.refitting.store(false, Ordering::Release);
        result
    }

    async fn refit_inner(&self, t: &Tenant, state: &Arc<TenantState>) -> Result<Arc<TenantModel>> {
        let started = std::time::Instant::now();
        state.since_refit.store(0, Ordering::Relaxed);
        let cases =
            state::confirmed_cases(&self.memory, &t.id, self.routing.head_max_cases).await?;
        let n = cases.len();
        let held = if n >= 100 {
            self.routing.calibration_cases.min(n / 5)
        } else {
            0
        };
        let texts = Arc::new(
            lookup::case_texts(&self.memory, &cases, self.routing.spot_from_address).await?,
        );
        let docs = Arc::new(fit::department_docs(
            &self.memory.record().departments(&t.id).await?,
        ));
        let cases = Arc::new(cases);
        let calibration = if held > 0 {
            let train_end = n - held;
            let known =
                calibrate::known_before(&cases, train_end, self.routing.calibration_gap_days);
            let (c, tx, dx) = (cases.clone(), texts.clone(), docs.clone());
            let fitted_a =
                tokio::task::spawn_blocking(move || fit::fit_router(&c[..known], &tx, &dx))
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
            let before = calibrate::Before {
                fitted: fitted_a,
                areas: fit::areas_of(&cases[..known]),
                categories: fit::categories_of(&cases[..known], &texts),
                confirmed: known as u64,
                stale: self.routing.calibrate_stale,
                known_until: cases[known].payload.received_at,
                activity: fit::activity_of(&cases[..known], self.routing.activity_half_life_days),
            };
            let cal = calibrate::calibration_cases(
                &self.memory,
                &t.id,
                &self.scorer,
                before,
                &cases[train_end..],
                &texts,
                &self.routing,
            )
            .await?;
            // Learn the signal weights on the held-out cases, then calibrate
            // the scores they give.
            let configured = self.scorer.params.weights;
            let opts = WeightFitOptions {
                min_cases: self.routing.learn_weights_min,
                ..WeightFitOptions::default()
            };
            let (cal, learned) = if self.routing.learn_weights_min == 0 {
                (cal, None)
            } else {
                tokio::task::spawn_blocking(move || {
                    let w = weights::fit(&cal, &configured, &opts);
                    (cal, w)
                })
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))?
            };
            let scored = calibrate::scored_cases(&cal, learned.as_ref(), &configured);
            Calibration {
                weights: learned,
                ..Calibration::fit(&scored, t.alpha).with_auto_threshold(
                    &scored,
                    self.routing.target_precision,
                    AUTO_THRESHOLD_MIN_CASES,
                )
            }
        } else {
            Calibration {
                alpha: t.alpha,
                ..Calibration::default()
            }
        };
        let (c, tx) = (cases.clone(), texts.clone());
        let fitted = tokio::task::spawn_blocking(move || fit::fit_router(&c, &tx, &docs))
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let marked = self.memory.record().not_request_paths(&t.id).await?;
        let (c, tx, m) = (cases.clone(), texts.clone(), marked.clone());
        let precision = self.routing.not_request_precision;
        let not_request =
            tokio::task::spawn_blocking(move || fit::not_request_detector(&c, &tx, &m, precision))
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))?;
        *state.not_request_paths.write().expect("paths lock") = marked;
        *state.areas.write().expect("areas lock") = fit::areas_of(&cases);
        *state.categories.write().expect("categories lock") = fit::categories_of(&cases, &texts);
        let activity = fit::activity_of(&cases, self.routing.activity_half_life_days);
        *state.activity.write().expect("activity lock") = activity.clone();
        state.confirmed.store(n as u64, Ordering::Relaxed);
        let version = state.model().version + 1;
        let families = fitted.roles.families().len();
        let model = Arc::new(TenantModel {
            head: fitted.head.map(Arc::new),
            roles: Arc::new(fitted.roles),
            lexical: fitted.lexical.map(Arc::new),
            calibration,
            version,
            fitted_on: n,
            activity,
            not_request: not_request.map(Arc::new),
        });
        let body = model
            .to_json()
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        self.memory
            .record()
            .save_routing_model(&t.id, version, &body)
            .await?;
        state.install(model.clone());
        let detail = serde_json::json!({
            "version": version,
            "cases": n,
            "held_out": held,
            "families": families,
            "temperature": model.calibration.temperature,
            "weights": model.calibration.weights,
            "conformal_q": model.calibration.conformal_q,
            "alpha": model.calibration.alpha,
            "not_request": model.not_request.as_ref().map(|d| d.summary()),
            "seconds": started.elapsed().as_secs_f64(),
        });
        self.memory
            .record()
            .record_event(&t.id, "router", "model.refit", &detail.to_string())
            .await?;
        tracing::info!(tenant = %t.id, version, cases = n, "routing model refitted");
        Ok(model)
    }

    fn maybe_refit(self: &Arc<Self>, tenant: &str, state: &TenantState) {
        if state.since_refit.load(Ordering::Relaxed) >= self.routing.refit_after
            && !state.refitting.load(Ordering::Acquire)
        {
            let engine = self.clone();
            let tenant = tenant.to_string();
            tokio::spawn(async move {
                if let Err(e) = engine.refit(&tenant).await {
                    tracing::warn!(tenant = %tenant, error = %e, "background refit failed");
                }
            });
        }
    }

    /// What an appeal must be to be stored and routed: control characters
    /// dropped from its text (never a reason to refuse it), then checked.
    fn admit(&self, mut a: NewAppeal) -> Result<NewAppeal> {
        a.text = triage_domain::text::normalise(&a.text).text;
        a.category = triage_domain::category::tidy(a.category);
        self.validate(&a)?;
        Ok(a)
    }

    fn validate(&self, a: &NewAppeal) -> Result<()> {
        if a.text.trim().is_empty() {
            return Err(EngineError::InvalidInput("text is empty".into()));
        }
        if !triage_domain::text::has_letter_or_digit(&a.text) {
            return Err(EngineError::InvalidInput(
                "text has no letter or digit: nothing to route on".into(),
            ));
        }
        let limit = self.memory.embedder().options().max_text_bytes;
        if a.text.len() > limit {
            return Err(EngineError::InvalidInput(format!(
                "text is {} bytes; the limit is {limit}",
                a.text.len()
            )));
        }
        triage_domain::category::validate(&a.category)
            .map_err(|e| EngineError::InvalidInput(e.to_string()))?;
        if let Some(ext) = &a.external_id {
            check_external_id(ext)?;
        }
        if let Some(ch) = &a.channel {
            if !CHANNELS.contains(&ch.as_str()) {
                return Err(EngineError::InvalidInput(format!(
                    "channel {ch:?} is not one of {}",
                    CHANNELS.join(", ")
                )));
            }
        }
        if let Some(at) = a.received_at {
            let latest = now_ms() + RECEIVED_AT_SKEW_MS;
            if !(EARLIEST_RECEIVED_AT_MS..=latest).contains(&at) {
                return Err(EngineError::InvalidInput(format!(
                    "received_at {at} is outside 1990-01-01 .. now + 1 day (unix ms)"
                )));
            }
        }
        if let (Some(lat), Some(lon)) = (a.place.lat, a.place.lon) {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(EngineError::InvalidInput(format!(
                    "place: latitude {lat} / longitude {lon} out of range"
                )));
            }
        }
        Ok(())
    }

    /// Forgets the learned state of a tenant (after a bulk import), so it is
    /// rebuilt from the index on next use.
    pub fn invalidate(&self, tenant: &str) {
        if let Ok(mut m) = self.tenants.write() {
            m.remove(tenant);
        }
    }

    /// Reads again which categories the tenant marks as not a request (call
    /// after its category catalogue changed): the next appeal sees them; the
    /// text detector learns them at the next refit.
    pub async fn categories_changed(&self, tenant: &str) -> Result<()> {
        let paths = self.memory.record().not_request_paths(tenant).await?;
        let state = self.state(tenant).await?;
        if let Ok(mut p) = state.not_request_paths.write() {
            *p = paths;
        }
        Ok(())
    }
}
