//! Plugs the real routing engine into the harness. Owned by the lead: the
//! body of [`engine_router`] is a placeholder until the engine is wired in.

use std::path::PathBuf;

use crate::router::Router;

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

/// Builds the engine router. Until the engine is wired in this fails, and so
/// does every `run` without `--baselines-only`.
pub fn engine_router(opts: &EngineOptions) -> anyhow::Result<Box<dyn Router>> {
    let _ = opts;
    anyhow::bail!("engine router not wired yet")
}
