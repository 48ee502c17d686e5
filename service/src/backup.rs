//! Backup and restore of an embedded deployment: the SQLite record and the
//! in-process vector index, consistent with each other, with a manifest.
//!
//! Consistency comes from the data-directory lock: the caller holds it, so no
//! service or other command writes while the copy is taken (with the service
//! running, `backup` fails with "already in use": stop it first, or back up
//! only the record, e.g. `sqlite3 record.db ".backup x.db"`, and rebuild the
//! index with `reindex` after restoring). Before copying, the outbox is
//! drained so the index holds every acknowledged appeal, and the index is
//! flushed and closed. The record is copied with SQLite's `VACUUM INTO` (a
//! transactionally consistent, compacted copy), the index directory file by
//! file. `manifest.json`, written last, lists per-tenant counts, the model
//! fingerprint and the size and sha256 of every file; a directory without it
//! is an unfinished backup.
//!
//! `restore` verifies every checksum before touching the data directory,
//! refuses to replace an existing record or index unless forced, stages the
//! copy beside the target and renames it into place, then reopens both stores
//! and checks the counts against the manifest.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use triage_models::embedder::{TOKENIZER_FILE, WEIGHTS_FILE};
use triage_models::Embedder;

use crate::datadir::DataDir;
use crate::index::{CaseFilter, EmbeddedIndex, IndexError, VectorIndex};
use crate::memory::{CaseMemory, MemoryError};
use crate::record::{now_ms, Record, RecordError};

/// File name of the manifest inside a backup.
pub const MANIFEST: &str = "manifest.json";
/// Version of the backup layout.
pub const FORMAT: u32 = 1;
const RECORD_FILE: &str = "record.db";
const INDEX_DIR: &str = "index";

/// Errors of backup and restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The backup destination already holds files.
    #[error("backup destination {0} is not empty: choose a new directory")]
    DestinationNotEmpty(PathBuf),
    /// The data directory already holds a record or an index.
    #[error("data directory {0} already holds a record or an index: pass --force to replace them")]
    TargetNotEmpty(PathBuf),
    /// The manifest is missing or unreadable.
    #[error("backup manifest {path}: {reason}")]
    Manifest {
        /// Manifest path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file of the backup is missing or differs from the manifest.
    #[error("backup file {path} does not match the manifest: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// After restoring, a store holds other counts than the manifest.
    #[error("restored {what} of tenant {tenant:?}: {got} where the manifest says {want}")]
    CountMismatch {
        /// `appeals` or `index points`.
        what: &'static str,
        /// Tenant.
        tenant: String,
        /// Expected.
        want: u64,
        /// Found.
        got: u64,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Draining the outbox failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// Result alias of this module.
pub type Result<T, E = BackupError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the backup directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex sha256 of the content.
    pub sha256: String,
}

/// What a backup holds; written as `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// When the backup was taken, unix ms.
    pub created_at: i64,
    /// Version of appeal-triage that took it.
    pub tool_version: String,
    /// Fingerprint of the model that made the vectors.
    pub model_fingerprint: String,
    /// Vector width.
    pub dim: usize,
    /// Appeals per tenant in the record.
    pub appeals: BTreeMap<String, u64>,
    /// Points per tenant in the index.
    pub points: BTreeMap<String, u64>,
    /// Outbox entries still pending (0 after a successful drain).
    pub outbox_pending: u64,
    /// Every file with its size and checksum.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Appeals of all tenants.
    pub fn total_appeals(&self) -> u64 {
        self.appeals.values().sum()
    }

    /// Index points of all tenants.
    pub fn total_points(&self) -> u64 {
        self.points.values().sum()
    }
}

/// Hex sha256 of the concatenated contents of `files`, streamed.
fn sha256_of(files: &[&Path]) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    for p in files {
        let mut f = std::fs::File::open(p)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            total += n as u64;
        }
    }
    Ok((hex::encode(h.finalize()), total))
}

/// The fingerprint of the model installed in `dir`, computed as the embedder
/// does (sha256 of the weights then the tokenizer) without loading it.
pub fn model_fingerprint(dir: &Path) -> std::io::Result<String> {
    sha256_of(&[&dir.join(WEIGHTS_FILE), &dir.join(TOKENIZER_FILE)]).map(|(h, _)| h)
}

/// Every regular file under `root`, relative, sorted.
fn list_files(root: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io(&path))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Copies the tree `src` into `dst` (created).
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    for rel in list_files(src)? {
        let to = dst.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(src.join(&rel), &to).map_err(io(&to))?;
    }
    Ok(())
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

async fn open_embedded(dir: &Path, dim: usize) -> Result<Arc<dyn VectorIndex>> {
    let dir = dir.to_path_buf();
    let index = tokio::task::spawn_blocking(move || EmbeddedIndex::open(&dir, dim))
        .await
        .map_err(|e| IndexError::Engine(e.to_string()))??;
    Ok(Arc::new(index))
}

/// Appeals per tenant in the record and points per tenant in the index.
async fn counts(
    record: &Record,
    index: &dyn VectorIndex,
) -> Result<(BTreeMap<String, u64>, BTreeMap<String, u64>)> {
    let mut appeals = BTreeMap::new();
    let mut points = BTreeMap::new();
    for (tenant, n) in record.appeal_counts_by_tenant().await? {
        points.insert(
            tenant.clone(),
            index.count(CaseFilter::tenant(&tenant)).await?,
        );
        appeals.insert(tenant, n as u64);
    }
    Ok((appeals, points))
}

