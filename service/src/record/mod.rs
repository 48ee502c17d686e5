//! The system of record: the source of truth for tenants, departments, appeals,
//! suggestions, decisions, API keys and the append-only audit log. The vector
//! index is derived from it (and rebuilt from it on request).
//!
//! One code path for both back ends: sqlx's `Any` driver over **SQLite** (the
//! embedded default, WAL mode) or **PostgreSQL** (by URL, for scale-out). Only the
//! DDL differs per dialect (`migrations/<dialect>/`); every query is shared.
//!
//! Consistency: an appeal, its audit entry and its outbox entry are written in
//! one transaction, so an acknowledged appeal always has a pending index write;
//! the outbox is replayed on start until the index has caught up.

mod cache;
mod categories;
mod error;
mod keys;
mod migrate;
mod outbox;
mod places;
mod tenants;
mod types;
mod workflow;

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub use categories::{code_of, Category};
pub use error::RecordError;
pub use keys::{hash_secret, ApiKey, Authenticated, KeyRole, KEY_PREFIX};
pub use outbox::DeadLetter;
pub use tenants::TenantStatus;
pub use types::*;
pub use workflow::{AppealQuery, DecisionRow, SuggestionBody};

/// Result alias of the record.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;

/// Which SQL dialect the pool speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A handle on the system of record; cheap to clone.
#[derive(Clone)]
pub struct Record {
    /// Readers (and, on PostgreSQL, writers too).
    pool: AnyPool,
    /// Where every write goes. On SQLite a pool of one connection: SQLite admits
    /// one writer at a time, and a second connection waiting for the lock polls
    /// with sleeps of up to 100 ms (its busy handler), which under concurrent
    /// submissions made the tail latency. One connection turns that into a fair
    /// async queue in front of the lock. On PostgreSQL the same pool as readers.
    writer: AnyPool,
    dialect: Dialect,
    /// Tenants and catalogues, read by every request (see `cache.rs`).
    cache: Arc<cache::ReadCache>,
    /// A commit failed for want of disk (or an I/O error) and no write has
    /// been shown to work since: readiness probes with a real commit until
    /// one does (see [`Record::writable`]).
    write_failed: Arc<std::sync::atomic::AtomicBool>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Per-connection SQLite settings: WAL for concurrent readers and crash safety,
/// foreign keys on, and waiting (not failing) on a briefly locked database.
/// `synchronous = FULL`: each commit is fsynced before it returns, so an
/// appeal the service acknowledged survives a power loss or an OS crash, not
/// only a killed process (NORMAL in WAL mode may lose the last commits then);
/// the cost is one WAL fsync per commit, which the single writer's group
/// commits share (docs/case-memory.md).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
];

/// A pool of SQLite connections with [`SQLITE_PRAGMAS`] applied to each.
async fn sqlite_pool(url: &str, connections: u32, acquire: Duration) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(acquire)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    sqlx::Executor::execute(&mut *conn, *pragma).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

