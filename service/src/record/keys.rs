//! API keys in the record: one tenant and one role per key, stored hashed.
//!
//! A key reads `atk_<id>_<secret>`: the id (16 hex digits) finds the row, the
//! secret (64 hex digits, 256 random bits) is checked against the stored sha256
//! in constant time. The plaintext is returned once, at creation, and never
//! stored; a leaked database does not leak usable keys. A salt is unnecessary:
//! the secret is high-entropy random, not a password.

use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

use super::{append_audit, now_ms, Record, RecordError, Result};

/// What a key may do. Roles are ordered: each includes the ones below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// A citizens' portal or intake system: submit appeals, read them back.
    Portal,
    /// A supervisor: the review queue, accept/override decisions, reroutes.
    Supervisor,
    /// An administrator: departments, tenant settings, keys, imports.
    Admin,
}

impl KeyRole {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Portal => "portal",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for KeyRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "portal" => Ok(Self::Portal),
            "supervisor" => Ok(Self::Supervisor),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "unknown role {other:?} (portal, supervisor or admin)"
            )),
        }
    }
}

impl std::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored API key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    /// Public id (the part of the key before the secret); the audit actor.
    pub id: String,
    /// Tenant the key acts for.
    pub tenant_id: String,
    /// What it may do.
    pub role: KeyRole,
    /// Free-form label (who holds it).
    pub label: Option<String>,
    /// When created, unix ms.
    pub created_at: i64,
    /// When revoked, unix ms; a revoked key authenticates nothing.
    pub revoked_at: Option<i64>,
}

/// A presented key that is valid (known, secret matches, not revoked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The key.
    pub key: ApiKey,
    /// Its tenant is suspended by the operator: the key may do nothing.
    pub tenant_suspended: bool,
}

/// Prefix of every key, so a leaked key is recognisable by secret scanners.
pub const KEY_PREFIX: &str = "atk_";

/// Hex SHA-256 of a secret, the form keys (and the operator secret) are kept in.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| RecordError::Corrupt {
        column: "api_keys (random source)",
        reason: e.to_string(),
    })?;
    Ok(hex::encode(buf))
}

/// Splits `atk_<id>_<secret>` into id and secret.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex16 = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (hex16 && !secret.is_empty()).then_some((id, secret))
}

impl Record {
    /// Creates a key for `tenant` with `role`; returns the key and its plaintext
    /// (shown once). The creation is audited with `actor`.
    pub async fn create_api_key(
        &self,
        tenant: &str,
        role: KeyRole,
        label: Option<&str>,
        actor: &str,
    ) -> Result<(ApiKey, String)> {
        self.require_tenant(tenant).await?;
        let id = random_hex(8)?;
        let secret = random_hex(32)?;
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, role, key_hash, label, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(role.as_str())
        .bind(hash_secret(&secret))
        .bind(label)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "key_id": id, "role": role.as_str(), "label": label });
        append_audit(
            &mut tx,
            tenant,
            None,
            actor,
            "key.created",
            &detail.to_string(),
        )
        .await?;
        tx.commit().await?;
        let key = ApiKey {
            id: id.clone(),
            tenant_id: tenant.to_string(),
            role,
            label: label.map(str::to_string),
            created_at: now,
            revoked_at: None,
        };
        Ok((key, format!("{KEY_PREFIX}{id}_{secret}")))
    }

    /// The active key a presented plaintext belongs to, or `None` (unknown,
    /// malformed, wrong secret or revoked: the caller cannot tell which).
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<Option<Authenticated>> {
        let Some((id, secret)) = split_key(presented) else {
            return Ok(None);
        };
        let Some((key, stored_hash, suspended_at)) = self.api_key_row(id).await? else {
            return Ok(None);
        };
        let ok: bool = hash_secret(secret)
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into();
        Ok((ok && key.revoked_at.is_none()).then_some(Authenticated {
            key,
            tenant_suspended: suspended_at.is_some(),
        }))
    }

    async fn api_key_row(&self, id: &str) -> Result<Option<(ApiKey, String, Option<i64>)>> {
        let row = sqlx::query(
            "SELECT k.id, k.tenant_id, k.role, k.key_hash, k.label, k.created_at, k.revoked_at, \
             t.suspended_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> Result<(ApiKey, String, Option<i64>)> {
            Ok((
                key_from_row(&r)?,
                r.try_get("key_hash")?,
                r.try_get("suspended_at")?,
            ))
        })
        .transpose()
    }

    /// Every key of a tenant (revoked ones too), oldest first.
    pub async fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, role, key_hash, label, created_at, revoked_at \
             FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes key `id` of `tenant`; false when the tenant has no such active key.
    pub async fn revoke_api_key(&self, tenant: &str, id: &str, actor: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let detail = serde_json::json!({ "key_id": id }).to_string();
        append_audit(&mut tx, tenant, None, actor, "key.revoked", &detail).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn key_from_row(r: &sqlx::any::AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        role: KeyRole::from_str(r.try_get::<String, _>("role")?.as_str()).map_err(|reason| {
            RecordError::Corrupt {
                column: "api_keys.role",
                reason,
            }
        })?,
        label: r.try_get("label")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_id_and_secret_only_when_well_formed() {
        assert_eq!(
            split_key("atk_0123456789abcdef_s3cret"),
            Some(("0123456789abcdef", "s3cret"))
        );
        assert_eq!(split_key("atk_0123456789abcdef_"), None);
        assert_eq!(split_key("atk_short_s3cret"), None);
        assert_eq!(split_key("xyz_0123456789abcdef_s3cret"), None);
        assert_eq!(split_key(""), None);
    }

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(KeyRole::Admin > KeyRole::Supervisor && KeyRole::Supervisor > KeyRole::Portal);
        for r in [KeyRole::Portal, KeyRole::Supervisor, KeyRole::Admin] {
            assert_eq!(KeyRole::from_str(r.as_str()).unwrap(), r);
        }
        assert!(KeyRole::from_str("root").is_err());
    }
}
