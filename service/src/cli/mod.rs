//! The command-line room: what the `appeal-triage` binary does besides
//! `serve` (history import and reindex, backups, store migration, the
//! outbox's dead letters, tenants and keys, the config file). Binary-only code: errors are
//! `anyhow` here, the library below keeps its typed ones.

pub mod config_file;
pub mod history;
pub mod keys;
pub mod migrate;
pub mod outbox;
pub mod tenants;
