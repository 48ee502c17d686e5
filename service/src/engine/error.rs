//! Errors of the routing engine, typed so the HTTP layer can map each to a status.

use crate::index::IndexError;
use crate::memory::MemoryError;
use crate::record::RecordError;

/// What can go wrong when routing or recording an appeal.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request itself is wrong (empty text, text too long, bad field): 400/422.
    #[error("{0}")]
    InvalidInput(String),
    /// No such tenant: 404.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// No such appeal in the tenant: 404.
    #[error("unknown appeal {0}")]
    UnknownAppeal(i64),
    /// A department that is neither in the catalogue nor in the history: 422.
    #[error("unknown department {0:?}")]
    UnknownDepartment(String),
    /// The appeal is in a state that does not allow the action: 409.
    #[error("{0}")]
    Conflict(String),
    /// A store (database, Qdrant) cannot be reached: 503; nothing was half-written.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Too many requests queued for the model: 429.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// Anything else: 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RecordError> for EngineError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::UnknownTenant(t) => Self::UnknownTenant(t),
            RecordError::UnknownAppeal(id) => Self::UnknownAppeal(id),
            RecordError::Conflict(m) => Self::Conflict(m),
            RecordError::Database(db) => match db {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_) => Self::Unavailable(format!("database: {db}")),
                other => Self::Internal(format!("database: {other}")),
            },
            RecordError::InUse(m) => Self::Unavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<IndexError> for EngineError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Unavailable { .. } | IndexError::InUse(_) | IndexError::Corrupt { .. } => {
                Self::Unavailable(e.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<MemoryError> for EngineError {
    fn from(e: MemoryError) -> Self {
        match e {
            MemoryError::Record(r) => r.into(),
            MemoryError::Index(i) => i.into(),
            MemoryError::Rejected(m) => Self::InvalidInput(m),
            MemoryError::Embed(m) => Self::Internal(m),
            MemoryError::Overloaded(m) => Self::Overloaded(m),
        }
    }
}
