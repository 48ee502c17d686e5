//! Errors of the system of record, and which of them mean "the store cannot
//! serve for now" (HTTP 503) rather than a bug (500).

/// Errors of the system of record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The database URL is not `sqlite:` or `postgres:`.
    #[error("unsupported database URL {0:?} (expected sqlite:PATH or postgres://...)")]
    UnsupportedUrl(String),
    /// The database could not be reached or answered with an error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The SQLite file is held by another process.
    #[error("the data directory is already in use by another process ({0})")]
    InUse(String),
    /// A referenced tenant does not exist.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// No appeal with this id in the tenant.
    #[error("unknown appeal {0}")]
    UnknownAppeal(i64),
    /// The appeal's status does not allow the change (e.g. a second decision).
    #[error("{0}")]
    Conflict(String),
    /// A stored JSON column could not be read back.
    #[error("corrupt stored value in {column}: {reason}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// What failed.
        reason: String,
    },
}

impl RecordError {
    /// True when the store could not be reached or is held elsewhere: the
    /// request may succeed later and nothing was half-written (HTTP 503).
    /// Everything else that is not the caller's fault is a bug (500).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|c| store_cannot_write(&c))
            }
            Self::Database(db) => matches!(
                db,
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
            ),
            Self::InUse(_) => true,
            _ => false,
        }
    }
}

/// Whether a database error code says the store cannot write for now (disk
/// full, read-only, busy, I/O error, shutting down) rather than that the
/// statement is wrong. SQLite codes are numbers (extended codes carry the
/// primary one in their low byte); PostgreSQL's are five-character SQLSTATEs.
fn store_cannot_write(code: &str) -> bool {
    if code.len() == 5 {
        // 08: connection exception; 53: insufficient resources (53100 disk
        // full); 57P01-03: shutdown, cannot connect now; 25006: read-only.
        return code.starts_with("08")
            || code.starts_with("53")
            || ["57P01", "57P02", "57P03", "25006"].contains(&code);
    }
    code.parse::<i32>().is_ok_and(|c| {
        // SQLITE_BUSY 5, LOCKED 6, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14.
        matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14)
    })
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::RecordError;

    /// A real SQLite refusal to write (a read-only database) is "unavailable"
    /// (503: retry later, nothing half-written); a wrong statement is a bug (500).
    #[tokio::test]
    async fn a_store_that_cannot_write_is_unavailable_and_a_bad_statement_is_not() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        let rw = format!("sqlite:{}?mode=rwc", path.display());
        let mut c = sqlx::AnyConnection::connect(&rw).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        let ro = format!("sqlite:{}?mode=ro", path.display());
        let mut c = sqlx::AnyConnection::connect(&ro).await.unwrap();
        let refused = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut c)
            .await
            .unwrap_err();
        let e = RecordError::Database(refused);
        assert!(e.is_unavailable(), "read-only store: {e}");
        let wrong = sqlx::query("INSERT INTO no_such_table VALUES (1)")
            .execute(&mut c)
            .await
            .unwrap_err();
        let e = RecordError::Database(wrong);
        assert!(!e.is_unavailable(), "a bad statement is a bug: {e}");
    }

    #[test]
    fn database_error_codes_are_classified() {
        for (code, unavailable) in [
            ("53100", true),
            ("25006", true),
            ("08006", true),
            ("57P01", true),
            ("23505", false),
            ("42P01", false),
            ("13", true),
            ("1032", true),
            ("1", false),
            ("19", false),
        ] {
            assert_eq!(super::store_cannot_write(code), unavailable, "{code}");
        }
    }
}
