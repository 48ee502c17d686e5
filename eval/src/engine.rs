//! Plugs the real routing engine into the harness: offline replay in-process.
//!
//! `fit` imports the training appeals into a fresh case memory in a scratch data
//! directory (record + embedded Qdrant engine + the real model), builds the
//! index and fits the tenant's routing head and calibration, exactly as the
//! service does after `appeal-triage import`. `predict` submits each test
//! appeal through [`Engine::submit`] (so it is recorded and becomes visible to
//! duplicate detection, as in production) and `feedback` confirms the true
//! department as a supervisor would, which the very next appeal sees.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use appeal_triage::config::ModelConfig;
use appeal_triage::engine::{Engine, EngineConfig, EngineError, NewAppeal, RoutingConfig};
use appeal_triage::index::config::IndexConfig;
use appeal_triage::record::{AppealData, AppealStatus, Department, Jurisdiction, Place, Tenant};
use clap::Parser;
use triage_domain::{NotRequestReason, Outcome};

use crate::router::{LabelledAppeal, Prediction, Router};

/// How to build the engine router; filled from the `run` command's flags.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Model directory (`--model-dir`); `None` means the service's default.
    pub model_dir: Option<PathBuf>,
    /// Whether supervisor feedback is replayed after each prediction (`--feedback`).
    pub feedback: bool,
    /// Days after which an auto-routed test appeal's outcome is replayed
    /// (`--auto-feedback-days`; 0: never).
    pub auto_feedback_days: u32,
    /// Substrings (any case) of category levels marking an appeal as not a
    /// request (`--not-request-categories`); empty: none.
    pub not_request_categories: Vec<String>,
    /// Scratch directory for the engine's temporary case memory; created by the
    /// harness inside the output directory and deleted afterwards.
    pub data_dir: PathBuf,
    /// Target precision of automatic routing (`--target-precision`), for engines
    /// that calibrate their auto-routing threshold.
    pub target_precision: f64,
    /// Miscoverage level of conformal sets (`--conformal-alpha`).
    pub conformal_alpha: f64,
}

/// The tenant the replay runs as.
const TENANT: &str = "eval";

/// Index and model flags parsed from the environment only (APPEAL_TRIAGE_*),
/// so the eval uses the same backend selection as the service.
#[derive(Parser)]
struct EnvConfig {
    #[command(flatten)]
    model: ModelConfig,
    #[command(flatten)]
    index: IndexConfig,
    #[command(flatten)]
    routing: RoutingConfig,
}

/// The engine behind the [`Router`] seam.
pub struct EngineRouter {
    runtime: tokio::runtime::Runtime,
    engine: Arc<Engine>,
    cfg: EngineConfig,
    opts: EngineOptions,
    /// Fits so far: each fit after the first (the next fold) starts over in a
    /// fresh case memory, so no fold sees another's test appeals as history.
    fits: usize,
    ids: HashMap<String, i64>,
    departments: std::collections::HashSet<String>,
    /// Test rows the engine refused as invalid input (each counts as a miss),
    /// with the first few reasons.
    refused: usize,
    refused_examples: Vec<String>,
    /// Auto-routed test appeals whose suggestion was wrong, waiting for the
    /// department to send them back: (received at, appeal id, truth).
    sent_back: std::collections::VecDeque<(i64, i64, String)>,
    /// Auto-routed test appeals sent back and decided, and confirmed by
    /// silence, so far.
    auto_outcomes: (usize, usize),
    /// Test appeals taken for not a request, against the marked categories.
    not_request: NotRequestCounts,
}

/// How the engine's not-a-request findings compare with the test appeals'
/// marked categories.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct NotRequestCounts {
    /// Test appeals filed under a marked category (the truth).
    marked: usize,
    /// Findings by the text detector, and how many of them were marked.
    by_text: usize,
    by_text_marked: usize,
    /// Findings by the marked category itself.
    by_category: usize,
    /// Findings as a campaign repeat, and how many of them were marked.
    by_campaign: usize,
    by_campaign_marked: usize,
}

