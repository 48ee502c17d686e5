//! Logging set-up shared by the binaries (`appeal-triage`, `triage-eval`).

/// Targets of qdrant-edge 0.9.0 silenced below ERROR, because it warns about
/// start-up checks only Qdrant's own server runs, and their defaults are what
/// we want: "Feature flags not initialized!" on every segment operation (the
/// feature-flag initialiser is private) and "MULTI_MMAP_SUPPORT_CHECK_RESULT
/// should be initialized" once per start (unset means multiple memory maps of
/// one file are used, right on the local file systems a data directory lives
/// on; `QDRANT_NO_MULTI_MMAP=1` still turns them off).
const QDRANT_EDGE_QUIET: &str =
    "qdrant_edge::common::flags=error,qdrant_edge::common::mmap::ops=error";

/// Logs to stderr, filtered by `RUST_LOG` when set, else by `default`
/// (e.g. `warn,appeal_triage=info`) plus [`QDRANT_EDGE_QUIET`].
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| format!("{default},{QDRANT_EDGE_QUIET}").into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
