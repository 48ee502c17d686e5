//! The test helpers set their own configuration: a developer's
//! `APPEAL_TRIAGE_*` variables must not change what a test sees. (Alone in
//! its test binary: it sets variables of its own process.)

use triage_tests::tiny_engine;

#[tokio::test]
async fn the_tiny_engine_ignores_the_shells_appeal_triage_variables() {
    // The only test of this binary: no other thread reads the environment
    // while it is changed.
    std::env::set_var("APPEAL_TRIAGE_KNN_K", "1");
    std::env::set_var("APPEAL_TRIAGE_RECENT_OUTCOMES", "7");
    std::env::set_var("APPEAL_TRIAGE_MAX_TEXT_BYTES", "10");
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    let defaults = appeal_triage::engine::RoutingConfig::default();
    assert_eq!(engine.routing().knn_k, defaults.knn_k);
    assert_eq!(engine.routing().recent_outcomes, defaults.recent_outcomes);
    assert_eq!(engine.memory().embedder().options().max_text_bytes, 65_536);
}
