//! Queries on the system of record that bulk import and reindex need.
//!
//! Kept here, in a separate `impl Record` block, so the record module stays the
//! lead's; they use only the public pool and `appeals_by_ids`, and can move into
//! `record/` unchanged.

use std::collections::HashMap;

use sqlx::Row;

use crate::record::{Appeal, Record, Result};

/// Most bound parameters per `IN (...)` query: below SQLite's and PostgreSQL's limits.
const CHUNK: usize = 500;

/// A stored appeal as a re-run of an import sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Record id.
    pub id: i64,
    /// Stored original text (to tell a true repeat from a conflicting one).
    pub text: String,
}

impl Record {
    /// Which of `external_ids` the tenant already has, with their record id and
    /// text: one indexed query per 500 ids, so a resumed import skips stored rows
    /// before embedding them.
    pub async fn known_external_ids(
        &self,
        tenant: &str,
        external_ids: &[&str],
    ) -> Result<HashMap<String, Known>> {
        let mut out = HashMap::new();
        for chunk in external_ids.chunks(CHUNK) {
            let placeholders = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "SELECT id, external_id, text FROM appeals \
                 WHERE tenant_id = $1 AND external_id IN ({placeholders})"
            );
            let mut q = sqlx::query(&sql).bind(tenant);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(self.pool()).await? {
                out.insert(
                    r.try_get("external_id")?,
                    Known {
                        id: r.try_get("id")?,
                        text: r.try_get("text")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The highest appeal id (0 when empty): ids above it were created later, which
    /// tells rows repeated within one import from rows of an earlier one.
    pub async fn max_appeal_id(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM appeals")
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("m")?)
    }

    /// Number of appeals of every tenant.
    pub async fn count_all_appeals(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM appeals")
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Appeals per tenant, by tenant id.
    pub async fn appeal_counts_by_tenant(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT tenant_id, COUNT(*) AS n FROM appeals GROUP BY tenant_id ORDER BY tenant_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("tenant_id")?, r.try_get("n")?)))
            .collect()
    }

    /// Up to `limit` appeals with id above `after`, in id order, of one tenant or
    /// all: keyset pages for walking the whole record in bounded memory.
    pub async fn appeals_after(
        &self,
        tenant: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Appeal>> {
        let rows =
            match tenant {
                Some(t) => sqlx::query(
                    "SELECT id FROM appeals WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(t)
                .bind(after)
                .bind(limit)
                .fetch_all(self.pool())
                .await?,
                None => {
                    sqlx::query("SELECT id FROM appeals WHERE id > $1 ORDER BY id LIMIT $2")
                        .bind(after)
                        .bind(limit)
                        .fetch_all(self.pool())
                        .await?
                }
            };
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        self.appeals_by_ids(&ids).await
    }
}
