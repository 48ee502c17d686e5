//! `appeal-triage outbox ...`: the index outbox's dead letters from the
//! command line, across tenants (the operator's view; a tenant's admin uses
//! `GET /v1/outbox/dead` on the running service).
//!
//! With the embedded store the data directory is locked while `serve` runs:
//! then use the admin API. A letter put back with `retry` is applied when the
//! outbox is next drained (at `serve` start, `reindex`, or any request that
//! writes).

use clap::Subcommand;

use appeal_triage::config::ModelConfig;
use appeal_triage::serve::{open_record, ServeError};

/// `appeal-triage outbox ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum OutboxCommand {
    /// Lists dead letters as JSON lines (all tenants, or one), oldest first.
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Puts a dead letter back at the end of the outbox.
    Retry {
        /// The letter's `seq`.
        seq: i64,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Forgets a dead letter (the appeal stays in the record, out of the index).
    Drop {
        /// The letter's `seq`.
        seq: i64,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

/// Runs an outbox command; returns what to print.
pub async fn outbox(model: &ModelConfig, cmd: OutboxCommand) -> Result<String, ServeError> {
    match cmd {
        OutboxCommand::List {
            tenant,
            limit,
            database_url,
        } => {
            let (record, _lock) = open_record(model, database_url.as_deref()).await?;
            let letters = record.dead_letters(tenant.as_deref(), limit).await?;
            record.close().await;
            Ok(letters
                .iter()
                .map(|l| serde_json::to_string(l).unwrap_or_default() + "\n")
                .collect())
        }
        OutboxCommand::Retry { seq, database_url } => {
            let (record, _lock) = open_record(model, database_url.as_deref()).await?;
            let found = record.retry_dead_letter(None, seq).await?;
            record.close().await;
            found
                .then(|| format!("dead letter {seq} is back in the outbox\n"))
                .ok_or_else(|| ServeError::Invalid(format!("no dead letter {seq}")))
        }
        OutboxCommand::Drop { seq, database_url } => {
            let (record, _lock) = open_record(model, database_url.as_deref()).await?;
            let found = record.drop_dead_letter(None, seq).await?;
            record.close().await;
            found
                .then(|| format!("dead letter {seq} dropped\n"))
                .ok_or_else(|| ServeError::Invalid(format!("no dead letter {seq}")))
        }
    }
}
