//! The outbox: index writes committed with the record, applied by the case
//! memory's drain, and the dead letters it sets aside.
//!
//! An entry whose appeal the model refuses (a text the door let through
//! before today's validation, or a model change) would fail on every replay
//! and block everything behind it, including the start of the service. Such
//! an entry moves to `outbox_dead` with its reason, in one transaction; an
//! admin lists, retries (back into the outbox, at its end) or drops it.

use serde::Serialize;
use sqlx::Row;

use super::{id_lists, now_ms, OutboxEntry, Record, Result};

/// An outbox entry set aside because it failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// Its position in the outbox when it failed.
    pub seq: i64,
    /// The appeal it would have written to the index.
    pub appeal_id: i64,
    /// The appeal's tenant.
    pub tenant_id: String,
    /// `upsert` or `delete`.
    pub op: String,
    /// Why it failed (never the appeal's text).
    pub reason: String,
    /// When it was set aside, unix ms.
    pub failed_at: i64,
}

impl Record {
    /// Oldest pending index writes, at most `limit`.
    pub async fn pending_outbox(&self, limit: i64) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query("SELECT seq, appeal_id, op FROM outbox ORDER BY seq LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEntry {
                    seq: r.try_get("seq")?,
                    appeal_id: r.try_get("appeal_id")?,
                    op: r.try_get("op")?,
                })
            })
            .collect()
    }

    /// Marks these outbox entries as applied to the index.
    pub async fn ack_outbox(&self, seqs: &[i64]) -> Result<()> {
        for list in id_lists(seqs) {
            sqlx::query(&format!("DELETE FROM outbox WHERE seq IN ({list})"))
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    /// Moves these entries from the outbox to the dead letters, each with its
    /// appeal's tenant and the reason, in one transaction.
    pub async fn dead_letter(&self, entries: &[(&OutboxEntry, &str, &str)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        for &(e, tenant, reason) in entries {
            sqlx::query(
                "INSERT INTO outbox_dead (seq, appeal_id, tenant_id, op, reason, failed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(e.seq)
            .bind(e.appeal_id)
            .bind(tenant)
            .bind(&e.op)
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM outbox WHERE seq = $1")
                .bind(e.seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Dead letters, oldest first: of one tenant, or of all (`None`, the
    /// operator's view).
    pub async fn dead_letters(&self, tenant: Option<&str>, limit: i64) -> Result<Vec<DeadLetter>> {
        let cols = "SELECT seq, appeal_id, tenant_id, op, reason, failed_at FROM outbox_dead";
        let rows = match tenant {
            Some(t) => {
                sqlx::query(&format!(
                    "{cols} WHERE tenant_id = $1 ORDER BY seq LIMIT $2"
                ))
                .bind(t)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("{cols} ORDER BY seq LIMIT $1"))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    seq: r.try_get("seq")?,
                    appeal_id: r.try_get("appeal_id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    op: r.try_get("op")?,
                    reason: r.try_get("reason")?,
                    failed_at: r.try_get("failed_at")?,
                })
            })
            .collect()
    }

    /// Number of index writes not yet applied.
    pub async fn outbox_len(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Number of dead letters of all tenants.
    pub async fn count_dead_letters(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox_dead")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Puts a dead letter back at the end of the outbox (after the text was
    /// fixed, or the model changed). False when there is no such letter (in
    /// `tenant`, when given).
    pub async fn retry_dead_letter(&self, tenant: Option<&str>, seq: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let Some(letter) = take_dead(&mut tx, tenant, seq).await? else {
            return Ok(false);
        };
        sqlx::query("INSERT INTO outbox (appeal_id, op, created_at) VALUES ($1, $2, $3)")
            .bind(letter.0)
            .bind(&letter.1)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets a dead letter: the appeal stays in the record, out of the
    /// index. False when there is no such letter.
    pub async fn drop_dead_letter(&self, tenant: Option<&str>, seq: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let found = take_dead(&mut tx, tenant, seq).await?.is_some();
        tx.commit().await?;
        Ok(found)
    }
}

/// Deletes a dead letter, returning its appeal id and op.
async fn take_dead(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: Option<&str>,
    seq: i64,
) -> Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT appeal_id, op, tenant_id FROM outbox_dead WHERE seq = $1")
        .bind(seq)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let owner: String = row.try_get("tenant_id")?;
    if tenant.is_some_and(|t| t != owner) {
        return Ok(None);
    }
    sqlx::query("DELETE FROM outbox_dead WHERE seq = $1")
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    Ok(Some((row.try_get("appeal_id")?, row.try_get("op")?)))
}

pub(super) async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    appeal_id: i64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO outbox (appeal_id, op, created_at) VALUES ($1, 'upsert', $2)")
        .bind(appeal_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
