//! The case memory: the system of record plus the vector index derived from it,
//! and the embedder that turns appeals into vectors.
//!
//! Writes always go to the record first (that is what acknowledges an appeal);
//! the index follows through the record's outbox. [`CaseMemory::drain_outbox`]
//! applies pending index writes and is called on start (replay after a crash),
//! after every request that changed the record, and by the background writer,
//! so a crash between the two stores loses nothing and duplicates nothing
//! (index writes are idempotent upserts keyed by the appeal id).
//!
//! [`batcher`] is the queue in front of the model: the serving path's embed
//! calls go through it, so concurrent requests share model calls.

pub mod batcher;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;
use triage_models::{Embedder, Role};

use crate::index::{CaseFilter, CasePayload, CasePoint, Hit, IndexError, VectorIndex};
use crate::record::{Appeal, AppealStatus, OutboxEntry, Record, RecordError};

/// Outbox entries applied per round.
const DRAIN_BATCH: i64 = 256;

/// Most vectors kept for the outbox drain (~1.5 KB each at 384 dimensions).
const FRESH_MAX: usize = 8192;

/// Age after which a kept vector no drain took is dropped when room is needed.
const FRESH_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Errors of the case memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The system of record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The vector index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The model refused this input (empty, too long, not UTF-8): the same
    /// text fails again, so it is the input's fault (422), and an outbox
    /// entry holding it is set aside instead of retried.
    #[error("the model refused the text: {0}")]
    Rejected(String),
    /// The model failed or is stopping: not the input's fault (500).
    #[error("embedding failed: {0}")]
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
    batcher: std::sync::OnceLock<crate::memory::batcher::Batcher>,
    /// Vectors of appeals just committed whose outbox entries are not applied
    /// yet (see [`CaseMemory::remember_vector`]). Whichever request drains the
    /// outbox applies every pending entry, and takes their vectors from here
    /// instead of embedding the texts a second time.
    fresh: std::sync::Mutex<HashMap<i64, (Vec<f32>, std::time::Instant)>>,
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
            fresh: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Routes every later [`CaseMemory::embed`] through `batcher`, so concurrent
    /// requests share model calls and a full queue is refused (429). Set once;
    /// false if a batcher was already set.
    pub fn use_batcher(&self, batcher: crate::memory::batcher::Batcher) -> bool {
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
            use crate::memory::batcher::BatchError as B;
            return b.embed(texts, role).await.map_err(|e| match e {
                B::Overloaded { .. } | B::Behind { .. } => MemoryError::Overloaded(e.to_string()),
                B::Input(m) => MemoryError::Rejected(m),
                B::TooMany { .. } => MemoryError::Rejected(e.to_string()),
                B::Failed(m) => MemoryError::Embed(m),
            });
        }
        let embedder = self.embedder.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs, role)
        })
        .await
        .map_err(|e| MemoryError::Embed(e.to_string()))?
        .map_err(|e| {
            if e.is_input() {
                MemoryError::Rejected(e.to_string())
            } else {
                MemoryError::Embed(e.to_string())
            }
        })
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

    /// Keeps the vector of an appeal the caller just committed, for the outbox
    /// drain to index (whoever runs it). Bounded: at [`FRESH_MAX`] entries
    /// those older than [`FRESH_TTL`] are dropped (a drain that ran between
    /// the commit and this call embedded the text itself and left its vector
    /// here), and if the index is stalled further vectors are not kept (the
    /// drain embeds those texts again instead).
    pub fn remember_vector(&self, id: i64, vector: Vec<f32>) {
        let mut fresh = self.fresh.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if fresh.len() >= FRESH_MAX {
            fresh.retain(|_, (_, at)| now.duration_since(*at) < FRESH_TTL);
        }
        if fresh.len() < FRESH_MAX {
            fresh.insert(id, (vector, now));
        }
    }

    /// Takes the remembered vectors of `ids` (see [`CaseMemory::remember_vector`]).
    fn take_fresh(&self, ids: &[i64], into: &mut HashMap<i64, Vec<f32>>) {
        let mut fresh = self.fresh.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            if let Some((v, _)) = fresh.remove(id) {
                into.entry(*id).or_insert(v);
            }
        }
    }

    /// Applies every pending outbox entry to the index; returns how many were applied.
    ///
    /// Vectors come from [`CaseMemory::remember_vector`] (the request path
    /// embeds an appeal once to route it); a case the index already holds with
    /// this model's vector gets its payload replaced, vector untouched; else
    /// the redacted text is embedded.
    pub async fn drain_outbox(&self) -> Result<usize> {
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
            // Vectors: remembered from the request that committed the appeal;
            // else, when the index already holds the case with this model's
            // vector, only its payload is replaced (a decision changes the
            // status and department, never the text); else embed.
            let mut vectors: HashMap<i64, Vec<f32>> = HashMap::new();
            self.take_fresh(&ids, &mut vectors);
            let mut missing: Vec<i64> = present
                .keys()
                .filter(|id| !vectors.contains_key(id))
                .copied()
                .collect();
            let mut payload_only: Vec<(u64, CasePayload)> = Vec::new();
            if !missing.is_empty() {
                let stored = self
                    .index
                    .payloads(missing.iter().map(|&id| id as u64).collect())
                    .await?;
                for (id, payload) in stored {
                    if payload.model == self.fingerprint {
                        payload_only.push((id, self.payload_of(&present[&(id as i64)])));
                    }
                }
                let done: std::collections::HashSet<i64> =
                    payload_only.iter().map(|(id, _)| *id as i64).collect();
                missing.retain(|id| !done.contains(id));
            }
            if !missing.is_empty() {
                missing.sort_unstable();
                let (embedded, refused) = self.embed_each(&missing, &present).await?;
                vectors.extend(embedded);
                if !refused.is_empty() {
                    let letters: Vec<(&OutboxEntry, &str, &str)> = entries
                        .iter()
                        .filter_map(|e| {
                            let reason = refused.get(&e.appeal_id)?;
                            let tenant = present[&e.appeal_id].data.tenant_id.as_str();
                            Some((e, tenant, reason.as_str()))
                        })
                        .collect();
                    self.record.dead_letter(&letters).await?;
                    for (e, tenant, reason) in &letters {
                        tracing::warn!(
                            appeal_id = e.appeal_id,
                            tenant,
                            reason,
                            "index write set aside as a dead letter (the model refuses the text)"
                        );
                    }
                    ::metrics::counter!(crate::metrics::OUTBOX_DEAD)
                        .increment(letters.len() as u64);
                }
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
            if !payload_only.is_empty() {
                payload_only.sort_by_key(|(id, _)| *id);
                self.index.set_payloads(payload_only).await?;
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

    /// Embeds the texts of these appeals. When the model refuses the batch,
    /// it embeds them one by one, so only the texts it refuses are left out,
    /// each with the model's reason (which never quotes the text).
    async fn embed_each(
        &self,
        ids: &[i64],
        present: &HashMap<i64, Appeal>,
    ) -> Result<(Vec<(i64, Vec<f32>)>, HashMap<i64, String>)> {
        let text = |id: &i64| present[id].data.redacted_text.clone();
        match self
            .embed(ids.iter().map(text).collect(), Role::Query)
            .await
        {
            Ok(v) => return Ok((ids.iter().copied().zip(v).collect(), HashMap::new())),
            Err(MemoryError::Rejected(_)) => {}
            Err(e) => return Err(e),
        }
        let mut embedded = Vec::with_capacity(ids.len());
        let mut refused = HashMap::new();
        for id in ids {
            match self.embed(vec![text(id)], Role::Query).await {
                Ok(mut v) => embedded.push((*id, v.remove(0))),
                Err(MemoryError::Rejected(reason)) => {
                    refused.insert(*id, reason);
                }
                Err(e) => return Err(e),
            }
        }
        Ok((embedded, refused))
    }

    /// The `k` nearest cases of a tenant passing `filter`.
    pub async fn search(&self, vector: &[f32], filter: CaseFilter, k: usize) -> Result<Vec<Hit>> {
        Ok(self.index.search(vector.to_vec(), filter, k).await?)
    }
}
