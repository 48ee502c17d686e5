//! Evaluation of appeal routers for data scientists: reads labelled appeals,
//! splits them honestly, runs the engine and fair baselines on the same split,
//! and writes metrics, per-example predictions and plots.

pub mod baselines;
pub mod compare;
pub mod engine;
pub mod error;
pub mod input;
pub mod metrics;
pub mod outcome;
pub mod progress;
pub mod report;
pub mod router;
pub mod runner;
pub mod shadow;
pub mod split;
pub mod timeparse;
