//! The case memory: the system of record plus the vector index derived from it,
//! and the embedder that turns appeals into vectors.
//!
//! Writes always go to the record first (that is what acknowledges an appeal);
//! the index follows through the record's outbox. [`CaseMemory::drain_outbox`]
//! applies pending index writes and is called on start (replay after a crash),
//! after every request that changed the record, and by the background writer,
//! so a crash between the two stores loses nothing and duplicates nothing
//! (index writes are idempotent upserts keyed by the appeal id).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;
use triage_models::{Embedder, Role};

use crate::index::{CaseFilter, CasePayload, CasePoint, Hit, IndexError, VectorIndex};
use crate::record::{Appeal, AppealStatus, Record, RecordError};

/// Outbox entries applied per round.
const DRAIN_BATCH: i64 = 256;

/// Errors of the case memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The system of record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The vector index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The embedder refused the input or failed.
    #[error("embedding: {0}")]
    Embed(String),
    /// The embedding queue is full (the HTTP layer answers 429).
    #[error("{0}")]
    Overloaded(String),
}

/// Result alias of the case memory.
pub type Result<T, E = MemoryError> = std::result::Result<T, E>;

/// Statuses whose department is confirmed: routing learns only from these.
pub const CONFIRMED: &[AppealStatus] = &[AppealStatus::Imported, AppealStatus::Decided];

/// The confirmed statuses as stored strings, for index filters.
pub fn confirmed_statuses() -> Vec<String> {
    CONFIRMED.iter().map(|s| s.as_str().to_string()).collect()
}

/// Record + index + embedder, shared by the service, the CLI and the eval.
pub struct CaseMemory {
    record: Record,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<Embedder>,
    fingerprint: String,
    /// One outbox writer at a time: concurrent drains would embed twice.
    drain_lock: Mutex<()>,
    /// The serving path's dynamic batcher, when one is plugged in (see `use_batcher`).
    batcher: std::sync::OnceLock<crate::batcher::Batcher>,
}

impl CaseMemory {
    /// Wraps opened stores and a loaded embedder.
    pub fn new(record: Record, index: Arc<dyn VectorIndex>, embedder: Arc<Embedder>) -> Self {
        let fingerprint = embedder.fingerprint().to_string();
        Self {
            record,
            index,
            embedder,
            fingerprint,
            drain_lock: Mutex::new(()),
            batcher: std::sync::OnceLock::new(),
        }
    }

    /// Routes every later [`CaseMemory::embed`] through `batcher`, so concurrent
    /// requests share model calls and a full queue is refused (429). Set once;
    /// false if a batcher was already set.
    pub fn use_batcher(&self, batcher: crate::batcher::Batcher) -> bool {
        self.batcher.set(batcher).is_ok()
    }

    /// The system of record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The vector index.
    pub fn index(&self) -> &Arc<dyn VectorIndex> {
        &self.index
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    /// Fingerprint of the model that makes the vectors.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Embeds texts off the async runtime (the model is CPU-bound).
    ///
    /// Appeals and stored cases use the same `query:` role: finding similar
    /// appeals is a symmetric task.
    pub async fn embed(&self, texts: Vec<String>, role: Role) -> Result<Vec<Vec<f32>>> {
        if let Some(b) = self.batcher.get() {
            return b.embed(texts, role).await.map_err(|e| match e {
                crate::batcher::BatchError::Overloaded { .. } => {
                    MemoryError::Overloaded(e.to_string())
                }
                other => MemoryError::Embed(other.to_string()),
            });
        }
        let embedder = self.embedder.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs, role)
        })
        .await
        .map_err(|e| MemoryError::Embed(e.to_string()))?
        .map_err(|e| MemoryError::Embed(e.to_string()))
    }

    /// The index payload of an appeal as the record holds it now.
    pub fn payload_of(&self, a: &Appeal) -> CasePayload {
        CasePayload {
            tenant: a.data.tenant_id.clone(),
            department: a.data.department.clone(),
            district: a.data.place.district.clone(),
            status: a.data.status.as_str().to_string(),
            received_at: a.data.received_at,
            model: self.fingerprint.clone(),
        }
    }

    /// Applies every pending outbox entry to the index; returns how many were applied.
    ///
    /// `known` holds vectors the caller already computed for some appeals (the
    /// request path embeds an appeal once to route it, and reuses the vector
    /// here); others are embedded from their redacted text, or reused from the
    /// index when only the payload changed.
    pub async fn drain_outbox(&self, known: &HashMap<i64, Vec<f32>>) -> Result<usize> {
        let _guard = self.drain_lock.lock().await;
        let mut applied = 0;
        loop {
            let entries = self.record.pending_outbox(DRAIN_BATCH).await?;
            if entries.is_empty() {
                break;
            }
            let mut ids: Vec<i64> = entries.iter().map(|e| e.appeal_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let appeals = self.record.appeals_by_ids(&ids).await?;
            let present: HashMap<i64, Appeal> = appeals.into_iter().map(|a| (a.id, a)).collect();
            let gone: Vec<u64> = ids
                .iter()
                .filter(|id| !present.contains_key(id))
                .map(|&id| id as u64)
                .collect();
            // Vectors: given by the caller, else already in the index, else embed.
            let mut vectors: HashMap<i64, Vec<f32>> = HashMap::new();
            let mut missing: Vec<i64> = Vec::new();
            for id in present.keys() {
                match known.get(id) {
                    Some(v) => {
                        vectors.insert(*id, v.clone());
                    }
                    None => missing.push(*id),
                }
            }
            if !missing.is_empty() {
                let stored = self
                    .index
                    .retrieve(missing.iter().map(|&id| id as u64).collect())
                    .await?;
                for p in stored {
                    if p.payload.model == self.fingerprint {
                        vectors.insert(p.id as i64, p.vector);
                    }
                }
                missing.retain(|id| !vectors.contains_key(id));
            }
            if !missing.is_empty() {
                missing.sort_unstable();
                let texts: Vec<String> = missing
                    .iter()
                    .map(|id| present[id].data.redacted_text.clone())
                    .collect();
                let embedded = self.embed(texts, Role::Query).await?;
                vectors.extend(missing.iter().copied().zip(embedded));
            }
            let mut points: Vec<CasePoint> = present
                .values()
                .filter_map(|a| {
                    vectors.remove(&a.id).map(|vector| CasePoint {
                        id: a.id as u64,
                        vector,
                        payload: self.payload_of(a),
                    })
                })
                .collect();
            points.sort_by_key(|p| p.id);
            if !points.is_empty() {
                self.index.upsert(points).await?;
            }
            if !gone.is_empty() {
                self.index.delete(gone).await?;
            }
            let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
            self.record.ack_outbox(&seqs).await?;
            applied += seqs.len();
        }
        Ok(applied)
    }

    /// The `k` nearest cases of a tenant passing `filter`.
    pub async fn search(&self, vector: &[f32], filter: CaseFilter, k: usize) -> Result<Vec<Hit>> {
        Ok(self.index.search(vector.to_vec(), filter, k).await?)
    }
}
