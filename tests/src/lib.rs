//! Shared helpers of the end-to-end tests: where the fixtures and the real model
//! are, and the reference-vector files produced by the independent numpy
//! implementation in `scripts/reference/`.

pub mod qdrant_grpc_endpoint;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use triage_models::{cosine, Embedder, EmbedderOptions, Role};

/// Root of the workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The committed tiny BERT fixture (random weights, real architecture).
pub fn tiny_model_dir() -> PathBuf {
    workspace_root().join("fixtures").join("tiny-e5")
}

/// The real model directory: `TRIAGE_MODEL_DIR`, else the default under `data/`.
///
/// Panics with instructions when it is missing: the real-model tests are part of
/// CI and must never be skipped silently.
pub fn real_model_dir() -> PathBuf {
    let dir = std::env::var_os("TRIAGE_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root()
                .join("data")
                .join("models")
                .join("multilingual-e5-small")
        });
    assert!(
        dir.join("model.e5s1").is_file(),
        "the real model is not installed in {}: run `cargo run -p appeal-triage -- model install` \
         (the README's test command does this first)",
        dir.display()
    );
    dir
}

/// Loads the tiny fixture model with the window overlap its reference uses.
pub fn tiny_embedder(options: EmbedderOptions) -> Embedder {
    Embedder::load(
        &tiny_model_dir(),
        EmbedderOptions {
            window_overlap: 16,
            ..options
        },
    )
    .expect("tiny fixture model loads")
}

/// One reference item.
#[derive(Debug, Deserialize)]
pub struct RefItem {
    /// Stable id, e.g. `uk-1`.
    pub id: String,
    /// Language code.
    pub lang: String,
    /// `query` or `passage`.
    pub role: String,
    /// The text.
    pub text: String,
    /// Token ids of the first window, specials included.
    pub token_ids: Vec<u32>,
    /// Windows the text was cut into.
    pub n_windows: usize,
    /// The expected L2-normalised vector.
    pub vector: Vec<f32>,
}

/// Pairs of item ids with known relations.
#[derive(Debug, Deserialize)]
pub struct RefPairs {
    /// Same meaning, different language.
    pub paraphrase: [String; 2],
    /// Different topics.
    pub unrelated: [String; 2],
}

/// A reference-vector file.
#[derive(Debug, Deserialize)]
pub struct Reference {
    /// sha256 of the weights the vectors were made with.
    pub model_sha256: String,
    /// Window overlap used for long texts.
    pub overlap: usize,
    /// The items.
    pub items: Vec<RefItem>,
    /// Known pairs.
    pub pairs: RefPairs,
}

impl Reference {
    /// Reads a reference JSON file.
    pub fn load(path: &Path) -> Reference {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).expect("valid reference JSON")
    }

    /// The item with `id`.
    pub fn item(&self, id: &str) -> &RefItem {
        self.items
            .iter()
            .find(|i| i.id == id)
            .expect("id in reference")
    }
}

impl RefItem {
    /// The item's role.
    pub fn role(&self) -> Role {
        match self.role.as_str() {
            "query" => Role::Query,
            _ => Role::Passage,
        }
    }
}

/// Embeds every reference item (all of one role in one batch, to exercise
/// packing) and returns `(id, cosine to the reference)`, worst first.
pub fn agreement(embedder: &Embedder, reference: &Reference) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    for role in [Role::Query, Role::Passage] {
        let items: Vec<&RefItem> = reference
            .items
            .iter()
            .filter(|i| i.role() == role)
            .collect();
        let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
        let vectors = embedder.embed(&texts, role).expect("reference texts embed");
        for (item, v) in items.iter().zip(&vectors) {
            assert_eq!(v.len(), item.vector.len(), "{}: dimension", item.id);
            out.push((item.id.clone(), cosine(v, &item.vector)));
        }
    }
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    out
}

/// Opens a routing engine on the tiny fixture model over a fresh embedded case
/// memory in `data_dir` (SQLite record + embedded Qdrant engine), with default
/// routing settings and no `APPEAL_TRIAGE_*` variables consulted.
pub async fn tiny_engine(data_dir: &Path) -> std::sync::Arc<appeal_triage::engine::Engine> {
    tiny_engine_with(data_dir, |_| {}).await
}

/// Parses command-line flags the way the binary does, but with every flag's
/// env twin switched off: a developer's `APPEAL_TRIAGE_*` variables must not
/// change what a test sees.
pub fn parse_flags<T, I, S>(args: I) -> T
where
    T: clap::Parser,
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let matches = T::command()
        .mut_args(|a| a.env(None::<&str>))
        .try_get_matches_from(args)
        .expect("test flags parse");
    T::from_arg_matches(&matches).expect("test flags parse")
}

/// [`tiny_engine`] with the configuration adjusted by `adjust` first.
pub async fn tiny_engine_with(
    data_dir: &Path,
    adjust: impl FnOnce(&mut appeal_triage::engine::EngineConfig),
) -> std::sync::Arc<appeal_triage::engine::Engine> {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        model: appeal_triage::config::ModelConfig,
        #[command(flatten)]
        index: appeal_triage::index::config::IndexConfig,
        #[command(flatten)]
        routing: appeal_triage::engine::RoutingConfig,
    }
    let data = data_dir.to_string_lossy().to_string();
    let model = tiny_model_dir().to_string_lossy().to_string();
    let flags: Flags = parse_flags([
        "test",
        "--data-dir",
        &data,
        "--model-dir",
        &model,
        "--index",
        "embedded",
        "--window-overlap",
        "16",
    ]);
    let mut cfg = appeal_triage::engine::EngineConfig {
        model: flags.model,
        index: flags.index,
        database_url: None,
        routing: flags.routing,
    };
    adjust(&mut cfg);
    appeal_triage::engine::Engine::open(&cfg)
        .await
        .expect("engine opens on the tiny model")
}
