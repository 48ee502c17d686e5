//! Bulk import of past appeals (history in): a CSV or JSON Lines export becomes
//! imported cases in the record and the index.
//!
//! The file is streamed (`reader`), each row validated and mapped (`mapping`),
//! problems reported per row (`report`), and good rows handed on in batches to
//! an [`AppealSink`] (the case memory), which commits them to the record and
//! indexes them through the outbox. Before a batch is embedded its ids are
//! looked up in the record, so re-running an interrupted import skips what is
//! already stored at the cost of one indexed query per batch.

pub mod mapping;
pub mod reader;
mod record_ext;
pub mod reindex;
pub mod report;
mod sink;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use mapping::{prepare_text, MappingOptions};
pub use reader::{ColumnMap, Field, ReaderLimits, RowSource, SourceError};
pub use record_ext::Known;
pub use report::{ImportStats, Reject, RejectLog, RejectReason};

use crate::record::{AppealData, Inserted, Record, RecordError};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format a file name implies (`.csv`; `.jsonl`, `.ndjson`, `.json`).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// Errors that stop an import (per-row problems are rejections, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input cannot be opened or read, or its header is unusable.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The format cannot be told from the file name.
    #[error("cannot tell the format of {0} from its extension: pass --format csv|jsonl")]
    UnknownFormat(String),
    /// The system of record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The sink (embedding or indexing) failed; what was committed stays committed.
    #[error("indexing a batch failed: {0}")]
    Sink(String),
    /// The rejects file cannot be written.
    #[error("writing the rejects file: {0}")]
    Rejects(std::io::Error),
}

/// Where good rows go: the case memory (commit to the record, then index).
#[async_trait::async_trait]
pub trait AppealSink: Send + Sync {
    /// The system of record the sink writes to (for the already-present check).
    fn record(&self) -> &Record;
    /// Stores and indexes a batch; one [`Inserted`] per appeal, in order.
    async fn ingest(&self, appeals: Vec<AppealData>, actor: &str) -> Result<Vec<Inserted>, String>;
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Tenant, text limit and date offset.
    pub mapping: MappingOptions,
    /// Rows embedded and committed together (default 128).
    pub batch_size: usize,
    /// Audit actor of the created appeals.
    pub actor: String,
}

/// Opens a streaming source for `path` in `format` (or the one its extension implies).
pub fn open_source(
    path: &Path,
    format: Option<Format>,
    columns: &ColumnMap,
    limits: ReaderLimits,
) -> Result<(Box<dyn RowSource + Send>, u64), ImportError> {
    let format = format
        .or_else(|| Format::from_path(path))
        .ok_or_else(|| ImportError::UnknownFormat(path.display().to_string()))?;
    let file = std::fs::File::open(path).map_err(SourceError::Io)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 && format == Format::Jsonl {
        return Err(SourceError::Empty.into());
    }
    let source: Box<dyn RowSource + Send> = match format {
        Format::Csv => Box::new(reader::CsvSource::new(file, columns, limits)?),
        Format::Jsonl => Box::new(reader::JsonlSource::new(file, columns, limits)?),
    };
    Ok((source, len))
}

/// A good row waiting in a batch.
struct Pending {
    row: u64,
    line: u64,
    appeal: AppealData,
}

/// Runs an import to the end of `source` (or until `stop` is set, between
/// batches). `progress` is called after each batch with the counts so far and
/// the bytes consumed. Memory holds one batch, whatever the file size.
pub async fn run(
    sink: &dyn AppealSink,
    source: &mut dyn RowSource,
    opts: &ImportOptions,
    rejects: &mut RejectLog,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&ImportStats, u64),
) -> Result<ImportStats, ImportError> {
    let started = Instant::now();
    let tenant = opts.mapping.tenant.as_str();
    // Appeals created by this run get ids above this one.
    let first_new_id = sink.record().max_appeal_id().await? + 1;
    let mut stats = ImportStats::default();
    let mut eof = false;
    while !eof && !stop.load(Ordering::Relaxed) {
        let mut batch: Vec<Pending> = Vec::with_capacity(opts.batch_size);
        while batch.len() < opts.batch_size.max(1) {
            let Some(item) = source.next_row()? else {
                eof = true;
                break;
            };
            stats.read += 1;
            let reject = match item {
                Err(bad) => Reject::from(bad),
                Ok(raw) => match mapping::to_appeal(&raw, &opts.mapping) {
                    Ok(appeal) => {
                        batch.push(Pending {
                            row: raw.row,
                            line: raw.line,
                            appeal,
                        });
                        continue;
                    }
                    Err(reason) => Reject {
                        row: raw.row,
                        line: raw.line,
                        external_id: raw
                            .get(Field::Id)
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                        reason,
                    },
                },
            };
            rejects.push(reject).map_err(ImportError::Rejects)?;
        }
        let fresh = sift(
            sink.record(),
            tenant,
            batch,
            first_new_id,
            &mut stats,
            rejects,
        )
        .await?;
        if !fresh.is_empty() {
            let inserted = sink
                .ingest(fresh, &opts.actor)
                .await
                .map_err(ImportError::Sink)?;
            for i in inserted {
                if i.created {
                    stats.imported += 1;
                } else {
                    // Stored by someone else between our check and our insert.
                    stats.already_present += 1;
                }
            }
        }
        stats.rejected = rejects.total();
        stats.elapsed = started.elapsed();
        progress(&stats, source.bytes_read());
    }
    rejects.finish().map_err(ImportError::Rejects)?;
    stats.rejected = rejects.total();
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// Drops from a batch the rows that need no work: ids repeated inside the batch
/// or already in the record (counted as duplicates or already present, or
/// rejected when the text differs). Returns the appeals to ingest.
async fn sift(
    record: &Record,
    tenant: &str,
    batch: Vec<Pending>,
    first_new_id: i64,
    stats: &mut ImportStats,
    rejects: &mut RejectLog,
) -> Result<Vec<AppealData>, ImportError> {
    let ids: Vec<&str> = batch
        .iter()
        .filter_map(|p| p.appeal.external_id.as_deref())
        .collect();
    let known = record.known_external_ids(tenant, &ids).await?;
    let mut in_batch: HashMap<String, (u64, &str)> = HashMap::new();
    let mut fresh = Vec::with_capacity(batch.len());
    let mut conflicts = Vec::new();
    for p in &batch {
        let ext = p.appeal.external_id.clone().unwrap_or_default();
        if let Some(k) = known.get(&ext) {
            if k.text != p.appeal.text {
                conflicts.push((p, RejectReason::ConflictingDuplicate { existing: k.id }));
            } else if k.id >= first_new_id {
                stats.duplicates += 1;
            } else {
                stats.already_present += 1;
            }
        } else if let Some((first_row, text)) = in_batch.get(&ext) {
            if *text != p.appeal.text {
                let first_row = *first_row;
                conflicts.push((p, RejectReason::ConflictingRepeat { first_row }));
            } else {
                stats.duplicates += 1;
            }
        } else {
            in_batch.insert(ext, (p.row, &p.appeal.text));
            fresh.push(p.appeal.clone());
        }
    }
    for (p, reason) in conflicts {
        rejects
            .push(Reject {
                row: p.row,
                line: p.line,
                external_id: p.appeal.external_id.clone(),
                reason,
            })
            .map_err(ImportError::Rejects)?;
    }
    Ok(fresh)
}
