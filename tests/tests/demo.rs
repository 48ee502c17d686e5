//! The demo runs end to end on a real model directory (the tiny fixture here)
//! and reports every appeal with its nearest neighbour.

use appeal_triage::demo::{run, APPEALS};
use triage_models::EmbedderOptions;
use triage_tests::*;

#[test]
fn demo_reports_every_appeal() {
    let e = tiny_embedder(EmbedderOptions::default());
    let report = run(&e).unwrap();
    for (label, _) in APPEALS {
        assert!(
            report.matches(label).count() >= 3,
            "{label} in matrix and list"
        );
    }
    assert!(report.contains(e.fingerprint().short()));
    assert_eq!(report.matches(" -> ").count(), APPEALS.len());
}
