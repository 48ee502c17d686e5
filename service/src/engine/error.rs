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
    /// The system of record failed; kept whole, so the cause is not lost.
    /// Unreachable: 503 ([`RecordError::is_unavailable`]); otherwise 500.
    #[error("record: {0}")]
    Record(#[source] RecordError),
    /// The vector index failed; kept whole. Unreachable, held elsewhere or
    /// corrupt (rebuilt by `reindex`): 503; otherwise 500.
    #[error("index: {0}")]
    Index(#[source] IndexError),
    /// Anything else: 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// True when the failure is temporary (a store cannot be reached or is
    /// held elsewhere): the request may succeed later, nothing was half-written.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Record(r) => r.is_unavailable(),
            Self::Index(i) => i.is_unavailable(),
            _ => false,
        }
    }
}

impl From<RecordError> for EngineError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::UnknownTenant(t) => Self::UnknownTenant(t),
            RecordError::UnknownAppeal(id) => Self::UnknownAppeal(id),
            RecordError::Conflict(m) => Self::Conflict(m),
            other => Self::Record(other),
        }
    }
}

impl From<IndexError> for EngineError {
    fn from(e: IndexError) -> Self {
        Self::Index(e)
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
