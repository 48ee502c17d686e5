//! Which vector index the service uses, from flags and env vars alone: the
//! embedded engine in the data directory (default, nothing to run) or a Qdrant
//! server. [`open_index`] turns the configuration into a `dyn VectorIndex`, so
//! no caller ever names a backend.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{
    EmbeddedIndex, IndexError, QdrantServerIndex, Result, ServerConfig, VectorIndex, WriteOrdering,
};

/// The backend choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Backend {
    /// Qdrant's engine in-process, in `<data-dir>/index`.
    #[default]
    Embedded,
    /// A Qdrant server or cluster at `QDRANT_URL`.
    Server,
}

/// Vector index configuration. Every flag has an env var twin; the server
/// flags matter only with `--index server`. Its `Debug` hides the API key.
#[derive(Clone, Args)]
pub struct IndexConfig {
    /// Vector index backend: `embedded` (in the data directory) or `server`.
    #[arg(long = "index", env = "APPEAL_TRIAGE_INDEX", value_enum, default_value_t = Backend::Embedded, global = true)]
    pub backend: Backend,
    /// Qdrant gRPC URL (port 6334 by default on a server); `https://` enables TLS.
    #[arg(long, env = "QDRANT_URL", global = true)]
    pub qdrant_url: Option<String>,
    /// Qdrant API key (sent as the `api-key` header).
    #[arg(long, env = "QDRANT_API_KEY", hide_env_values = true, global = true)]
    pub qdrant_api_key: Option<String>,
    /// Collection of the case memory on the server.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_COLLECTION",
        default_value = "appeals",
        global = true
    )]
    pub qdrant_collection: String,
    /// Shards of the collection when this service creates it.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_SHARDS",
        default_value_t = 1,
        global = true
    )]
    pub qdrant_shards: u32,
    /// Replication factor of the collection when this service creates it.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_REPLICATION_FACTOR",
        default_value_t = 1,
        global = true
    )]
    pub qdrant_replication_factor: u32,
    /// Replicas that must acknowledge a write (collection creation).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_WRITE_CONSISTENCY_FACTOR",
        default_value_t = 1,
        global = true
    )]
    pub qdrant_write_consistency_factor: u32,
    /// Ordering of writes across replicas: `weak`, `medium` or `strong`.
    #[arg(long, env = "APPEAL_TRIAGE_QDRANT_WRITE_ORDERING", default_value_t = WriteOrdering::Weak, global = true)]
    pub qdrant_write_ordering: WriteOrdering,
    /// PEM file of a private CA for the server's TLS certificate (https URLs).
    #[arg(long, env = "APPEAL_TRIAGE_QDRANT_CA_CERT", global = true)]
    pub qdrant_ca_cert: Option<PathBuf>,
    /// Deadline of one gRPC call, in milliseconds.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub qdrant_timeout_ms: u64,
    /// Deadline of connecting, in milliseconds.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_CONNECT_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub qdrant_connect_timeout_ms: u64,
    /// Retries of a call that failed transiently (unavailable, timeout, overload).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_RETRIES",
        default_value_t = 3,
        global = true
    )]
    pub qdrant_retries: u32,
    /// First retry backoff in milliseconds (doubled each retry, capped at 5 s).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_QDRANT_RETRY_BACKOFF_MS",
        default_value_t = 200,
        global = true
    )]
    pub qdrant_retry_backoff_ms: u64,
}

impl std::fmt::Debug for IndexConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexConfig")
            .field("backend", &self.backend)
            .field("qdrant_url", &self.qdrant_url)
            .field(
                "qdrant_api_key",
                &self.qdrant_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("qdrant_collection", &self.qdrant_collection)
            .field("qdrant_shards", &self.qdrant_shards)
            .field("qdrant_replication_factor", &self.qdrant_replication_factor)
            .field(
                "qdrant_write_consistency_factor",
                &self.qdrant_write_consistency_factor,
            )
            .field("qdrant_write_ordering", &self.qdrant_write_ordering)
            .field("qdrant_ca_cert", &self.qdrant_ca_cert)
            .field("qdrant_timeout_ms", &self.qdrant_timeout_ms)
            .field("qdrant_connect_timeout_ms", &self.qdrant_connect_timeout_ms)
            .field("qdrant_retries", &self.qdrant_retries)
            .field("qdrant_retry_backoff_ms", &self.qdrant_retry_backoff_ms)
            .finish()
    }
}

