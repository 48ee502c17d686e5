//! Command-line and environment configuration shared by every subcommand.

use std::path::PathBuf;

use clap::Args;
use triage_models::{EmbedderOptions, WeightFormat};

/// Where data lives and how the model is run. Every flag has an env var twin.
#[derive(Debug, Clone, Args)]
pub struct ModelConfig {
    /// The one data directory of the service (models, record, index).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_DATA_DIR",
        default_value = "data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Model directory; default `<data-dir>/models/multilingual-e5-small`.
    #[arg(long, env = "APPEAL_TRIAGE_MODEL_DIR", global = true)]
    pub model_dir: Option<PathBuf>,
    /// Weight format of the linear layers: `q4` (4-bit, default) or `f32`.
    #[arg(long, env = "APPEAL_TRIAGE_WEIGHT_FORMAT", default_value_t = WeightFormat::Q4, global = true)]
    pub weight_format: WeightFormat,
    /// Longest accepted appeal text, in bytes.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_MAX_TEXT_BYTES",
        default_value_t = 65_536,
        global = true
    )]
    pub max_text_bytes: usize,
    /// Most texts embedded in one call.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_MAX_BATCH_TEXTS",
        default_value_t = 16_384,
        global = true
    )]
    pub max_batch_texts: usize,
    /// Tokens shared by consecutive windows of a long text (must be below the
    /// model's window; the tiny test model needs 16).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_WINDOW_OVERLAP",
        default_value_t = 64,
        global = true
    )]
    pub window_overlap: usize,
}

impl ModelConfig {
    /// The model directory in effect.
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models").join("multilingual-e5-small"))
    }

    /// Embedder options from this configuration.
    pub fn embedder_options(&self) -> EmbedderOptions {
        EmbedderOptions {
            weight_format: self.weight_format,
            max_text_bytes: self.max_text_bytes,
            max_batch_texts: self.max_batch_texts,
            window_overlap: self.window_overlap,
            ..EmbedderOptions::default()
        }
    }
}
