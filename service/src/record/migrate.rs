//! Versioned schema migrations, one SQL file per version and dialect, applied
//! in order inside a transaction each and recorded in `schema_migrations`.

use sqlx::{AnyPool, Row};

use super::{now_ms, Dialect, Result};

/// (version, SQLite DDL, PostgreSQL DDL), in order. Never edit a shipped entry:
/// add a new version.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("migrations/sqlite/0001_initial.sql"),
        include_str!("migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("migrations/sqlite/0002_routing_models.sql"),
        include_str!("migrations/postgres/0002_routing_models.sql"),
    ),
    (
        3,
        include_str!("migrations/sqlite/0003_appeal_places.sql"),
        include_str!("migrations/postgres/0003_appeal_places.sql"),
    ),
    (
        4,
        include_str!("migrations/sqlite/0004_appeal_category.sql"),
        include_str!("migrations/postgres/0004_appeal_category.sql"),
    ),
    (
        5,
        include_str!("migrations/sqlite/0005_categories.sql"),
        include_str!("migrations/postgres/0005_categories.sql"),
    ),
    (
        6,
        include_str!("migrations/sqlite/0006_appeal_submitter.sql"),
        include_str!("migrations/postgres/0006_appeal_submitter.sql"),
    ),
    (
        7,
        include_str!("migrations/sqlite/0007_outbox_dead.sql"),
        include_str!("migrations/postgres/0007_outbox_dead.sql"),
    ),
    (
        8,
        include_str!("migrations/sqlite/0008_tenant_suspension.sql"),
        include_str!("migrations/postgres/0008_tenant_suspension.sql"),
    ),
    (
        9,
        include_str!("migrations/sqlite/0009_category_not_request.sql"),
        include_str!("migrations/postgres/0009_category_not_request.sql"),
    ),
    (
        10,
        include_str!("migrations/sqlite/0010_appeal_address_key.sql"),
        include_str!("migrations/postgres/0010_appeal_address_key.sql"),
    ),
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

/// Brings the schema up to the latest version.
///
/// Several processes (service replicas, tests) may start at once, so the whole
/// check-and-apply runs in one transaction that first takes an exclusive lock:
/// PostgreSQL's transaction-scoped advisory lock, or SQLite's write lock (taken
/// by a no-op write). The loser waits, then finds the work done.
pub(super) async fn run(pool: &AnyPool, dialect: Dialect) -> Result<()> {
    if dialect == Dialect::Sqlite {
        sqlx::raw_sql(CREATE_TABLE).execute(pool).await?;
    }
    let mut tx = pool.begin().await?;
    match dialect {
        Dialect::Postgres => {
            sqlx::raw_sql("SELECT pg_advisory_xact_lock(727274)")
                .execute(&mut *tx)
                .await?;
            sqlx::raw_sql(CREATE_TABLE).execute(&mut *tx).await?;
        }
        Dialect::Sqlite => {
            sqlx::raw_sql("DELETE FROM schema_migrations WHERE version < 0")
                .execute(&mut *tx)
                .await?;
        }
    }
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("version"))
        .collect::<Result<_, _>>()?;
    for &(version, sqlite, postgres) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        let ddl = match dialect {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        };
        sqlx::raw_sql(ddl).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}
