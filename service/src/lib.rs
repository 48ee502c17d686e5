//! appeal-triage: routes citizens' appeals to the competent department.
//!
//! This crate will hold the HTTP layer and the routing domain; for now it
//! exposes the configuration and the demo built on the embedder.

pub mod backup;
pub mod batcher;
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
pub mod operator_client;
pub mod record;
pub mod serve;
pub mod telemetry;
