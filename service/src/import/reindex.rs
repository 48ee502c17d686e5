//! Rebuilding the vector index from the system of record: the recovery path for
//! a lost or corrupted index, and the way to move to a new model.
//!
//! The record is walked in id order, one page at a time (bounded memory); each
//! page is embedded from the appeals' redacted texts (`query:` role, as every
//! case vector) and upserted with its payload. The outbox is drained afterwards:
//! every pending entry's appeal is already in the new index, so draining only
//! acknowledges them (vectors are reused, not recomputed).

use std::time::{Duration, Instant};

use triage_models::Role;

use crate::index::{CaseFilter, CasePoint};
use crate::memory::{CaseMemory, MemoryError};

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReindexStats {
    /// Appeals embedded and upserted.
    pub indexed: u64,
    /// Outbox entries acknowledged afterwards.
    pub outbox_acked: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Re-embeds and upserts every appeal (of `tenant`, or of all tenants) into the
/// memory's index, `batch` appeals at a time; `progress` gets the count so far.
///
/// Run it on an empty index to rebuild one; run it with a tenant on a healthy
/// index to refresh that tenant's vectors and payloads (points of appeals no
/// longer in the record are not removed then: rebuild the whole index for that).
pub async fn reindex(
    memory: &CaseMemory,
    tenant: Option<&str>,
    batch: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<ReindexStats, MemoryError> {
    let started = Instant::now();
    let mut stats = ReindexStats::default();
    let mut after = 0i64;
    loop {
        let page = memory
            .record()
            .appeals_after(tenant, after, batch.max(1) as i64)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let texts = page.iter().map(|a| a.data.redacted_text.clone()).collect();
        let vectors = memory.embed(texts, Role::Query).await?;
        let points = page
            .iter()
            .zip(vectors)
            .map(|(a, vector)| CasePoint {
                id: a.id as u64,
                vector,
                payload: memory.payload_of(a),
            })
            .collect();
        memory.index().upsert(points).await?;
        stats.indexed += page.len() as u64;
        progress(stats.indexed);
    }
    stats.outbox_acked = memory.drain_outbox().await? as u64;
    memory.index().flush().await?;
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// Per-tenant appeal counts of the record next to point counts of the index:
/// equal pairs mean the index holds exactly the record's appeals.
pub async fn compare_counts(memory: &CaseMemory) -> Result<Vec<(String, i64, u64)>, MemoryError> {
    let mut out = Vec::new();
    for (tenant, appeals) in memory.record().appeal_counts_by_tenant().await? {
        let points = memory.index().count(CaseFilter::tenant(&tenant)).await?;
        out.push((tenant, appeals, points));
    }
    Ok(out)
}
