//! appeal-triage: routes citizens' appeals to the competent department.
//!
//! Rooms, from the edge inwards: [`http`] (the JSON API, Open311, the review
//! page), [`serve`] and [`demo`] (starting the service), [`import`] (history
//! from CSV/JSON Lines), [`engine`] (routing an appeal: lookups, then the pure
//! decision in `triage_domain::routing`), [`memory`] (the record, the vector
//! index derived from it, and the model's queue), [`record`] (SQLite or
//! PostgreSQL) and [`index`] (embedded Qdrant or a Qdrant server). The command
//! line lives in the binary (`src/cli/`, `src/main.rs`); the routing rules,
//! calibration, deadlines and PII masking in the `triage-domain` crate.

pub mod backup;
pub mod config;
pub mod datadir;
pub mod demo;
pub mod engine;
pub mod http;
pub mod import;
pub mod index;
pub mod memory;
pub mod metrics;
pub mod migrate;
pub mod onboard;
pub mod operator_client;
pub mod record;
pub mod serve;
pub mod telemetry;
