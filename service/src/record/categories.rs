//! The tenant's category catalogue: the categories citizens pick from
//! (Open311's services), seeded from the categories seen in history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{category_from_sql, category_to_sql, json, now_ms, parse_json, Record, Result};

/// One category of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    /// Owning tenant.
    pub tenant_id: String,
    /// Code, unique within the tenant (Open311's `service_code`).
    pub code: String,
    /// The category path it stands for, general to specific.
    pub path: Vec<String>,
    /// Display names by language code (`uk`, `ru`, `kk`, `en`).
    pub names: BTreeMap<String, String>,
    /// Inactive categories are not offered to citizens.
    pub active: bool,
    /// Appeals filed under it are not requests (thanks): stored, sent to no
    /// department; routing learns such texts from the history under it.
    #[serde(default)]
    pub not_request: bool,
}

/// The code a seeded category gets: `c` and 12 hex digits of the sha256 of
/// its path (stable across seeds, safe in a URL whatever the levels hold).
pub fn code_of(path: &[String]) -> String {
    let digest = Sha256::digest(category_to_sql(path).unwrap_or_default().as_bytes());
    format!("c{}", &hex::encode(digest)[..12])
}

impl Record {
    /// Creates or replaces a category.
    pub async fn upsert_category(&self, c: &Category) -> Result<()> {
        self.require_tenant(&c.tenant_id).await?;
        sqlx::query(
            "INSERT INTO categories (tenant_id, code, path, names, active, updated_at, not_request) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, code) DO UPDATE SET path = excluded.path, \
             names = excluded.names, active = excluded.active, updated_at = excluded.updated_at, \
             not_request = excluded.not_request",
        )
        .bind(&c.tenant_id)
        .bind(&c.code)
        .bind(category_to_sql(&c.path).unwrap_or_else(|| "[]".into()))
        .bind(json(&c.names))
        .bind(c.active as i64)
        .bind(now_ms())
        .bind(c.not_request as i64)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Every category of a tenant, by code.
    pub async fn categories(&self, tenant: &str) -> Result<Vec<Category>> {
        let rows = sqlx::query(
            "SELECT tenant_id, code, path, names, active, not_request FROM categories \
             WHERE tenant_id = $1 ORDER BY code",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Category {
                    tenant_id: r.try_get("tenant_id")?,
                    code: r.try_get("code")?,
                    path: category_from_sql(r.try_get("path")?)?,
                    names: parse_json(r, "names", "categories.names")?,
                    active: r.try_get::<i64, _>("active")? != 0,
                    not_request: r.try_get::<i64, _>("not_request")? != 0,
                })
            })
            .collect()
    }

    /// The paths of the categories the tenant marks as not a request.
    pub async fn not_request_paths(&self, tenant: &str) -> Result<Vec<Vec<String>>> {
        Ok(self
            .categories(tenant)
            .await?
            .into_iter()
            .filter(|c| c.not_request)
            .map(|c| c.path)
            .collect())
    }

    /// Adds to the catalogue every category path the tenant's appeals carry
    /// and the catalogue lacks (its last level as the name in `language`);
    /// entries an admin edited are left alone. Returns how many were added.
    pub async fn seed_categories(&self, tenant: &str, language: &str) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT DISTINCT category FROM appeals WHERE tenant_id = $1 AND category IS NOT NULL",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        let known: Vec<Vec<String>> = self
            .categories(tenant)
            .await?
            .into_iter()
            .map(|c| c.path)
            .collect();
        let mut added = 0;
        for r in &rows {
            let path = category_from_sql(r.try_get("category")?)?;
            if path.is_empty() || known.contains(&path) {
                continue;
            }
            let name = path.last().cloned().unwrap_or_default();
            self.upsert_category(&Category {
                tenant_id: tenant.to_string(),
                code: code_of(&path),
                names: BTreeMap::from([(language.to_string(), name)]),
                path,
                active: true,
                not_request: false,
            })
            .await?;
            added += 1;
        }
        Ok(added)
    }
}
