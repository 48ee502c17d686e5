//! [`VectorIndex`] on a Qdrant server (or cluster) over gRPC, for deployments
//! whose case memory outgrows one machine or must be shared by several service
//! instances. Same ids (the record's appeal ids), same payload, same filter
//! semantics as [`super::EmbeddedIndex`].
//!
//! It speaks gRPC through the generated clients of crates.io `qdrant-client` on
//! our own tonic channel, so that timeouts, TLS (including a private CA) and
//! retries are ours to set. Every call is idempotent (upserts replace by id,
//! deletes by id), so transient failures are retried with exponential backoff;
//! what is still failing after the retries becomes [`IndexError::Unavailable`].

mod points;
mod wire;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use qdrant_client::qdrant::{
    collections_client::CollectionsClient, payload_index_params::IndexParams,
    points_client::PointsClient, vectors_config::Config, CollectionExistsRequest, CreateCollection,
    CreateFieldIndexCollection, Distance, FieldType, GetCollectionInfoRequest, IntegerIndexParams,
    KeywordIndexParams, PayloadIndexParams, VectorParams, VectorsConfig, WriteOrderingType,
};
use tonic::codegen::InterceptedService;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};

use super::{IndexError, Result, KEYWORD_FIELDS};

/// How strongly a write is ordered across replicas (Qdrant's `WriteOrdering`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteOrdering {
    /// Any replica may apply it first (fastest; Qdrant's default).
    #[default]
    Weak,
    /// Through the dynamically elected leader.
    Medium,
    /// Through the permanent leader: consistent order, slower.
    Strong,
}

impl FromStr for WriteOrdering {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "weak" => Ok(Self::Weak),
            "medium" => Ok(Self::Medium),
            "strong" => Ok(Self::Strong),
            other => Err(format!(
                "unknown write ordering `{other}` (weak, medium or strong)"
            )),
        }
    }
}

impl std::fmt::Display for WriteOrdering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Weak => "weak",
            Self::Medium => "medium",
            Self::Strong => "strong",
        })
    }
}

impl WriteOrdering {
    fn wire(self) -> qdrant_client::qdrant::WriteOrdering {
        let t = match self {
            Self::Weak => WriteOrderingType::Weak,
            Self::Medium => WriteOrderingType::Medium,
            Self::Strong => WriteOrderingType::Strong,
        };
        qdrant_client::qdrant::WriteOrdering { r#type: t as i32 }
    }
}

/// Everything the server adapter needs; `IndexConfig` fills it from flags and
/// env vars, tests build it directly. Its `Debug` hides the API key.
#[derive(Clone)]
pub struct ServerConfig {
    /// gRPC URL, e.g. `http://127.0.0.1:6334`; `https://` turns TLS on.
    pub url: String,
    /// API key sent as the `api-key` header (required by Qdrant Cloud).
    pub api_key: Option<String>,
    /// PEM file of a private CA to trust besides the system roots (https only).
    pub ca_cert: Option<PathBuf>,
    /// Collection holding the case memory (one per deployment, tenants inside).
    pub collection: String,
    /// Shards of a newly created collection (ignored for an existing one).
    pub shard_number: u32,
    /// Copies of each shard in a newly created collection.
    pub replication_factor: u32,
    /// Replicas that must acknowledge a write (newly created collection).
    pub write_consistency_factor: u32,
    /// Ordering of every write.
    pub write_ordering: WriteOrdering,
    /// Deadline of one gRPC call.
    pub timeout: Duration,
    /// Deadline of establishing a connection.
    pub connect_timeout: Duration,
    /// Retries of a call that failed transiently (0: no retry).
    pub retries: u32,
    /// First backoff; doubled after each retry, capped at 5 s.
    pub retry_backoff: Duration,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("ca_cert", &self.ca_cert)
            .field("collection", &self.collection)
            .field("shard_number", &self.shard_number)
            .field("replication_factor", &self.replication_factor)
            .field("write_consistency_factor", &self.write_consistency_factor)
            .field("write_ordering", &self.write_ordering)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}

impl ServerConfig {
    /// Defaults for everything but the URL and collection.
    pub fn new(url: impl Into<String>, collection: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            ca_cert: None,
            collection: collection.into(),
            shard_number: 1,
            replication_factor: 1,
            write_consistency_factor: 1,
            write_ordering: WriteOrdering::Weak,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            retry_backoff: Duration::from_millis(200),
        }
    }
}

