//! Tenants: their settings, and the operator's view of all of them
//! (listing, suspension).

use std::str::FromStr;

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Jurisdiction, Record, RecordError, Result, Tenant};

/// A tenant as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantStatus {
    /// Its settings.
    pub tenant: Tenant,
    /// When it was created, unix ms.
    pub created_at: i64,
    /// When the operator suspended it (its keys are refused), unix ms.
    pub suspended_at: Option<i64>,
}

const TENANT_SELECT: &str =
    "SELECT id, name, jurisdiction, alpha, auto_threshold, created_at, suspended_at FROM tenants";

impl Record {
    /// Creates or updates a tenant (its suspension is kept).
    pub async fn upsert_tenant(&self, t: &Tenant) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenants (id, name, jurisdiction, alpha, auto_threshold, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             jurisdiction = excluded.jurisdiction, alpha = excluded.alpha, \
             auto_threshold = excluded.auto_threshold",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.jurisdiction.as_str())
        .bind(t.alpha)
        .bind(t.auto_threshold)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        self.cache.forget(&t.id);
        Ok(())
    }

    /// The tenant `id`, if it exists.
    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>> {
        Ok(self.tenant_status(id).await?.map(|s| s.tenant))
    }

    /// The tenant `id` with its creation and suspension times, if it exists.
    pub async fn tenant_status(&self, id: &str) -> Result<Option<TenantStatus>> {
        if let Some(cached) = self.cache.tenant(id) {
            return Ok(cached);
        }
        let row = sqlx::query(&format!("{TENANT_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let status = row.map(|r| status_from_row(&r)).transpose()?;
        self.cache.put_tenant(id, status.clone());
        Ok(status)
    }

    /// Every tenant, by id.
    pub async fn tenants(&self) -> Result<Vec<TenantStatus>> {
        let rows = sqlx::query(&format!("{TENANT_SELECT} ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(status_from_row).collect()
    }

    /// Suspends (`true`) or reinstates a tenant; false when there is no such
    /// tenant. Suspending an already suspended tenant keeps its first time.
    pub async fn set_tenant_suspended(&self, id: &str, suspended: bool) -> Result<bool> {
        let done = if suspended {
            sqlx::query(
                "UPDATE tenants SET suspended_at = COALESCE(suspended_at, $2) WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms())
            .execute(&self.writer)
            .await?
        } else {
            sqlx::query("UPDATE tenants SET suspended_at = NULL WHERE id = $1")
                .bind(id)
                .execute(&self.writer)
                .await?
        };
        self.cache.forget(id);
        Ok(done.rows_affected() > 0)
    }
}

fn status_from_row(r: &sqlx::any::AnyRow) -> Result<TenantStatus> {
    Ok(TenantStatus {
        tenant: Tenant {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            jurisdiction: Jurisdiction::from_str(r.try_get::<String, _>("jurisdiction")?.as_str())
                .map_err(|reason| RecordError::Corrupt {
                    column: "tenants.jurisdiction",
                    reason,
                })?,
            alpha: r.try_get("alpha")?,
            auto_threshold: r.try_get("auto_threshold")?,
        },
        created_at: r.try_get("created_at")?,
        suspended_at: r.try_get("suspended_at")?,
    })
}
