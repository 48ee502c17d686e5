//! The demo tenant's history: which file, importing it (resumable, with a
//! progress bar, optionally only its first rows), and the department
//! catalogue derived from what was imported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::FixedOffset;
use indicatif::{ProgressBar, ProgressStyle};

use super::DemoError;
use crate::engine::Engine;
use crate::import::reader::Item;
use crate::import::{
    self, ColumnMap, ImportOptions, ImportStats, MappingOptions, ReaderLimits, RejectLog,
    RowSource, SourceError,
};
use crate::record::{Department, Record};

/// The shared real export, relative to the repository root (and so to the
/// working directory of `cargo run`).
pub const SHARED_HISTORY: &str = "../shared/data/spb-appeals-dev.csv";

/// The bundled synthetic sample (`fixtures/demo/sample.csv`), compiled in so the
/// demo works from any directory.
pub const BUNDLED_SAMPLE: &str = include_str!("../../../fixtures/demo/sample.csv");

/// Where the bundled sample is written for import, inside the data directory.
const BUNDLED_FILE: &str = "demo-sample.csv";

/// The St Petersburg export writes local (Moscow) time without an offset.
const EXPORT_OFFSET_SECS: i32 = 3 * 3600;

/// The history file the demo imports and how to name it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySource {
    /// The file read.
    pub path: PathBuf,
    /// Human description (`../shared/data/...`, `bundled sample`).
    pub label: String,
}

/// Chooses the history: `explicit` if given (it must exist), else the shared
/// export next to the repository, else the bundled sample written into
/// `data_dir`.
pub fn locate(explicit: Option<&Path>, data_dir: &Path) -> Result<HistorySource, DemoError> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(DemoError::Invalid(format!(
                "--history {}: no such file",
                p.display()
            )));
        }
        return Ok(HistorySource {
            path: p.to_path_buf(),
            label: p.display().to_string(),
        });
    }
    let repo_relative = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SHARED_HISTORY);
    for candidate in [PathBuf::from(SHARED_HISTORY), repo_relative] {
        if candidate.is_file() {
            return Ok(HistorySource {
                label: candidate.display().to_string(),
                path: candidate,
            });
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|e| DemoError::Io(data_dir.to_path_buf(), e))?;
    let path = data_dir.join(BUNDLED_FILE);
    std::fs::write(&path, BUNDLED_SAMPLE).map_err(|e| DemoError::Io(path.clone(), e))?;
    Ok(HistorySource {
        label: format!(
            "bundled synthetic sample (fixtures/demo/sample.csv; {SHARED_HISTORY} not found)"
        ),
        path,
    })
}

/// A row source that ends after `limit` rows (good or bad) of another.
struct Limited<S> {
    inner: S,
    left: u64,
}

impl<S: RowSource + ?Sized> RowSource for Limited<Box<S>> {
    fn next_row(&mut self) -> Result<Option<Item>, SourceError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        self.inner.next_row()
    }
    fn bytes_read(&self) -> u64 {
        self.inner.bytes_read()
    }
    fn absent_columns(&self) -> Vec<String> {
        self.inner.absent_columns()
    }
}

/// What the history import did.
#[derive(Debug, Clone)]
pub struct HistoryOutcome {
    /// The import's counts.
    pub stats: ImportStats,
    /// Rejected rows by reason code.
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
}

/// Checks that the history opens and has a usable header (before the model loads).
pub fn check(source: &HistorySource) -> Result<(), DemoError> {
    open(source).map(|_| ())
}

fn open(source: &HistorySource) -> Result<(Box<dyn RowSource + Send>, u64), DemoError> {
    // The shared exports' portal category and sub-category (`reason`) are
    // the category path routing reads; a file without them has none.
    let mut columns = ColumnMap::default();
    columns.set_category(&["category".into(), "reason".into()]);
    import::open_source(&source.path, None, &columns, ReaderLimits::default())
        .map_err(|e| DemoError::History(source.label.clone(), e))
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// Imports the history into `tenant` (ids already stored are skipped before
/// embedding, so a second start costs one query per batch), then builds the
/// search index if anything was added. Stops between batches once `stop` is set.
pub async fn import(
    engine: &Engine,
    tenant: &str,
    source: &HistorySource,
    limit: Option<u64>,
    max_text_bytes: usize,
    stop: &AtomicBool,
) -> Result<HistoryOutcome, DemoError> {
    let (rows, len) = open(source)?;
    let mut rows: Box<dyn RowSource + Send> = match limit {
        Some(n) => Box::new(Limited {
            inner: rows,
            left: n,
        }),
        None => rows,
    };
    let opts = ImportOptions {
        mapping: MappingOptions {
            tenant: tenant.to_string(),
            max_text_bytes,
            naive_offset: FixedOffset::east_opt(EXPORT_OFFSET_SECS).expect("valid offset"),
            aliases: Default::default(),
        },
        batch_size: 128,
        actor: "demo-import".into(),
    };
    let mut rejects = RejectLog::new(None).map_err(|e| DemoError::Io(source.path.clone(), e))?;
    let pb = match limit {
        Some(n) => bar(
            n,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ETA {eta} {msg}",
        ),
        None => bar(
            len,
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ETA {eta} {msg}",
        ),
    };
    let by_rows = limit.is_some();
    let stats = import::run(
        engine.memory().as_ref(),
        rows.as_mut(),
        &opts,
        &mut rejects,
        stop,
        &mut |s, bytes| {
            pb.set_position(if by_rows { s.read } else { bytes });
            pb.set_message(format!(
                "{} imported, {} already there, {} rejected, {:.0}/s",
                s.imported,
                s.skipped(),
                s.rejected,
                s.rate()
            ));
        },
    )
    .await
    .map_err(|e| DemoError::History(source.label.clone(), e))?;
    pb.finish_and_clear();
    let index = engine.memory().index();
    if stats.imported > 0 {
        let spin = ProgressBar::new_spinner();
        spin.set_message("building the search index (HNSW)");
        spin.enable_steady_tick(Duration::from_millis(200));
        index.optimize().await?;
        spin.finish_and_clear();
    }
    index.flush().await?;
    Ok(HistoryOutcome {
        stats,
        rejected_by_reason: rejects.by_code().clone(),
    })
}

/// Adds to the catalogue every department the tenant's confirmed history names
/// and the catalogue lacks: code = the name as written in the data (the label
/// routing learns), `names.ru` = the same. Existing entries are left as an
/// administrator may have edited them. Returns (departments in the data, added).
pub async fn sync_departments(record: &Record, tenant: &str) -> Result<(usize, usize), DemoError> {
    let mut in_data: BTreeMap<String, i64> = BTreeMap::new();
    for c in record.area_counts(tenant).await? {
        *in_data.entry(c.department).or_default() += c.n;
    }
    let known: Vec<String> = record
        .departments(tenant)
        .await?
        .into_iter()
        .map(|d| d.code)
        .collect();
    let mut added = 0;
    for name in in_data.keys().filter(|n| !known.contains(n)) {
        record
            .upsert_department(&Department {
                tenant_id: tenant.to_string(),
                code: name.clone(),
                names: BTreeMap::from([("ru".to_string(), name.clone())]),
                description: String::new(),
                areas: Vec::new(),
                auto_threshold: None,
                active: true,
            })
            .await?;
        added += 1;
    }
    Ok((in_data.len(), added))
}
