//! `appeal-triage tenants ...`: creating or updating a tenant from the command
//! line (a thin shell over [`appeal_triage::onboard`]).

use std::str::FromStr;

use clap::Subcommand;

use appeal_triage::config::ModelConfig;
use appeal_triage::onboard::{self, Target};
use appeal_triage::operator_client::RemoteArgs;
use appeal_triage::record::{Jurisdiction, Tenant};
use appeal_triage::serve::ServeError;

/// `appeal-triage tenants ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum TenantsCommand {
    /// Creates or updates a tenant.
    Put {
        /// Tenant id (1 to 64 of a-z, 0-9, `-`, `_`).
        #[arg(long)]
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Deadline rules: `ua`, `ru` or `kz`.
        #[arg(long, default_value = "ua")]
        jurisdiction: String,
        /// Conformal miscoverage level.
        #[arg(long, default_value_t = 0.1)]
        alpha: f64,
        /// Confidence at or above which appeals are routed without review.
        #[arg(long, default_value_t = 0.9)]
        auto_threshold: f64,
        /// System of record URL (default: SQLite in the data directory).
        #[arg(long, env = "APPEAL_TRIAGE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The running service, when it holds the data directory.
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Runs a tenants command; returns what to print.
pub async fn run(model: &ModelConfig, cmd: TenantsCommand) -> Result<String, ServeError> {
    match cmd {
        TenantsCommand::Put {
            id,
            name,
            jurisdiction,
            alpha,
            auto_threshold,
            database_url,
            remote,
        } => {
            let tenant = Tenant {
                id: id.clone(),
                name,
                jurisdiction: Jurisdiction::from_str(&jurisdiction).map_err(ServeError::Invalid)?,
                alpha,
                auto_threshold,
            };
            let to = Target {
                model,
                database_url: database_url.as_deref(),
            };
            onboard::put_tenant(to, &remote, &tenant).await?;
            Ok(format!("tenant {id} stored\n"))
        }
    }
}
