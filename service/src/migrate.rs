//! Copies one tenant's case memory between two vector indexes (normally the
//! embedded engine to a Qdrant server, when a deployment outgrows one machine):
//! same ids, vectors and payloads, page by page, without re-embedding and
//! without the record. Upserts make it idempotent: a re-run after a failure
//! copies everything again and ends in the same state.

use crate::index::{CaseFilter, IndexError, VectorIndex};

/// Errors of a migration.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Reading the source or writing the target failed (nothing is lost: the
    /// source is only read; re-run the migration).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A batch size of zero would never finish.
    #[error("the batch size must be at least 1")]
    ZeroBatch,
    /// After copying, the target does not hold what the source holds.
    #[error(
        "tenant `{tenant}`: the source holds {source_count} points, the target {target_count} \
         after copying{hint}"
    )]
    CountMismatch {
        /// Tenant.
        tenant: String,
        /// Points of the tenant in the source.
        source_count: u64,
        /// Points of the tenant in the target.
        target_count: u64,
        /// What probably happened.
        hint: &'static str,
    },
    /// A copied point reads back differently from the target.
    #[error("tenant `{tenant}`: point {id} reads back differently from the target")]
    Differs {
        /// Tenant.
        tenant: String,
        /// Point id.
        id: u64,
    },
}

/// Progress after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Points copied so far.
    pub copied: u64,
    /// Points of the tenant in the source when the migration started.
    pub total: u64,
}

/// What a finished migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrateReport {
    /// Points copied (upserted into the target).
    pub copied: u64,
    /// Batches written.
    pub batches: u64,
    /// Points of the tenant in the target at the end (equal to the source's).
    pub target_count: u64,
}

/// Copies every point of `tenant` from `source` to `target` in batches of
/// `batch`, then flushes the target and checks that it holds as many points of
/// the tenant as the source, and that the first page reads back identically.
///
/// Writes to the source during the migration are not followed: stop intake
/// (or re-run afterwards, which is safe).
pub async fn migrate_tenant(
    source: &dyn VectorIndex,
    target: &dyn VectorIndex,
    tenant: &str,
    batch: usize,
    mut progress: impl FnMut(Progress),
) -> Result<MigrateReport, MigrateError> {
    if batch == 0 {
        return Err(MigrateError::ZeroBatch);
    }
    let filter = CaseFilter::tenant(tenant);
    let total = source.count(filter.clone()).await?;
    let mut copied = 0u64;
    let mut batches = 0u64;
    let mut offset = None;
    let mut sample = Vec::new();
    loop {
        let page = source.scroll(filter.clone(), offset, batch).await?;
        if page.points.is_empty() {
            break;
        }
        if sample.is_empty() {
            sample = page.points.iter().take(16).cloned().collect();
        }
        let n = page.points.len() as u64;
        target.upsert(page.points).await?;
        copied += n;
        batches += 1;
        progress(Progress { copied, total });
        match page.next_offset {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    target.flush().await?;

    let source_count = source.count(filter.clone()).await?;
    let target_count = target.count(filter).await?;
    if source_count != target_count {
        return Err(MigrateError::CountMismatch {
            tenant: tenant.to_string(),
            source_count,
            target_count,
            hint: if target_count > source_count {
                ": the target keeps points deleted from the source since an earlier migration"
            } else {
                ": the target lost writes; re-run the migration"
            },
        });
    }
    let ids = sample.iter().map(|p| p.id).collect();
    let back = target.retrieve(ids).await?;
    for (want, got) in sample.iter().zip(&back) {
        let close = want.vector.len() == got.vector.len()
            && want
                .vector
                .iter()
                .zip(&got.vector)
                .all(|(a, b)| (a - b).abs() < 1e-4);
        if want.id != got.id || want.payload != got.payload || !close {
            return Err(MigrateError::Differs {
                tenant: tenant.to_string(),
                id: want.id,
            });
        }
    }
    if back.len() != sample.len() {
        let missing = sample
            .iter()
            .find(|p| !back.iter().any(|b| b.id == p.id))
            .map_or(0, |p| p.id);
        return Err(MigrateError::Differs {
            tenant: tenant.to_string(),
            id: missing,
        });
    }
    Ok(MigrateReport {
        copied,
        batches,
        target_count,
    })
}