/// Whether a category path has a level containing one of `patterns`.
fn marked(category: &[String], patterns: &[String]) -> bool {
    category.iter().any(|level| {
        let level = level.to_lowercase();
        patterns
            .iter()
            .any(|p| !p.is_empty() && level.contains(&p.to_lowercase()))
    })
}

/// Builds the engine router over a fresh case memory in `opts.data_dir`.
pub fn engine_router(opts: &EngineOptions) -> anyhow::Result<Box<dyn Router>> {
    let mut env = EnvConfig::try_parse_from(["triage-eval"])
        .context("reading APPEAL_TRIAGE_* configuration")?;
    let default_model = env.model.model_dir();
    env.model.model_dir = Some(opts.model_dir.clone().unwrap_or(default_model));
    env.routing.target_precision = opts.target_precision;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cfg = EngineConfig {
        model: env.model,
        index: env.index,
        database_url: None,
        routing: env.routing,
    };
    let engine = open_engine(&runtime, &cfg, &opts.data_dir, opts)?;
    Ok(Box::new(EngineRouter {
        runtime,
        engine,
        cfg,
        opts: opts.clone(),
        fits: 0,
        ids: HashMap::new(),
        departments: Default::default(),
        refused: 0,
        refused_examples: Vec::new(),
        sent_back: Default::default(),
        auto_outcomes: (0, 0),
        not_request: NotRequestCounts::default(),
    }))
}

/// Opens an engine over a fresh case memory in `dir`, with the eval tenant.
fn open_engine(
    runtime: &tokio::runtime::Runtime,
    cfg: &EngineConfig,
    dir: &std::path::Path,
    opts: &EngineOptions,
) -> anyhow::Result<Arc<Engine>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cfg = cfg.clone();
    cfg.model.data_dir = dir.to_path_buf();
    let engine = runtime
        .block_on(Engine::open(&cfg))
        .map_err(|e| anyhow::anyhow!("opening the engine: {e}"))?;
    runtime.block_on(engine.memory().record().upsert_tenant(&Tenant {
        id: TENANT.into(),
        name: "Offline evaluation".into(),
        jurisdiction: Jurisdiction::Ru,
        alpha: opts.conformal_alpha,
        auto_threshold: 0.9,
    }))?;
    Ok(engine)
}

/// The place of a labelled appeal, as the record stores it.
pub fn place_of(a: &LabelledAppeal) -> Place {
    Place {
        district: a.district.clone(),
        municipality: a.municipality.clone(),
        lat: a.lat,
        lon: a.lon,
        address: None,
    }
}

impl EngineRouter {
    /// With `--auto-feedback-days`: the outcomes of auto-routed test appeals
    /// received more than that many days before `now` (appeal time): wrong
    /// ones sent back and decided, then the rest confirmed by silence through
    /// the service's own path.
    fn auto_outcomes(&mut self, now: i64) -> anyhow::Result<()> {
        let days = self.opts.auto_feedback_days;
        if days == 0 {
            return Ok(());
        }
        let before = now - i64::from(days) * 86_400_000;
        let engine = self.engine.clone();
        while self
            .sent_back
            .front()
            .is_some_and(|(at, _, _)| *at < before)
        {
            let (_, id, truth) = self.sent_back.pop_front().expect("checked");
            self.ensure_department(&truth)?;
            self.runtime
                .block_on(async {
                    engine
                        .reroute(TENANT, id, "not ours", "eval-department")
                        .await?;
                    engine
                        .decide(TENANT, id, &truth, None, "eval-supervisor")
                        .await
                })
                .map_err(|e| anyhow::anyhow!("appeal {id}: sent back: {e}"))?;
            self.auto_outcomes.0 += 1;
        }
        self.auto_outcomes.1 += self
            .runtime
            .block_on(engine.confirm_unreturned(TENANT, before))
            .map_err(|e| anyhow::anyhow!("confirming by silence: {e}"))?;
        Ok(())
    }

