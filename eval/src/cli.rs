//! Command-line interface of the `triage-eval` binary.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use triage_eval::input::{ColumnMap, Format};

/// Evaluation tools for appeal routing: metrics, fair baselines, plots.
#[derive(Debug, Parser)]
#[command(name = "triage-eval", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate the engine and the baselines on one split; writes DIR/report.{json,md,html}
    /// and DIR/predictions.jsonl.
    Run(Box<RunArgs>),
    /// Compare two reports: which metrics moved beyond noise (bootstrap CIs).
    Compare(CompareArgs),
    /// Suggest department aliases (labels that differ only in legal-form
    /// words, quotes, case or punctuation) as an `alias,department` CSV to
    /// review and pass to `run --department-aliases` or `import`.
    Aliases(AliasArgs),
}

/// Flags of `aliases`.
#[derive(Debug, Args)]
pub struct AliasArgs {
    /// Labelled appeals (CSV or JSONL).
    #[arg(long)]
    pub data: PathBuf,
    /// Column with the department (label).
    #[arg(long, default_value = "department")]
    pub label_col: String,
}

/// Flags of `run`. Split modes: `--data F --train-until D [--test-from D]`,
/// `--train A --test B`, or `--data F --folds K`.
#[derive(Debug, Args, Serialize)]
pub struct RunArgs {
    /// Labelled appeals (CSV or JSONL) for a time split or k-fold.
    #[arg(long, conflicts_with_all = ["train", "test"])]
    pub data: Option<PathBuf>,
    /// Training file (with --test).
    #[arg(long, requires = "test")]
    pub train: Option<PathBuf>,
    /// Test file (with --train).
    #[arg(long, requires = "train")]
    pub test: Option<PathBuf>,
    /// Time split: train on appeals created strictly before this date (ISO 8601).
    #[arg(long, requires = "data", conflicts_with = "folds")]
    pub train_until: Option<String>,
    /// Time split: test on appeals created at or after this date (default: --train-until).
    #[arg(long, requires = "train_until")]
    pub test_from: Option<String>,
    /// Grouped k-fold (duplicate texts never straddle train and test).
    #[arg(long, requires = "data")]
    pub folds: Option<usize>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Input format (default: from the extension: .csv, .jsonl/.ndjson).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Column with the appeal text.
    #[arg(long, default_value = "text")]
    pub text_col: String,
    /// Column with the department (label).
    #[arg(long, default_value = "department")]
    pub label_col: String,
    /// Column with the creation timestamp.
    #[arg(long, default_value = "created_at")]
    pub date_col: String,
    /// Column with the district (optional column).
    #[arg(long, default_value = "district")]
    pub district_col: String,
    /// Column with the municipality (optional column).
    #[arg(long, default_value = "municipality")]
    pub municipality_col: String,
    /// Column with the latitude (optional column).
    #[arg(long, default_value = "lat")]
    pub lat_col: String,
    /// Column with the longitude (optional column).
    #[arg(long, default_value = "lon")]
    pub lon_col: String,
    /// Column with the appeal id.
    #[arg(long, default_value = "id")]
    pub id_col: String,
    /// Merge department labels by this `alias,department` CSV before
    /// anything is fitted (report the merged labels; run without it for the
    /// raw ones). `triage-eval aliases` suggests one.
    #[arg(long)]
    pub department_aliases: Option<PathBuf>,
    /// Columns of the portal's category, general to specific, comma-separated
    /// (at most 4, e.g. `category,reason`); unset: routers see no category.
    #[arg(long, value_delimiter = ',')]
    pub category_cols: Vec<String>,
    /// Category levels that mark an appeal as not a request (thanks), matched
    /// case-insensitively as a substring of any level, comma-separated (e.g.
    /// `подяк,благодар`). The engine's catalogue marks those categories (as
    /// an admin would with `PUT /v1/categories/{code}`), learns them from the
    /// training history, and the report counts what it takes for not a
    /// request against them (`engine.info.not_a_request`). Needs
    /// `--category-cols`. Unset: nothing is marked.
    #[arg(long, value_delimiter = ',', requires = "category_cols")]
    pub not_request_categories: Vec<String>,
    /// Only the baselines (development; the engine is skipped and `engine` is null).
    #[arg(long)]
    pub baselines_only: bool,
    /// Only the engine (development; `baselines` is empty): the baselines' fits
    /// take longer than the engine's whole replay.
    #[arg(long, conflicts_with = "baselines_only")]
    pub engine_only: bool,
    /// Replay supervisor feedback (true label) after each prediction, in time order.
    #[arg(long)]
    pub feedback: bool,
    /// Without `--feedback`: replay what the service learns with no
    /// supervisor at all. An auto-routed test appeal's outcome arrives this
    /// many days (of appeal time) after it: a wrong one is sent back by the
    /// department and its true department decided, a right one is confirmed
    /// by silence as `serve` does (`APPEAL_TRIAGE_CONFIRM_AUTO_AFTER_DAYS`).
    /// Appeals left for review teach nothing. 0: off.
    #[arg(long, default_value_t = 0, conflicts_with = "feedback")]
    pub auto_feedback_days: u32,
    /// Shadow mode: evaluate the running service at this base URL over HTTP
    /// (`POST /v1/appeals:preview`, which stores nothing) instead of an
    /// in-process replay; the service keeps its own case memory.
    #[arg(long, conflicts_with = "feedback")]
    pub url: Option<String>,
    /// API key for --url (portal role of the tenant to evaluate). Never written
    /// to the report.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_API_KEY",
        requires = "url",
        hide_env_values = true
    )]
    #[serde(skip)]
    pub api_key: Option<String>,
    /// Per-request timeout of --url, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub http_timeout: f64,
    /// Model directory for the engine.
    #[arg(long, env = "APPEAL_TRIAGE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Precision the auto-routing threshold should reach (the engine's and
    /// every baseline's; the service's default is the same).
    #[arg(long, default_value_t = 0.95)]
    pub target_precision: f64,
    /// Conformal miscoverage level (sets aim at 1 - alpha coverage).
    #[arg(long, default_value_t = 0.1)]
    pub conformal_alpha: f64,
    /// Values of C tried by the TF-IDF baselines on the validation slice.
    #[arg(long, value_delimiter = ',', default_values_t = [3.0, 10.0, 30.0])]
    pub c_grid: Vec<f64>,
    /// Minimum document frequency of a TF-IDF term.
    #[arg(long, default_value_t = 2)]
    pub min_df: usize,
    /// L-BFGS iteration cap per logistic-regression fit.
    #[arg(long, default_value_t = 300)]
    pub max_iter: usize,
    /// A baseline's validation fit stops once this many L-BFGS iterations bring
    /// no better validation top-1 (checked every 10); 0 runs every fit to the tolerance.
    #[arg(long, default_value_t = 50)]
    pub patience: usize,
}

impl RunArgs {
    /// The column mapping from the flags.
    pub fn columns(&self) -> ColumnMap {
        ColumnMap {
            id: self.id_col.clone(),
            text: self.text_col.clone(),
            label: self.label_col.clone(),
            date: self.date_col.clone(),
            district: self.district_col.clone(),
            municipality: self.municipality_col.clone(),
            lat: self.lat_col.clone(),
            lon: self.lon_col.clone(),
            category: self.category_cols.clone(),
            date_optional: false,
        }
    }
}

/// Flags of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline run: its report.json (or the directory holding it).
    pub a: PathBuf,
    /// New run: its report.json (or the directory holding it).
    pub b: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 1000)]
    pub resamples: usize,
    /// Seed of the resampling (same seed, same intervals).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
