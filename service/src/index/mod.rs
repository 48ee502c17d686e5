//! The case memory's vector index: past cases as vectors with the payload that
//! routing filters on. It is derived from the system of record and can always be
//! rebuilt from it, so it holds only what search needs.
//!
//! One trait, [`VectorIndex`], with the embedded Qdrant engine as the default
//! implementation; a Qdrant server joins behind the same trait, selected by
//! configuration alone, with the same ids and payload schema.

mod embedded;

use serde::{Deserialize, Serialize};

pub use embedded::EmbeddedIndex;

/// Errors of the vector index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index directory is held by another process.
    #[error("the index at {0} is already in use by another process")]
    InUse(String),
    /// The index on disk could not be opened (corrupt or from another version).
    #[error(
        "the index at {path} cannot be opened: {reason}; rebuild it with `appeal-triage reindex`"
    )]
    Corrupt {
        /// Index directory.
        path: String,
        /// What the engine said.
        reason: String,
    },
    /// A vector of the wrong width.
    #[error("vector has {got} dimensions, the index holds {want}")]
    Dimension {
        /// Width passed.
        got: usize,
        /// Width of the index.
        want: usize,
    },
    /// Any other engine error.
    #[error("vector index: {0}")]
    Engine(String),
}

/// Result alias of the index.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

/// What is stored beside each vector: the fields routing filters and explains with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasePayload {
    /// Owning tenant (every search is filtered on it).
    pub tenant: String,
    /// Confirmed or imported department, if known.
    pub department: Option<String>,
    /// District of the appeal, if known.
    pub district: Option<String>,
    /// Appeal status (see the record).
    pub status: String,
    /// Received at, unix ms.
    pub received_at: i64,
    /// Fingerprint of the model that made the vector.
    pub model: String,
}

/// A point: appeal id (the record's id), vector and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePoint {
    /// The appeal's record id.
    pub id: u64,
    /// L2-normalised embedding.
    pub vector: Vec<f32>,
    /// Payload.
    pub payload: CasePayload,
}

/// Which points a search or count considers. The tenant is mandatory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseFilter {
    /// Tenant.
    pub tenant: String,
    /// Only this department.
    pub department: Option<String>,
    /// Only this district.
    pub district: Option<String>,
    /// Only these statuses (empty: any).
    pub statuses: Vec<String>,
    /// Received at or after (unix ms).
    pub received_from: Option<i64>,
    /// Received before (unix ms).
    pub received_before: Option<i64>,
}

impl CaseFilter {
    /// Everything of one tenant.
    pub fn tenant(tenant: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            ..Self::default()
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Appeal id.
    pub id: u64,
    /// Cosine similarity.
    pub score: f32,
    /// Its payload.
    pub payload: CasePayload,
}

/// The seam between routing and whichever Qdrant holds the vectors.
///
/// Methods are async: the embedded engine runs its blocking calls off the async
/// runtime, a server implementation awaits the network.
#[async_trait::async_trait]
pub trait VectorIndex: Send + Sync {
    /// Inserts or replaces points (same id: replaced).
    async fn upsert(&self, points: Vec<CasePoint>) -> Result<()>;
    /// Deletes points by id (absent ids are ignored).
    async fn delete(&self, ids: Vec<u64>) -> Result<()>;
    /// The `k` most similar points passing `filter`, best first.
    async fn search(&self, vector: Vec<f32>, filter: CaseFilter, k: usize) -> Result<Vec<Hit>>;
    /// How many points pass `filter`.
    async fn count(&self, filter: CaseFilter) -> Result<u64>;
    /// Makes every acknowledged write durable.
    async fn flush(&self) -> Result<()>;
    /// Builds the search structures (HNSW) after bulk loads.
    async fn optimize(&self) -> Result<()>;
    /// Number of write operations applied since the index was created or
    /// opened-and-counted: a cheap version stamp for decisions.
    fn version(&self) -> u64;
}
