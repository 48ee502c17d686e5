//! Configuration of the HTTP service (flags with `APPEAL_TRIAGE_*` env twins).
//! Every limit is explicit here, with its default documented in the README.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::memory::batcher::BatcherConfig;

/// How the HTTP service listens, limits and batches.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Address to listen on.
    #[arg(long, env = "APPEAL_TRIAGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest accepted request body (JSON and forms), in bytes.
    #[arg(long, env = "APPEAL_TRIAGE_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest accepted import upload (`POST /v1/import`), in bytes.
    #[arg(long, env = "APPEAL_TRIAGE_MAX_IMPORT_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub max_import_bytes: u64,
    /// Most appeals in one `POST /v1/appeals:batch`.
    #[arg(long, env = "APPEAL_TRIAGE_MAX_BATCH_APPEALS", default_value_t = 256)]
    pub max_batch_appeals: usize,
    /// Largest page of `GET /v1/appeals`.
    #[arg(long, env = "APPEAL_TRIAGE_MAX_PAGE", default_value_t = 200)]
    pub max_page: i64,
    /// Requests per second allowed per API key (token refill rate); 0 disables the limit.
    #[arg(long, env = "APPEAL_TRIAGE_RATE_LIMIT_PER_SEC", default_value_t = 50.0)]
    pub rate_limit_per_sec: f64,
    /// Burst of requests allowed per API key (bucket size).
    #[arg(long, env = "APPEAL_TRIAGE_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// Most texts embedded together in one model call.
    #[arg(long, env = "APPEAL_TRIAGE_BATCH_MAX_SIZE", default_value_t = 32)]
    pub batch_max_size: usize,
    /// Longest a request waits for others to share its model call when no other
    /// request is queued, in milliseconds. 0 (the default): a model call takes
    /// what is queued and starts; under load the queue fills while the workers
    /// compute, so batches grow with the load without anyone waiting on purpose.
    #[arg(long, env = "APPEAL_TRIAGE_BATCH_MAX_WAIT_MS", default_value_t = 0)]
    pub batch_max_wait_ms: u64,
    /// Longest a text may be expected to wait for the model, in milliseconds:
    /// past it a submission is answered 429 `overloaded` with `Retry-After` at
    /// once (judged from the texts queued and the model's recent time per text).
    /// 0 turns the check off.
    #[arg(long, env = "APPEAL_TRIAGE_MAX_QUEUE_WAIT_MS", default_value_t = 250)]
    pub max_queue_wait_ms: u64,
    /// Model calls that run at once (default: one per core).
    #[arg(long, env = "APPEAL_TRIAGE_EMBED_WORKERS", default_value_t = crate::memory::batcher::default_workers())]
    pub embed_workers: usize,
    /// A model call of at least this many characters runs on every core; smaller
    /// ones run one per core, side by side (two one-thread calls embed ~1.4x the
    /// texts of one two-thread call; a long text finishes soonest on all cores).
    #[arg(long, env = "APPEAL_TRIAGE_EMBED_WIDE_CHARS", default_value_t = 300)]
    pub embed_wide_chars: usize,
    /// Most texts waiting for the model; beyond it requests get 429.
    #[arg(long, env = "APPEAL_TRIAGE_BATCH_QUEUE", default_value_t = 1024)]
    pub batch_queue: usize,
    /// Vectors of recent texts kept so a repeated text skips the model; 0 turns it off.
    #[arg(long, env = "APPEAL_TRIAGE_EMBED_CACHE", default_value_t = 10_000)]
    pub embed_cache: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/Ctrl-C.
    #[arg(long, env = "APPEAL_TRIAGE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Longest a request may take, in seconds, before it is answered 503
    /// `timeout` (the import upload is exempt: it has its own size limit).
    #[arg(long, env = "APPEAL_TRIAGE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Longest a client may take to send a request body, in seconds (then 408).
    #[arg(long, env = "APPEAL_TRIAGE_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// Most requests in progress at once, across all keys; past it a request is
    /// answered 429 `overloaded` with `Retry-After` at once, before any work
    /// (probes and metrics are exempt). 0 disables the limit.
    #[arg(long, env = "APPEAL_TRIAGE_MAX_IN_FLIGHT", default_value_t = 64)]
    pub max_in_flight: usize,
    /// Origins a browser may call the API from (CORS), comma-separated, or `*`
    /// for any; empty (the default) sends no CORS headers.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_origins: Vec<String>,
    /// File holding the operator secret (at least 32 characters; only its
    /// hash is kept in memory): it manages tenants and their first keys over
    /// `/v1/admin/tenants` on the running service. Unset: no operator API.
    #[arg(long, env = "APPEAL_TRIAGE_OPERATOR_KEY_FILE", global = true)]
    pub operator_key_file: Option<std::path::PathBuf>,
}

/// Shortest operator secret accepted.
pub const OPERATOR_KEY_MIN_CHARS: usize = 32;

/// Reads the operator secret from `path` and returns its hash.
pub fn operator_hash(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("operator key file {}: {e}", path.display()))?;
    let secret = text.trim();
    if secret.chars().count() < OPERATOR_KEY_MIN_CHARS || secret.contains(char::is_whitespace) {
        return Err(format!(
            "operator key file {}: the secret must be one word of at least {OPERATOR_KEY_MIN_CHARS} characters",
            path.display()
        ));
    }
    Ok(crate::record::hash_secret(secret))
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 4 * 1024 * 1024,
            max_import_bytes: 1024 * 1024 * 1024,
            max_batch_appeals: 256,
            max_page: 200,
            rate_limit_per_sec: 50.0,
            rate_limit_burst: 100,
            batch_max_size: 32,
            batch_max_wait_ms: 0,
            max_queue_wait_ms: 250,
            embed_workers: crate::memory::batcher::default_workers(),
            embed_wide_chars: 300,
            batch_queue: 1024,
            embed_cache: 10_000,
            shutdown_grace_secs: 30,
            request_timeout_secs: 30,
            body_timeout_secs: 30,
            max_in_flight: 64,
            cors_origins: Vec::new(),
            operator_key_file: None,
        }
    }
}

impl HttpConfig {
    /// The batcher's part of the configuration.
    pub fn batcher(&self) -> BatcherConfig {
        BatcherConfig {
            max_batch: self.batch_max_size,
            max_wait: Duration::from_millis(self.batch_max_wait_ms),
            queue_capacity: self.batch_queue,
            cache_entries: self.embed_cache,
            max_queue_wait: Duration::from_millis(self.max_queue_wait_ms),
            workers: self.embed_workers,
            wide_chars: self.embed_wide_chars,
        }
    }
}
