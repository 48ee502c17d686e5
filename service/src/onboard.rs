//! Onboarding from outside the service: creating tenants and API keys where no
//! key exists yet (a tenant's first admin key cannot come from the API, which
//! needs a key).
//!
//! One path for the command line and its tests: with the data directory free,
//! write the record directly; when a running service holds it (the embedded
//! store is locked by `serve`), go through that service's operator API, so an
//! authority is onboarded without downtime. Validation is the record's own
//! ([`Tenant::check`]), the same rule the HTTP edges apply.

use crate::config::ModelConfig;
use crate::datadir::{DataDir, DataDirError};
use crate::operator_client::{OperatorClient, RemoteArgs};
use crate::record::{ApiKey, KeyRole, Record, Tenant};
use crate::serve::{open_record, ServeError};

/// Where the record is: which URL (default: SQLite in the data directory).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The data directory and model settings.
    pub model: &'a ModelConfig,
    /// System of record URL; `None`: SQLite in the data directory.
    pub database_url: Option<&'a str>,
}

/// A key just created: its id, and its secret (shown once, stored hashed).
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Key id.
    pub id: String,
    /// The secret.
    pub secret: String,
}

/// Where a write goes: the record itself, or the running service holding it.
enum Store {
    /// The record, opened here (and the data directory's lock, if any).
    Local(Record, Option<DataDir>),
    /// The running service's operator API.
    Remote(OperatorClient),
}

impl Store {
    /// The record when nothing holds the data directory, else the service
    /// holding it (which needs `remote`'s operator key).
    async fn open(to: Target<'_>, remote: &RemoteArgs) -> Result<Self, ServeError> {
        match open_record(to.model, to.database_url).await {
            Ok((record, lock)) => Ok(Self::Local(record, lock)),
            Err(ServeError::DataDir(DataDirError::InUse(dir))) => {
                let why = format!("{} is held by a running service", dir.display());
                Ok(Self::Remote(OperatorClient::new(remote, &why)?))
            }
            Err(e) => Err(e),
        }
    }
}

/// Creates or updates a tenant, after checking it.
/// `remote` is the running service to ask when it holds the data directory.
pub async fn put_tenant(
    to: Target<'_>,
    remote: &RemoteArgs,
    tenant: &Tenant,
) -> Result<(), ServeError> {
    tenant
        .check()
        .map_err(|e| ServeError::Invalid(e.to_string()))?;
    match Store::open(to, remote).await? {
        Store::Local(record, _lock) => {
            let stored = record.upsert_tenant(tenant).await;
            record.close().await;
            Ok(stored?)
        }
        Store::Remote(service) => service.put_tenant(tenant).await,
    }
}

/// Creates an API key of `tenant` (which must exist); `remote` as for [`put_tenant`].
pub async fn create_key(
    to: Target<'_>,
    remote: &RemoteArgs,
    tenant: &str,
    role: KeyRole,
    label: Option<&str>,
) -> Result<NewKey, ServeError> {
    match Store::open(to, remote).await? {
        Store::Local(record, _lock) => {
            let created = record.create_api_key(tenant, role, label, "cli").await;
            record.close().await;
            let (key, secret) = created?;
            Ok(NewKey { id: key.id, secret })
        }
        Store::Remote(service) => {
            let (id, secret) = service.create_key(tenant, role, label).await?;
            Ok(NewKey { id, secret })
        }
    }
}

/// A tenant's keys (never their secrets). Needs the record itself.
pub async fn list_keys(to: Target<'_>, tenant: &str) -> Result<Vec<ApiKey>, ServeError> {
    let (record, _lock) = open_record(to.model, to.database_url).await?;
    let keys = record.api_keys(tenant).await;
    record.close().await;
    Ok(keys?)
}

/// Revokes a key; an unknown or already revoked key is an error. Needs the record itself.
pub async fn revoke_key(to: Target<'_>, tenant: &str, id: &str) -> Result<(), ServeError> {
    let (record, _lock) = open_record(to.model, to.database_url).await?;
    let done = record.revoke_api_key(tenant, id, "cli").await;
    record.close().await;
    if done? {
        Ok(())
    } else {
        Err(ServeError::Invalid(format!(
            "tenant {tenant} has no active key {id}"
        )))
    }
}
