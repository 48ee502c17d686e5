//! `appeal-triage demo` end to end on the tiny model: parsed from the same
//! flags as the binary, it imports the bundled sample (first 100 rows), fills
//! the review queue, creates keys and serves; the request its curl line makes
//! is routed. A second start resumes the import. `demo --embeddings` reports
//! every appeal with its nearest neighbour.

use std::time::Duration;

use appeal_triage::config::ModelConfig;
use appeal_triage::datadir::DataDir;
use appeal_triage::demo::embeddings::{run as embeddings_report, APPEALS};
use appeal_triage::demo::{self, DemoArgs, DemoInfo, DemoOutcome};
use clap::Parser;
use serde_json::Value;
use triage_models::EmbedderOptions;
use triage_tests::*;

#[test]
fn demo_embeddings_report_every_appeal() {
    let e = tiny_embedder(EmbedderOptions::default());
    let report = embeddings_report(&e).unwrap();
    for (label, _) in APPEALS {
        assert!(
            report.matches(label).count() >= 3,
            "{label} in matrix and list"
        );
    }
    assert!(report.contains(e.fingerprint().short()));
    assert_eq!(report.matches(" -> ").count(), APPEALS.len());
}

/// The binary's flags: global model flags, then the demo's.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    model: ModelConfig,
    #[command(flatten)]
    demo: DemoArgs,
}

fn parse(data_dir: &std::path::Path, limit: u64) -> Cli {
    let sample = workspace_root().join("fixtures/demo/sample.csv");
    triage_tests::parse_flags([
        "appeal-triage".to_string(),
        format!("--data-dir={}", data_dir.display()),
        format!("--model-dir={}", tiny_model_dir().display()),
        "--window-overlap=16".into(),
        format!("--history={}", sample.display()),
        format!("--history-limit={limit}"),
        "--listen=127.0.0.1:0".into(),
    ])
}

/// Runs the demo and, once it is ready, `body` with what it printed; then
/// stops it. (`demo::run` drives an import whose future is not `Send`, so it
/// runs beside the body on this task rather than spawned.)
async fn with_demo<Fut: std::future::Future<Output = ()>>(
    data_dir: &std::path::Path,
    limit: u64,
    body: impl FnOnce(DemoInfo) -> Fut,
) -> DemoOutcome {
    let cli = parse(data_dir, limit);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, info) = tokio::sync::oneshot::channel::<DemoInfo>();
    let demo = demo::run(
        &cli.model,
        cli.demo,
        async move {
            let _ = stopped.await;
        },
        move |info| {
            let _ = ready.send(info.clone());
        },
    );
    let driver = async move {
        let info = tokio::time::timeout(Duration::from_secs(120), info)
            .await
            .expect("the demo is ready within 2 minutes");
        // Err: the demo ended before it was ready; its error is reported below.
        if let Ok(info) = info {
            body(info).await;
        }
        let _ = stop.send(());
    };
    let (outcome, ()) = tokio::join!(demo, driver);
    outcome.expect("the demo ran without error")
}

/// Sends `req` (with `key` as bearer, if any); status and JSON (Null if none).
async fn call(req: reqwest::RequestBuilder, key: Option<&str>) -> (u16, Value) {
    let req = match key {
        Some(k) => req.bearer_auth(k),
        None => req,
    };
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_a_filled_review_queue_and_routes_the_printed_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let c = reqwest::Client::new();
    let first_queue = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let seen = first_queue.clone();
    let outcome = with_demo(dir.path(), 100, |info| async move {
        // What is printed: the page, the supervisor key, the curl line with the portal key.
        let printed = info.to_string();
        assert!(info.review_url().starts_with("http://127.0.0.1:"));
        assert!(info.review_url().ends_with("/review"));
        assert!(printed.contains(&info.review_url()));
        assert!(printed.contains(&info.supervisor_key));
        assert!(printed.contains(&info.curl()));
        assert!(info.curl().contains(&info.portal_key));
        assert!(info.curl().contains(&info.submit_url()));
        assert!(
            printed.contains("100 rows read: 100 imported now"),
            "{printed}"
        );

        // The data directory is held like `serve` holds it.
        assert!(DataDir::open(&path).is_err(), "data dir must be locked");

        let (s, _) = call(c.get(format!("{}/readyz", info.base_url)), None).await;
        assert_eq!(s, 200, "readyz");
        let r = c.get(info.review_url()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "review page");

        // The fresh demo appeals wait for review.
        let queue_url = format!("{}/v1/review/queue", info.base_url);
        let (s, queue) = call(c.get(&queue_url), Some(&info.supervisor_key)).await;
        assert_eq!(s, 200, "{queue}");
        let items = queue["items"].as_array().expect("items");
        assert!(!items.is_empty(), "review queue is empty: {queue}");
        assert!(items.iter().all(|i| i["status"] == "needs_review"));
        assert!(items.iter().any(|i| i["external_id"]
            .as_str()
            .unwrap_or("")
            .starts_with("demo-fresh-")));
        *seen.lock().unwrap() = items.len();
        // Roles are as printed: the portal key may not read the queue.
        let (s, _) = call(c.get(&queue_url), Some(&info.portal_key)).await;
        assert_eq!(s, 403, "portal key on the review queue");

        // The catalogue holds the departments of the imported history.
        let (s, deps) = call(
            c.get(format!("{}/v1/departments", info.base_url)),
            Some(&info.admin_key),
        )
        .await;
        assert_eq!(s, 200);
        let deps = deps.as_array().expect("departments").clone();
        let codes: Vec<&str> = deps.iter().filter_map(|d| d["code"].as_str()).collect();
        assert!(codes.len() >= 5, "departments: {codes:?}");
        assert!(deps.iter().all(|d| d["names"]["ru"] == d["code"]));

        // The request the curl line makes.
        let (s, body) = call(
            c.post(info.submit_url()).json(&info.submit_body),
            Some(&info.portal_key),
        )
        .await;
        assert_eq!(s, 201, "{body}");
        let department = body["decision"]["department"]
            .as_str()
            .unwrap_or_else(|| panic!("no department in {body}"));
        assert!(
            codes.contains(&department),
            "{department} not in the catalogue"
        );
        assert!(body["appeal_id"].as_i64().is_some());
    })
    .await;
    assert_eq!(outcome, DemoOutcome::Served);
    let first_queue = *first_queue.lock().unwrap();

    // A second start resumes: the first 100 rows are skipped, 50 more imported;
    // new keys, five more fresh appeals.
    let c = reqwest::Client::new();
    let outcome = with_demo(dir.path(), 150, |info| async move {
        let printed = info.to_string();
        assert!(
            printed.contains("150 rows read: 50 imported now, 100 already there"),
            "{printed}"
        );
        let (s, queue) = call(
            c.get(format!("{}/v1/review/queue", info.base_url)),
            Some(&info.supervisor_key),
        )
        .await;
        assert_eq!(s, 200);
        assert!(queue["items"].as_array().unwrap().len() > first_queue);
    })
    .await;
    assert_eq!(outcome, DemoOutcome::Served);
}
