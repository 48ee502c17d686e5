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
use appeal_triage::engine::{Engine, EngineConfig, NewAppeal, RoutingConfig};
use appeal_triage::index::config::IndexConfig;
use appeal_triage::record::{AppealData, AppealStatus, Department, Jurisdiction, Place, Tenant};
use clap::Parser;
use triage_domain::Outcome;

use crate::router::{LabelledAppeal, Prediction, Router};

/// How to build the engine router; filled from the `run` command's flags.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Model directory (`--model-dir`); `None` means the service's default.
    pub model_dir: Option<PathBuf>,
    /// Whether supervisor feedback is replayed after each prediction (`--feedback`).
    pub feedback: bool,
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
    opts: EngineOptions,
    ids: HashMap<String, i64>,
    departments: std::collections::HashSet<String>,
}

/// Builds the engine router over a fresh case memory in `opts.data_dir`.
pub fn engine_router(opts: &EngineOptions) -> anyhow::Result<Box<dyn Router>> {
    let mut env = EnvConfig::try_parse_from(["triage-eval"])
        .context("reading APPEAL_TRIAGE_* configuration")?;
    let default_model = env.model.model_dir();
    env.model.model_dir = Some(opts.model_dir.clone().unwrap_or(default_model));
    env.model.data_dir = opts.data_dir.clone();
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating {}", opts.data_dir.display()))?;
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
    Ok(Box::new(EngineRouter {
        runtime,
        engine,
        opts: opts.clone(),
        ids: HashMap::new(),
        departments: Default::default(),
    }))
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
        let mut labels: Vec<&str> = train.iter().map(|a| a.label.as_str()).collect();
        labels.sort_unstable();
        labels.dedup();
        for l in labels {
            self.ensure_department(l)?;
        }
        let engine = self.engine.clone();
        let memory = engine.memory().clone();
        let bar = crate::progress::items(train.len() as u64, "import train");
        self.runtime.block_on(async {
            for chunk in train.chunks(512) {
                for a in chunk {
                    let redacted = triage_domain::pii::redact(&a.text).text;
                    let data = AppealData {
                        tenant_id: TENANT.into(),
                        external_id: Some(a.id.clone()),
                        text: a.text.clone(),
                        redacted_text: redacted,
                        language: None,
                        place: place_of(a),
                        channel: None,
                        applicant_category: None,
                        received_at: a.created_at,
                        status: AppealStatus::Imported,
                        department: Some(a.label.clone()),
                    };
                    memory.record().insert_appeal(&data, "eval-import").await?;
                }
                memory.drain_outbox().await?;
                bar.inc(chunk.len() as u64);
            }
            bar.finish();
            memory.index().optimize().await?;
            engine.invalidate(TENANT);
            engine
                .refit(TENANT)
                .await
                .map_err(|e| anyhow::anyhow!("refit: {e}"))?;
            anyhow::Ok(())
        })
    }

    fn predict(&mut self, a: &LabelledAppeal) -> anyhow::Result<Prediction> {
        let appeal = NewAppeal {
            external_id: Some(a.id.clone()),
            text: a.text.clone(),
            place: place_of(a),
            channel: None,
            applicant_category: None,
            received_at: Some(a.created_at),
        };
        let s = self
            .runtime
            .block_on(self.engine.submit(TENANT, appeal, "eval"))
            .map_err(|e| anyhow::anyhow!("row {}: {e}", a.row))?;
        self.ids.insert(a.id.clone(), s.appeal_id);
        let d = s.decision;
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
        let model = state.map(|s| s.model());
        serde_json::json!({
            "model_fingerprint": self.engine.memory().fingerprint(),
            "case_memory_version": self.engine.memory().index().version(),
            "head_version": model.as_ref().map(|m| m.version),
            "temperature": model.as_ref().map(|m| m.calibration.temperature),
            "conformal_q": model.as_ref().and_then(|m| m.calibration.conformal_q),
            "feedback": self.opts.feedback,
        })
    }
}
