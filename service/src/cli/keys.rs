//! `appeal-triage keys ...`: a tenant's API keys from the command line (a thin
//! shell over [`appeal_triage::onboard`]).

use std::str::FromStr;

use clap::Subcommand;

use appeal_triage::config::ModelConfig;
use appeal_triage::onboard::{self, Target};
use appeal_triage::operator_client::RemoteArgs;
use appeal_triage::record::KeyRole;
use appeal_triage::serve::ServeError;

/// `appeal-triage keys ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Creates an API key and prints it once (it is stored hashed).
    Create {
        /// Tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// `portal`, `supervisor` or `admin`.
        #[arg(long)]
        role: String,
        /// Who holds it.
        #[arg(long)]
        label: Option<String>,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The running service, when it holds the data directory.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Lists a tenant's keys (never their secrets).
    List {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Revokes a key.
    Revoke {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Key id.
        #[arg(long)]
        id: String,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

/// Runs a keys command; returns what to print.
pub async fn run(model: &ModelConfig, cmd: KeysCommand) -> Result<String, ServeError> {
    match cmd {
        KeysCommand::Create {
            tenant,
            role,
            label,
            database_url,
            remote,
        } => {
            let role = KeyRole::from_str(&role).map_err(ServeError::Invalid)?;
            let to = Target {
                model,
                database_url: database_url.as_deref(),
            };
            let key = onboard::create_key(to, &remote, &tenant, role, label.as_deref()).await?;
            Ok(format!(
                "{}\n# key id {} ({role} of tenant {tenant}): shown once, store it now\n",
                key.secret, key.id
            ))
        }
        KeysCommand::List {
            tenant,
            database_url,
        } => {
            let to = Target {
                model,
                database_url: database_url.as_deref(),
            };
            let keys = onboard::list_keys(to, &tenant).await?;
            Ok(keys
                .iter()
                .map(|k| serde_json::to_string(k).unwrap_or_default() + "\n")
                .collect())
        }
        KeysCommand::Revoke {
            tenant,
            id,
            database_url,
        } => {
            let to = Target {
                model,
                database_url: database_url.as_deref(),
            };
            onboard::revoke_key(to, &tenant, &id).await?;
            Ok(format!("revoked {id}\n"))
        }
    }
}
