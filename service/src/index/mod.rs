//! The case memory's vector index: past cases as vectors with the payload that
//! routing filters on. It is derived from the system of record and can always be
//! rebuilt from it, so it holds only what search needs.
//!
//! One trait, [`VectorIndex`], with the embedded Qdrant engine as the default
//! implementation and a Qdrant server ([`QdrantServerIndex`]) behind the same
//! trait, selected by configuration alone ([`open_index`]), with the same ids and
//! payload schema.

pub mod config;
mod embedded;
mod server;

use serde::{Deserialize, Serialize};

pub use config::{open_index, Backend, IndexConfig};
pub use embedded::EmbeddedIndex;
pub use server::{QdrantServerIndex, ServerConfig, WriteOrdering};

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
    /// The Qdrant server cannot be reached or keeps failing transiently (after
    /// the configured retries): the HTTP layer answers 503, nothing is lost.
    #[error("the Qdrant server at {url} is unavailable: {reason}")]
    Unavailable {
        /// Server URL.
        url: String,
        /// Last error seen.
        reason: String,
    },
    /// The configuration cannot work: bad URL, unreadable TLS CA file, or
    /// credentials the server refuses. Fix the configuration; retrying won't help.
    #[error("vector index configuration: {0}")]
    Config(String),
    /// An existing collection was made for other vectors (dimension, distance or
    /// named vectors differ); searching it would give wrong answers.
    #[error("the Qdrant collection `{collection}` does not fit this service: {reason}")]
    Incompatible {
        /// Collection name.
        collection: String,
        /// What differs.
        reason: String,
    },
    /// Any other engine error.
    #[error("vector index: {0}")]
    Engine(String),
}

impl IndexError {
    /// True when the index cannot serve for now and the request may succeed
    /// later: the server is unreachable, the directory is held by another
    /// process, or the files need `reindex` (the HTTP layer maps it to 503
    /// Service Unavailable; nothing was half-written).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            IndexError::Unavailable { .. } | IndexError::InUse(_) | IndexError::Corrupt { .. }
        )
    }
}

/// Keyword payload fields with an index (the tenant one marked `is_tenant`),
/// and whether the HNSW build adds per-value links for them.
///
/// Qdrant builds extra graph links for every value of every indexed field so
/// that a filter on it can still walk a connected graph. That pays for
/// `district` (same-district neighbours filter on it, each district is a few
/// percent of a tenant), but not for `status` (the confirmed statuses are most
/// of a tenant's cases: the main graph serves them) or `department` (no hot
/// search filters on it; the payload index answers listings); per-value links
/// for them doubled the build time of large indexes. Both adapters create
/// their payload indexes from this table.
pub(crate) const KEYWORD_FIELDS: [(&str, bool); 3] =
    [("department", false), ("district", true), ("status", false)];

/// Candidate list size of a graph search (`hnsw_ef`), for both adapters.
///
/// Routing asks for 41 neighbours. On the January validation slice of the
/// St Petersburg data, top-1 was 0.7615 at 128, 0.7619 at 96 and 0.7600 at
/// 64. The walk grows with ef: at 1M cases a tenant-filtered search took
/// 4.4 ms at 128 and 2.2 ms at 64 (96 was not timed on its own).
pub(crate) const SEARCH_EF: u64 = 96;

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

/// One page of [`VectorIndex::scroll`]: points in ascending id order, with
/// their vectors, and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrollPage {
    /// The points of this page (vectors included).
    pub points: Vec<CasePoint>,
    /// Offset of the next page (`None`: this was the last page).
    pub next_offset: Option<u64>,
}

/// Which engine holds an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Qdrant's engine in-process, in the data directory.
    Embedded,
    /// A Qdrant server (or cluster) over gRPC.
    Server,
}

/// A point-in-time stamp of an index: which engine and collection, how many
/// points, and the write counter. Routing decisions and health reports record
/// it so an answer can be tied to the state it was computed from. It is not a
/// backup archive: the index is rebuilt from the system of record instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSnapshot {
    /// Engine.
    pub backend: BackendKind,
    /// Directory (embedded) or `URL/collection` (server).
    pub location: String,
    /// Vector width.
    pub dim: usize,
    /// Points of all tenants, counted exactly.
    pub points: u64,
    /// [`VectorIndex::version`] at the moment of the stamp.
    pub version: u64,
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
    /// Up to `limit` points passing `filter` with id >= `offset`, ascending by
    /// id, vectors included: the way to copy an index (migration) or to read
    /// stored vectors back (refitting models) page by page without the record.
    async fn scroll(
        &self,
        filter: CaseFilter,
        offset: Option<u64>,
        limit: usize,
    ) -> Result<ScrollPage>;
    /// The points with these ids, vectors included, in the order asked; absent
    /// ids are skipped.
    async fn retrieve(&self, ids: Vec<u64>) -> Result<Vec<CasePoint>>;
    /// The payloads of the points with these ids, without their vectors, in
    /// the order asked; absent ids are skipped. (A decision changes a case's
    /// payload only: reading the vector back to write it again was waste.)
    async fn payloads(&self, ids: Vec<u64>) -> Result<Vec<(u64, CasePayload)>>;
    /// Replaces the payloads of existing points, their vectors untouched.
    async fn set_payloads(&self, items: Vec<(u64, CasePayload)>) -> Result<()>;
    /// A point-in-time stamp of the index (see [`IndexSnapshot`]).
    async fn snapshot(&self) -> Result<IndexSnapshot>;
    /// Makes every acknowledged write durable.
    async fn flush(&self) -> Result<()>;
    /// Builds the search structures (HNSW) after bulk loads.
    async fn optimize(&self) -> Result<()>;
    /// Number of write operations applied since the index was created or
    /// opened-and-counted: a cheap version stamp for decisions.
    fn version(&self) -> u64;
}
