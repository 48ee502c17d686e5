//! A short-lived cache of what every request reads and rarely changes: a
//! tenant's settings and its department catalogue. A write through this
//! `Record` drops the tenant's entry at once; a write by another process
//! (another replica on the same PostgreSQL, the CLI) is seen within [`TTL`].
//! Keys are not cached: a revoked key must stop working at once everywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::{Department, TenantStatus};

/// How long an entry is served without asking the database.
pub const TTL: Duration = Duration::from_secs(2);

/// Most tenants kept (an operator with more serves the rest from SQL).
const MAX_TENANTS: usize = 10_000;

/// Entries by tenant id, each with when it was read.
type Entries<T> = RwLock<HashMap<String, (Instant, T)>>;

#[derive(Default)]
pub(super) struct ReadCache {
    tenants: Entries<Option<TenantStatus>>,
    departments: Entries<Arc<Vec<Department>>>,
}

fn fresh<T: Clone>(map: &Entries<T>, key: &str) -> Option<T> {
    let map = map.read().ok()?;
    let (at, v) = map.get(key)?;
    (at.elapsed() < TTL).then(|| v.clone())
}

fn put<T>(map: &Entries<T>, key: &str, v: T) {
    if let Ok(mut map) = map.write() {
        if map.len() >= MAX_TENANTS {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        if map.len() < MAX_TENANTS {
            map.insert(key.to_string(), (Instant::now(), v));
        }
    }
}

impl ReadCache {
    pub(super) fn tenant(&self, id: &str) -> Option<Option<TenantStatus>> {
        fresh(&self.tenants, id)
    }

    pub(super) fn put_tenant(&self, id: &str, t: Option<TenantStatus>) {
        put(&self.tenants, id, t);
    }

    pub(super) fn departments(&self, tenant: &str) -> Option<Arc<Vec<Department>>> {
        fresh(&self.departments, tenant)
    }

    pub(super) fn put_departments(&self, tenant: &str, d: Arc<Vec<Department>>) {
        put(&self.departments, tenant, d);
    }

    /// Drops what is cached of `tenant` (after a write to it).
    pub(super) fn forget(&self, tenant: &str) {
        if let Ok(mut m) = self.tenants.write() {
            m.remove(tenant);
        }
        if let Ok(mut m) = self.departments.write() {
            m.remove(tenant);
        }
    }
}