    fn count_not_request(&mut self, a: &LabelledAppeal, d: &triage_domain::RoutingDecision) {
        let truth = marked(&a.category, &self.opts.not_request_categories);
        let c = &mut self.not_request;
        c.marked += usize::from(truth);
        match d.not_a_request.as_ref().map(|n| n.reason) {
            Some(NotRequestReason::Text) => {
                c.by_text += 1;
                c.by_text_marked += usize::from(truth);
            }
            Some(NotRequestReason::Category) => c.by_category += 1,
            Some(NotRequestReason::Campaign) => {
                c.by_campaign += 1;
                c.by_campaign_marked += usize::from(truth);
            }
            None => {}
        }
    }

    fn ensure_department(&mut self, code: &str) -> anyhow::Result<()> {
        if self.departments.insert(code.to_string()) {
            self.runtime
                .block_on(
                    self.engine
                        .memory()
                        .record()
                        .upsert_department(&Department {
                            tenant_id: TENANT.into(),
                            code: code.into(),
                            names: Default::default(),
                            description: String::new(),
                            areas: Vec::new(),
                            auto_threshold: None,
                            active: true,
                        }),
                )?;
        }
        Ok(())
    }
}

impl Router for EngineRouter {
    fn name(&self) -> String {
        "engine".into()
    }

    fn fit(&mut self, train: &[LabelledAppeal]) -> anyhow::Result<()> {
        if self.fits > 0 {
            // The next fold: a fresh case memory in a directory of its own
            // (the previous fold's engine is dropped when replaced, and
            // flushes into its directory, which still exists).
            let dir = self.opts.data_dir.join(format!("fold-{}", self.fits));
            let fresh = open_engine(&self.runtime, &self.cfg, &dir, &self.opts)?;
            self.engine = fresh;
            self.ids.clear();
            self.sent_back.clear();
            self.departments.clear();
        }
        self.fits += 1;
        let mut labels: Vec<&str> = train.iter().map(|a| a.label.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        for l in labels {
            self.ensure_department(l)?;
        }
        let engine = self.engine.clone();
        let memory = engine.memory().clone();
        let patterns = self.opts.not_request_categories.clone();
        let bar = crate::progress::items(train.len() as u64, "import train");
        self.runtime.block_on(async {
            for chunk in train.chunks(512) {
                for a in chunk {
                    let text = triage_domain::text::normalise(&a.text).text;
                    let redacted = appeal_triage::import::prepare_text(&text);
                    let data = AppealData {
                        tenant_id: TENANT.into(),
                        external_id: Some(a.id.clone()),
                        text,
                        redacted_text: redacted,
                        language: None,
                        place: place_of(a),
                        channel: None,
                        applicant_category: None,
                        category: a.category.clone(),
                        received_at: a.created_at,
                        status: AppealStatus::Imported,
                        department: Some(a.label.clone()),
                        submitted_by: None,
                    };
                    memory.record().insert_appeal(&data, "eval-import").await?;
                }
                memory.drain_outbox().await?;
                bar.inc(chunk.len() as u64);
            }
            bar.finish();
            memory.index().optimize().await?;
            if !patterns.is_empty() {
                // Mark the catalogue as an admin would: seed it from history,
                // then flag the categories the patterns name.
                let record = memory.record();
                record.seed_categories(TENANT, "uk").await?;
                for mut c in record.categories(TENANT).await? {
                    if marked(&c.path, &patterns) {
                        c.not_request = true;
                        record.upsert_category(&c).await?;
                    }
                }
            }
            engine.invalidate(TENANT);
            engine
                .refit(TENANT)
                .await
                .map_err(|e| anyhow::anyhow!("refit: {e}"))?;
            anyhow::Ok(())
        })
    }

    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        self.auto_outcomes(a.created_at)?;
        let appeal = NewAppeal {
            external_id: Some(a.id.clone()),
            text: a.text.clone(),
            place: place_of(a),
            channel: None,
            applicant_category: None,
            received_at: Some(a.created_at),
            category: a.category.clone(),
        };
        let s = match self
            .runtime
            .block_on(self.engine.submit(TENANT, appeal, "eval"))
        {
            Ok(s) => s,
            // A row the engine refuses (as it would over HTTP, with a 4xx) is
            // counted and scored as a miss, not the end of the run.
            Err(EngineError::InvalidInput(reason)) => {
                self.refused += 1;
                if self.refused_examples.len() < 5 {
                    self.refused_examples
                        .push(format!("row {}: {reason}", a.row));
                }
                return Ok(Prediction {
                    ranked: Vec::new(),
                    confidence: 0.0,
                    auto: false,
                    prediction_set: Vec::new(),
                    language: None,
                    not_a_request: None,
                });
            }
            Err(e) => anyhow::bail!("row {}: {e}", a.row),
        };
        self.ids.insert(a.id.clone(), s.appeal_id);
        let d = s.decision;
        self.count_not_request(a, &d);
        if self.opts.auto_feedback_days > 0
            && d.decision == Outcome::AutoRouted
            && d.department.as_deref() != Some(a.label.as_str())
        {
            self.sent_back
                .push_back((a.created_at, s.appeal_id, a.label.clone()));
        }
        Ok(Prediction {
            ranked: d
                .alternatives
                .iter()
                .map(|x| (x.department.clone(), x.probability))
                .collect(),
            confidence: d.confidence,
            auto: d.decision == Outcome::AutoRouted,
            prediction_set: d.prediction_set,
            language: Some(d.language),
            not_a_request: d.not_a_request.as_ref().map(|n| n.reason.as_str().into()),
        })
    }