impl IndexConfig {
    /// The server adapter's configuration (needs `QDRANT_URL`).
    pub fn server_config(&self) -> Result<ServerConfig> {
        let url = self.qdrant_url.clone().ok_or_else(|| {
            IndexError::Config(
                "the server index needs a URL: set QDRANT_URL (or --qdrant-url)".into(),
            )
        })?;
        Ok(ServerConfig {
            api_key: self.qdrant_api_key.clone().filter(|k| !k.is_empty()),
            ca_cert: self.qdrant_ca_cert.clone(),
            shard_number: self.qdrant_shards,
            replication_factor: self.qdrant_replication_factor,
            write_consistency_factor: self.qdrant_write_consistency_factor,
            write_ordering: self.qdrant_write_ordering,
            timeout: Duration::from_millis(self.qdrant_timeout_ms),
            connect_timeout: Duration::from_millis(self.qdrant_connect_timeout_ms),
            retries: self.qdrant_retries,
            retry_backoff: Duration::from_millis(self.qdrant_retry_backoff_ms),
            ..ServerConfig::new(url, self.qdrant_collection.clone())
        })
    }
}

/// Opens the configured index for vectors of width `dim`: the embedded engine
/// in `index_dir` (normally `DataDir::index_dir()`), or the server collection.
pub async fn open_index(
    cfg: &IndexConfig,
    index_dir: &Path,
    dim: usize,
) -> Result<Arc<dyn VectorIndex>> {
    match cfg.backend {
        Backend::Embedded => {
            let dir = index_dir.to_path_buf();
            let index = tokio::task::spawn_blocking(move || EmbeddedIndex::open(&dir, dim))
                .await
                .map_err(|e| IndexError::Engine(e.to_string()))??;
            Ok(Arc::new(index))
        }
        Backend::Server => Ok(Arc::new(
            QdrantServerIndex::open(cfg.server_config()?, dim).await?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        index: IndexConfig,
    }

    #[test]
    fn defaults_are_embedded_and_appeals() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.index.backend, Backend::Embedded);
        assert_eq!(cli.index.qdrant_collection, "appeals");
        assert_eq!(cli.index.qdrant_write_ordering, WriteOrdering::Weak);
    }

    #[test]
    fn server_flags_reach_the_server_config() {
        let cli = Cli::try_parse_from([
            "x",
            "--index",
            "server",
            "--qdrant-url",
            "https://q.example:6334",
            "--qdrant-shards",
            "4",
            "--qdrant-replication-factor",
            "2",
            "--qdrant-write-ordering",
            "strong",
            "--qdrant-timeout-ms",
            "1500",
            "--qdrant-api-key",
            "s3cret-key",
        ])
        .unwrap();
        assert_eq!(cli.index.backend, Backend::Server);
        let s = cli.index.server_config().unwrap();
        assert_eq!(s.url, "https://q.example:6334");
        assert_eq!((s.shard_number, s.replication_factor), (4, 2));
        assert_eq!(s.write_ordering, WriteOrdering::Strong);
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.api_key.as_deref(), Some("s3cret-key"));
        let shown = format!("{:?} {:?}", cli.index, s);
        assert!(
            !shown.contains("s3cret-key") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert!(Cli::try_parse_from(["x", "--qdrant-write-ordering", "eventual"]).is_err());
    }

    #[tokio::test]
    async fn server_backend_without_url_is_a_config_error() {
        let mut cli = Cli::try_parse_from(["x", "--index", "server"]).unwrap();
        cli.index.qdrant_url = None; // whatever the environment says
        let err = open_index(&cli.index, Path::new("unused"), 4)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, IndexError::Config(_)), "{err:?}");
        assert!(err.to_string().contains("QDRANT_URL"));
    }
}