/// Backs up the record and index of `data` (whose lock the caller holds) into
/// `dest`, which must not exist or be empty. `embedder` is the configured
/// model: it replays pending outbox entries first and stamps the manifest.
pub async fn backup(data: &DataDir, dest: &Path, embedder: &Arc<Embedder>) -> Result<Manifest> {
    if dest.exists() && std::fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(BackupError::DestinationNotEmpty(dest.to_path_buf()));
    }
    std::fs::create_dir_all(dest).map_err(io(dest))?;
    let record = Record::open(&data.record_url()).await?;
    let index = open_embedded(&data.index_dir(), embedder.dim()).await?;
    let memory = CaseMemory::new(record.clone(), index.clone(), embedder.clone());
    memory.drain_outbox().await?;
    let (appeals, points) = counts(&record, index.as_ref()).await?;
    let outbox_pending = record.outbox_len().await? as u64;
    index.flush().await?;
    drop(memory);
    drop(index);

    // SQLite copies itself consistently; the path is inlined as a literal
    // (VACUUM INTO takes no bound parameter here), with quotes doubled.
    let target = dest.join(RECORD_FILE);
    let literal = target.display().to_string().replace('\'', "''");
    sqlx::query(&format!("VACUUM INTO '{literal}'"))
        .execute(record.pool())
        .await
        .map_err(RecordError::from)?;
    record.close().await;
    copy_tree(&data.index_dir(), &dest.join(INDEX_DIR))?;

    let mut files = Vec::new();
    for rel in list_files(dest)? {
        let (sha256, bytes) = sha256_of(&[&dest.join(&rel)]).map_err(io(&rel))?;
        files.push(FileEntry {
            path: rel_string(&rel),
            bytes,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        created_at: now_ms(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        model_fingerprint: embedder.fingerprint().to_string(),
        dim: embedder.dim(),
        appeals,
        points,
        outbox_pending,
        files,
    };
    let tmp = dest.join(format!("{MANIFEST}.tmp"));
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    std::fs::write(&tmp, json).map_err(io(&tmp))?;
    std::fs::rename(&tmp, dest.join(MANIFEST)).map_err(io(&tmp))?;
    Ok(manifest)
}

/// Reads a backup's manifest and checks every file it lists against it.
pub fn verify(src: &Path) -> Result<Manifest> {
    let path = src.join(MANIFEST);
    let bad = |reason: String| BackupError::Manifest {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(bad(format!(
            "layout version {} (this build reads {FORMAT})",
            manifest.format
        )));
    }
    if !manifest.files.iter().any(|f| f.path == RECORD_FILE) {
        return Err(bad(format!("lists no {RECORD_FILE}")));
    }
    for f in &manifest.files {
        if f.path.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(bad(format!("unsafe path {:?}", f.path)));
        }
        let p = src.join(&f.path);
        let damaged = |reason: String| BackupError::Damaged {
            path: p.clone(),
            reason,
        };
        let (sha256, bytes) = sha256_of(&[&p]).map_err(|e| damaged(e.to_string()))?;
        if bytes != f.bytes || sha256 != f.sha256 {
            return Err(damaged(format!(
                "{bytes} bytes, sha256 {}… where the manifest has {} bytes, {}…",
                &sha256[..12],
                f.bytes,
                &f.sha256[..12.min(f.sha256.len())]
            )));
        }
    }
    Ok(manifest)
}

/// Restores the backup in `src` into `data` (whose lock the caller holds).
/// Refuses when `data` already holds a record or an index unless `force`.
pub async fn restore(data: &DataDir, src: &Path, force: bool) -> Result<Manifest> {
    let manifest = verify(src)?;
    let root = data.root();
    let record_path = root.join(RECORD_FILE);
    let index_dir = data.index_dir();
    let occupied = record_path.exists()
        || (index_dir.exists()
            && std::fs::read_dir(&index_dir)
                .map_err(io(&index_dir))?
                .next()
                .is_some());
    if occupied && !force {
        return Err(BackupError::TargetNotEmpty(root.to_path_buf()));
    }
    // Stage beside the target, then swap in.
    let staged_record = root.join("record.db.restoring");
    let staged_index = root.join("index.restoring");
    for p in [&staged_record, &staged_index] {
        remove(p)?;
    }
    std::fs::copy(src.join(RECORD_FILE), &staged_record).map_err(io(&staged_record))?;
    copy_tree(&src.join(INDEX_DIR), &staged_index)?;
    for suffix in ["", "-wal", "-shm"] {
        remove(&root.join(format!("{RECORD_FILE}{suffix}")))?;
    }
    remove(&index_dir)?;
    std::fs::rename(&staged_record, &record_path).map_err(io(&record_path))?;
    std::fs::rename(&staged_index, &index_dir).map_err(io(&index_dir))?;

    let record = Record::open(&data.record_url()).await?;
    let index = open_embedded(&index_dir, manifest.dim).await?;
    let (appeals, points) = counts(&record, index.as_ref()).await?;
    for (what, got, want) in [
        ("appeals", &appeals, &manifest.appeals),
        ("index points", &points, &manifest.points),
    ] {
        for tenant in want.keys().chain(got.keys()) {
            let (w, g) = (
                want.get(tenant).copied().unwrap_or(0),
                got.get(tenant).copied().unwrap_or(0),
            );
            if w != g {
                return Err(BackupError::CountMismatch {
                    what,
                    tenant: tenant.clone(),
                    want: w,
                    got: g,
                });
            }
        }
    }
    index.flush().await?;
    record.close().await;
    Ok(manifest)
}

/// Removes a file or directory tree if present.
fn remove(p: &Path) -> Result<()> {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(p)(e)),
        _ => Ok(()),
    }
}