    fn feedback(&mut self, a: &LabelledAppeal) -> anyhow::Result<()> {
        if !self.opts.feedback {
            return Ok(());
        }
        let Some(&id) = self.ids.get(&a.id) else {
            return Ok(());
        };
        self.ensure_department(&a.label)?;
        self.runtime
            .block_on(
                self.engine
                    .decide(TENANT, id, &a.label, None, "eval-supervisor"),
            )
            .map_err(|e| anyhow::anyhow!("row {}: feedback: {e}", a.row))?;
        Ok(())
    }

    fn info(&self) -> serde_json::Value {
        let state = self.runtime.block_on(self.engine.state(TENANT)).ok();
        let recent = state
            .as_ref()
            .and_then(|s| s.recent.read().ok().map(|r| (r.live(), r.active())));
        let model = state.map(|s| s.model());
        let c = &self.not_request;
        let share = |k: usize, n: usize| (n > 0).then(|| k as f64 / n as f64);
        let detector = model.as_ref().and_then(|m| m.not_request.as_deref());
        let not_request = serde_json::json!({
            "categories": self.opts.not_request_categories,
            "counts": c,
            "text_precision": share(c.by_text_marked, c.by_text),
            "text_recall": share(c.by_text_marked, c.marked),
            "detector": detector.map(|d| d.summary()),
        });
        serde_json::json!({
            "model_fingerprint": self.engine.memory().fingerprint(),
            "case_memory_version": self.engine.memory().index().version(),
            "head_version": model.as_ref().map(|m| m.version),
            "temperature": model.as_ref().map(|m| m.calibration.temperature),
            "conformal_q": model.as_ref().and_then(|m| m.calibration.conformal_q),
            "feedback": self.opts.feedback,
            "auto_feedback_days": self.opts.auto_feedback_days,
            "auto_sent_back": self.auto_outcomes.0,
            "auto_confirmed_by_silence": self.auto_outcomes.1,
            "recent_outcomes_live": recent.map(|r| r.0),
            "recent_outcomes_active": recent.map(|r| r.1),
            "not_a_request": not_request,
            "refused": self.refused,
            "refused_examples": self.refused_examples,
        })
    }
}