/// Adds the API key to every request.
#[derive(Clone)]
struct ApiKey(Option<MetadataValue<Ascii>>);

impl Interceptor for ApiKey {
    fn call(
        &mut self,
        mut req: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, Status> {
        if let Some(key) = &self.0 {
            req.metadata_mut().insert("api-key", key.clone());
        }
        Ok(req)
    }
}

type Svc = InterceptedService<Channel, ApiKey>;

/// The server-backed index.
pub struct QdrantServerIndex {
    cfg: ServerConfig,
    points: PointsClient<Svc>,
    collections: CollectionsClient<Svc>,
    dim: usize,
    writes: AtomicU64,
}

/// Codes after which the same (idempotent) call may succeed.
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown
    )
}

impl QdrantServerIndex {
    /// Connects, creates the collection (cosine, `dim`) and its payload indexes
    /// if missing, and checks an existing collection fits (`Incompatible` if not).
    pub async fn open(cfg: ServerConfig, dim: usize) -> Result<Self> {
        let channel = channel(&cfg).await?;
        let key =
            match &cfg.api_key {
                Some(k) => Some(MetadataValue::try_from(k.as_str()).map_err(|_| {
                    IndexError::Config("the Qdrant API key is not valid ASCII".into())
                })?),
                None => None,
            };
        let interceptor = ApiKey(key);
        let index = Self {
            points: PointsClient::with_interceptor(channel.clone(), interceptor.clone())
                .max_decoding_message_size(64 << 20),
            collections: CollectionsClient::with_interceptor(channel, interceptor),
            cfg,
            dim,
            writes: AtomicU64::new(0),
        };
        index.ensure_collection().await?;
        Ok(index)
    }

    /// The configuration in effect.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Runs `call` with retries and backoff on transient failures; maps the
    /// final status into [`IndexError`].
    async fn call<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<tonic::Response<T>, Status>>,
    {
        let mut delay = self.cfg.retry_backoff;
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if transient(s.code()) && attempt < self.cfg.retries => {
                    attempt += 1;
                    tracing::warn!(
                        url = %self.cfg.url, what, attempt, code = ?s.code(),
                        "Qdrant call failed transiently, retrying: {}", s.message()
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(s) => return Err(self.map_status(what, s)),
            }
        }
    }

    fn map_status(&self, what: &str, s: Status) -> IndexError {
        let reason = format!("{what}: {:?}: {}", s.code(), s.message());
        match s.code() {
            c if transient(c) => IndexError::Unavailable {
                url: self.cfg.url.clone(),
                reason,
            },
            Code::Unauthenticated | Code::PermissionDenied => IndexError::Config(format!(
                "the Qdrant server at {} refused the credentials (QDRANT_API_KEY): {reason}",
                self.cfg.url
            )),
            _ => IndexError::Engine(format!("Qdrant server at {}: {reason}", self.cfg.url)),
        }
    }

    fn name(&self) -> String {
        self.cfg.collection.clone()
    }