impl Record {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    ///
    /// `sqlite:PATH` opens an embedded file in WAL mode; `postgres://…` a server.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(RecordError::UnsupportedUrl(url.to_string()));
        };
        let (pool, writer) = match dialect {
            Dialect::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                // The writer first: it creates the file and switches it to WAL
                // before readers open it.
                let writer = sqlite_pool(&url, 1, Duration::from_secs(30)).await?;
                let pool = sqlite_pool(&url, 8, Duration::from_secs(10)).await?;
                (pool, writer)
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let record = Self {
            pool,
            writer,
            dialect,
            cache: Arc::default(),
            write_failed: Arc::default(),
        };
        migrate::run(&record.writer, dialect).await?;
        Ok(record)
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock
    /// up front (`BEGIN IMMEDIATE`): a plain `BEGIN` that reads first and then
    /// writes cannot be upgraded while another connection writes, and fails at
    /// once with SQLITE_BUSY_SNAPSHOT instead of waiting (busy_timeout does not
    /// apply to it), which concurrent submissions hit.
    ///
    /// A writer whose `COMMIT` failed (disk full, I/O error) is replaced
    /// here: SQLite has rolled that transaction back, but sqlx still counts
    /// it open on the connection and refuses every later `BEGIN` on it
    /// (`InvalidSavePointStatement`), which wedged every write of the
    /// service after one failed commit. The single writer is closed and the
    /// pool opens a fresh one.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => match self.writer.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => {
                    // The writer's last transaction ended cleanly.
                    self.write_failed.store(false, Ordering::Relaxed);
                    tx
                }
                Err(sqlx::Error::InvalidSavePointStatement) => {
                    tracing::warn!("record writer replaced after a failed commit");
                    self.write_failed.store(true, Ordering::Relaxed);
                    self.writer.acquire().await?.close().await?;
                    self.writer.begin_with("BEGIN IMMEDIATE").await?
                }
                other => other?,
            },
            Dialect::Postgres => self.writer.begin().await?,
        })
    }

    /// Whether writes commit. Free while the writer's last transaction
    /// committed; after a commit failed (disk full, I/O error: see
    /// [`Record::begin_write`]) each call tries a real one the size of a
    /// large appeal's (64 KiB, in a probe table created and dropped in the
    /// same transaction) until one works, so readiness tells the truth and
    /// recovers by itself once space is back. (A tiny probe is not enough:
    /// the write-ahead log's space already on disk takes a few pages when
    /// an appeal's commit does not fit.) SQLite only: PostgreSQL's failures
    /// are its server's to report.
    pub async fn writable(&self) -> bool {
        if !self.write_failed.load(Ordering::Relaxed) {
            return true;
        }
        let probe = async {
            let mut tx = self.begin_write().await?;
            for sql in [
                "CREATE TABLE IF NOT EXISTS write_probe (x BLOB)",
                "INSERT INTO write_probe VALUES (zeroblob(65536))",
                "DROP TABLE write_probe",
            ] {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, RecordError>(())
        };
        let ok = probe.await.is_ok();
        if ok {
            tracing::info!("record writes commit again");
        } else {
            self.write_failed.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// True when the database answers a trivial query (for readiness probes).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Closes every connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Creates or updates a department of a tenant.
    pub async fn upsert_department(&self, d: &Department) -> Result<()> {
        self.require_tenant(&d.tenant_id).await?;
        sqlx::query(
            "INSERT INTO departments (tenant_id, code, names, description, areas, auto_threshold, active, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, code) DO UPDATE SET names = excluded.names, \
             description = excluded.description, areas = excluded.areas, \
             auto_threshold = excluded.auto_threshold, active = excluded.active, \
             updated_at = excluded.updated_at",
        )
        .bind(&d.tenant_id)
        .bind(&d.code)
        .bind(json(&d.names))
        .bind(&d.description)
        .bind(json(&d.areas))
        .bind(d.auto_threshold)
        .bind(d.active as i64)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        self.cache.forget(&d.tenant_id);
        Ok(())
    }

    /// Every department of a tenant, by code.
    pub async fn departments(&self, tenant: &str) -> Result<Vec<Department>> {
        if let Some(cached) = self.cache.departments(tenant) {
            return Ok(cached.as_ref().clone());
        }
        let rows = sqlx::query(
            "SELECT tenant_id, code, names, description, areas, auto_threshold, active \
             FROM departments WHERE tenant_id = $1 ORDER BY code",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    tenant_id: r.try_get("tenant_id")?,
                    code: r.try_get("code")?,
                    names: parse_json(r, "names", "departments.names")?,
                    description: r.try_get("description")?,
                    areas: parse_json(r, "areas", "departments.areas")?,
                    auto_threshold: r.try_get("auto_threshold")?,
                    active: r.try_get::<i64, _>("active")? != 0,
                })
            })
            .collect::<Result<Vec<_>>>()
            .inspect(|d| self.cache.put_departments(tenant, Arc::new(d.clone())))
    }

    async fn require_tenant(&self, tenant: &str) -> Result<()> {
        match self.tenant(tenant).await? {
            Some(_) => Ok(()),
            None => Err(RecordError::UnknownTenant(tenant.to_string())),
        }
    }

    /// Stores a new appeal, idempotently on (tenant, external id): a repeat returns
    /// the stored appeal's id with `created = false` and changes nothing. The
    /// appeal, its audit entry and its outbox entry commit together.
    pub async fn insert_appeal(&self, a: &AppealData, actor: &str) -> Result<Inserted> {
        self.insert_appeal_with(a, actor, None).await
    }

    /// [`Record::insert_appeal`], plus the routing suggestion already made for it
    /// (`a.status` and `a.department` then say what it decided), all in one
    /// transaction: the serving path routes first and writes once, so an appeal
    /// is never seen half-routed and each submission costs one commit.
    pub async fn insert_appeal_with(
        &self,
        a: &AppealData,
        actor: &str,
        suggestion: Option<&SuggestionBody<'_>>,
    ) -> Result<Inserted> {
        self.require_tenant(&a.tenant_id).await?;
        let mut tx = self.begin_write().await?;
        if let Some(ext) = &a.external_id {
            let existing =
                sqlx::query("SELECT id FROM appeals WHERE tenant_id = $1 AND external_id = $2")
                    .bind(&a.tenant_id)
                    .bind(ext)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = existing {
                return Ok(Inserted {
                    id: row.try_get("id")?,
                    created: false,
                });
            }
        }
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO appeals (tenant_id, external_id, text, redacted_text, language, district, \
             municipality, lat, lon, address, channel, applicant_category, received_at, status, \
             department, category, submitted_by, created_at, updated_at, address_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19) \
             RETURNING id",
        )
        .bind(&a.tenant_id)
        .bind(&a.external_id)
        .bind(&a.text)
        .bind(&a.redacted_text)
        .bind(&a.language)
        .bind(&a.place.district)
        .bind(&a.place.municipality)
        .bind(a.place.lat)
        .bind(a.place.lon)
        .bind(&a.place.address)
        .bind(&a.channel)
        .bind(&a.applicant_category)
        .bind(a.received_at)
        .bind(a.status.as_str())
        .bind(&a.department)
        .bind(category_to_sql(&a.category))
        .bind(&a.submitted_by)
        .bind(now)
        .bind(a.address_key())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        append_audit(
            &mut tx,
            &a.tenant_id,
            Some(id),
            actor,
            "appeal.created",
            "{}",
        )
        .await?;
        if let Some(body) = suggestion {
            workflow::insert_suggestion(&mut tx, &a.tenant_id, id, body, now).await?;
        }
        outbox::enqueue(&mut tx, id, now).await?;
        tx.commit().await?;
        Ok(Inserted { id, created: true })
    }

    /// The appeal `id` of `tenant` (another tenant's id reads as absent).
    pub async fn appeal(&self, tenant: &str, id: i64) -> Result<Option<Appeal>> {
        let row = sqlx::query(&format!("{APPEAL_SELECT} WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| appeal_from_row(&r)).transpose()
    }

    /// Appeals by id, any tenant (for the index writer replaying the outbox).
    pub async fn appeals_by_ids(&self, ids: &[i64]) -> Result<Vec<Appeal>> {
        let mut out = Vec::with_capacity(ids.len());
        for list in id_lists(ids) {
            let rows = sqlx::query(&format!("{APPEAL_SELECT} WHERE id IN ({list}) ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                out.push(appeal_from_row(r)?);
            }
        }
        Ok(out)
    }

    /// Number of appeals of a tenant.
    pub async fn count_appeals(&self, tenant: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM appeals WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The audit trail of an appeal, oldest first.
    pub async fn audit_trail(&self, tenant: &str, appeal_id: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, actor, action, detail, created_at FROM audit_log \
             WHERE tenant_id = $1 AND appeal_id = $2 ORDER BY seq",
        )
        .bind(tenant)
        .bind(appeal_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Raw access for tests of invariants (e.g. that the audit log refuses updates).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Ids as comma-separated lists of at most 500, for `IN (...)` clauses. Inlined
/// rather than bound: they are integers (nothing to inject), and a list of bound
/// parameters would hit SQLite's and PostgreSQL's parameter limits.
pub(super) fn id_lists(ids: &[i64]) -> impl Iterator<Item = String> + '_ {
    ids.chunks(500).map(|chunk| {
        chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    })
}

const APPEAL_SELECT: &str = "SELECT id, tenant_id, external_id, text, redacted_text, language, \
    district, municipality, lat, lon, address, channel, applicant_category, received_at, status, \
    department, category, submitted_by FROM appeals";

fn appeal_from_row(r: &AnyRow) -> Result<Appeal> {
    Ok(Appeal {
        id: r.try_get("id")?,
        data: AppealData {
            tenant_id: r.try_get("tenant_id")?,
            external_id: r.try_get("external_id")?,
            text: r.try_get("text")?,
            redacted_text: r.try_get("redacted_text")?,
            language: r.try_get("language")?,
            place: Place {
                district: r.try_get("district")?,
                municipality: r.try_get("municipality")?,
                lat: r.try_get("lat")?,
                lon: r.try_get("lon")?,
                address: r.try_get("address")?,
            },
            channel: r.try_get("channel")?,
            applicant_category: r.try_get("applicant_category")?,
            category: category_from_sql(r.try_get("category")?)?,
            received_at: r.try_get("received_at")?,
            status: AppealStatus::from_str(r.try_get::<String, _>("status")?.as_str()).map_err(
                |reason| RecordError::Corrupt {
                    column: "appeals.status",
                    reason,
                },
            )?,
            department: r.try_get("department")?,
            submitted_by: r.try_get("submitted_by")?,
        },
    })
}

async fn append_audit(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    appeal_id: Option<i64>,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, appeal_id, actor, action, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant)
    .bind(appeal_id)
    .bind(actor)
    .bind(action)
    .bind(detail)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// A category path as stored: a JSON array of levels, NULL for none.
fn category_to_sql(path: &[String]) -> Option<String> {
    (!path.is_empty()).then(|| json(&path))
}

/// A stored category path back.
fn category_from_sql(s: Option<String>) -> Result<Vec<String>> {
    match s {
        None => Ok(Vec::new()),
        Some(s) => serde_json::from_str(&s).map_err(|e| RecordError::Corrupt {
            column: "appeals.category",
            reason: e.to_string(),
        }),
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn parse_json<T: serde::de::DeserializeOwned>(
    r: &AnyRow,
    field: &str,
    column: &'static str,
) -> Result<T> {
    let s: String = r.try_get(field)?;
    serde_json::from_str(&s).map_err(|e| RecordError::Corrupt {
        column,
        reason: e.to_string(),
    })
}
