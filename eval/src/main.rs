//! `triage-eval`: evaluation tools for data scientists (metrics, baselines, plots).
//!
//! The full tool arrives with the eval issue; for now it reports what it is.

fn main() {
    println!(
        "triage-eval {}: the evaluation tools are not built yet (see the eval issue)",
        env!("CARGO_PKG_VERSION")
    );
}