    async fn ensure_collection(&self) -> Result<()> {
        let exists = self
            .call("collection exists", || {
                let mut c = self.collections.clone();
                let name = self.name();
                async move {
                    c.collection_exists(CollectionExistsRequest {
                        collection_name: name,
                    })
                    .await
                }
            })
            .await?
            .result
            .is_some_and(|r| r.exists);
        if !exists {
            self.create_collection().await?;
        }
        let info = self
            .call("collection info", || {
                let mut c = self.collections.clone();
                let name = self.name();
                async move {
                    c.get(GetCollectionInfoRequest {
                        collection_name: name,
                    })
                    .await
                }
            })
            .await?
            .result
            .ok_or_else(|| IndexError::Engine("collection info without a result".into()))?;
        let params = info
            .config
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
        let incompatible = |reason: String| IndexError::Incompatible {
            collection: self.cfg.collection.clone(),
            reason,
        };
        match params {
            Some(Config::Params(p)) => {
                if p.size != self.dim as u64 {
                    return Err(incompatible(format!(
                        "it holds {}-dimensional vectors, the model makes {}; use another \
                         collection (APPEAL_TRIAGE_QDRANT_COLLECTION) or rebuild this one",
                        p.size, self.dim
                    )));
                }
                if p.distance != Distance::Cosine as i32 {
                    return Err(incompatible(format!(
                        "its distance is {:?}, the service needs Cosine",
                        Distance::try_from(p.distance).unwrap_or(Distance::UnknownDistance)
                    )));
                }
            }
            Some(Config::ParamsMap(_)) => {
                return Err(incompatible(
                    "it has named vectors; the service stores one unnamed vector".into(),
                ))
            }
            None => return Err(incompatible("it has no dense vector config".into())),
        }
        // Payload indexes: create what is missing (creation is idempotent).
        let have = info.payload_schema;
        let tenant = PayloadIndexParams {
            index_params: Some(IndexParams::KeywordIndexParams(KeywordIndexParams {
                is_tenant: Some(true),
                ..Default::default()
            })),
        };
        let received = PayloadIndexParams {
            index_params: Some(IndexParams::IntegerIndexParams(IntegerIndexParams {
                lookup: Some(false),
                range: Some(true),
                enable_hnsw: Some(false),
                ..Default::default()
            })),
        };
        let mut wanted = vec![("tenant", FieldType::Keyword, Some(tenant))];
        wanted.extend(KEYWORD_FIELDS.map(|(f, links)| {
            let params = PayloadIndexParams {
                index_params: Some(IndexParams::KeywordIndexParams(KeywordIndexParams {
                    enable_hnsw: Some(links),
                    ..Default::default()
                })),
            };
            (f, FieldType::Keyword, Some(params))
        }));
        wanted.push(("received_at", FieldType::Integer, Some(received)));
        for (field, kind, params) in wanted {
            if have.contains_key(field) {
                continue;
            }
            self.call("create payload index", || {
                let mut c = self.points.clone();
                let req = CreateFieldIndexCollection {
                    collection_name: self.name(),
                    wait: Some(true),
                    field_name: field.into(),
                    field_type: Some(kind as i32),
                    field_index_params: params.clone(),
                    ordering: Some(self.cfg.write_ordering.wire()),
                    timeout: None,
                };
                async move { c.create_field_index(req).await }
            })
            .await?;
        }
        Ok(())
    }

    async fn create_collection(&self) -> Result<()> {
        tracing::info!(url = %self.cfg.url, collection = %self.cfg.collection, dim = self.dim,
            "creating the Qdrant collection");
        let result = self
            .call("create collection", || {
                let mut c = self.collections.clone();
                let req = CreateCollection {
                    collection_name: self.name(),
                    vectors_config: Some(VectorsConfig {
                        config: Some(Config::Params(VectorParams {
                            size: self.dim as u64,
                            distance: Distance::Cosine as i32,
                            ..Default::default()
                        })),
                    }),
                    shard_number: Some(self.cfg.shard_number),
                    replication_factor: Some(self.cfg.replication_factor),
                    write_consistency_factor: Some(self.cfg.write_consistency_factor),
                    ..Default::default()
                };
                async move { c.create(req).await }
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another instance created it between our check and our create.
            Err(IndexError::Engine(m)) if m.contains("already exists") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn check_dim(&self, v: &[f32]) -> Result<()> {
        if v.len() != self.dim {
            return Err(IndexError::Dimension {
                got: v.len(),
                want: self.dim,
            });
        }
        Ok(())
    }

    fn bump(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

async fn channel(cfg: &ServerConfig) -> Result<Channel> {
    let bad = |what: String| IndexError::Config(format!("Qdrant URL `{}`: {what}", cfg.url));
    let mut endpoint = Endpoint::from_shared(cfg.url.clone())
        .map_err(|e| bad(e.to_string()))?
        .timeout(cfg.timeout)
        .connect_timeout(cfg.connect_timeout)
        .keep_alive_while_idle(true);
    match endpoint.uri().scheme_str() {
        Some("https") => {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = &cfg.ca_cert {
                let pem = std::fs::read(ca).map_err(|e| {
                    IndexError::Config(format!("Qdrant TLS CA file {}: {e}", ca.display()))
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| bad(e.to_string()))?;
        }
        Some("http") => {
            if cfg.ca_cert.is_some() {
                return Err(bad(
                    "a TLS CA file is set but the URL is not https://".into()
                ));
            }
        }
        other => return Err(bad(format!("scheme {other:?} is not http or https"))),
    }
    // Lazy: the first call connects, so connection failures go through the
    // same retry and error mapping as every other failure.
    Ok(endpoint.connect_lazy())
}
