//! Shadow mode end to end: the real service (tiny model, fresh data directory)
//! serves on a random port in this process, the fixture's history before
//! February 2021 is imported into it over HTTP, and the `triage-eval` binary
//! evaluates it on February with `--url`. Metrics come out; the service's
//! record is unchanged (preview stores nothing).

#[path = "../../tests/tests/http_support/mod.rs"]
mod http_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use appeal_triage::record::KeyRole;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/eval/appeals.csv")
}

async fn eval(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_triage-eval"))
            .args(&args)
            .output()
            .expect("binary runs")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_run_scores_the_service_and_changes_nothing() {
    let mut rdr = csv::Reader::from_path(fixture()).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|c| c == name).unwrap();
    let (label_at, date_at) = (col("department"), col("created_at"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let labels: BTreeSet<&str> = rows.iter().map(|r| &r[label_at]).collect();
    let is_test = |r: &csv::StringRecord| &r[date_at] >= "2021-02-01";
    let n_test = rows.iter().filter(|r| is_test(r)).count();
    let mut history = csv::Writer::from_writer(Vec::new());
    history.write_record(&header).unwrap();
    let mut n_history = 0u64;
    for r in rows.iter().filter(|r| !is_test(r)) {
        history.write_record(r).unwrap();
        n_history += 1;
    }
    let history = history.into_inner().unwrap();
    assert!(n_test > 10 && n_history > 50);

    let s = http_support::start().await;
    let codes: Vec<(&str, &str)> = labels.iter().map(|l| (*l, *l)).collect();
    s.tenant("city", &codes).await;
    let admin = s.key("city", KeyRole::Admin).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let r = s
        .client
        .post(s.url("/v1/import?format=csv"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(history)
        .send()
        .await
        .unwrap();
    let (st, v) = http_support::status_json(r).await;
    assert_eq!((st, v["imported"].as_u64()), (200, Some(n_history)), "{v}");
    let before = s.state.record.count_appeals("city").await.unwrap();
    assert_eq!(before, n_history as i64);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shadow");
    let args = |key: &str, out: &Path| -> Vec<String> {
        [
            "run",
            "--data",
            fixture().to_str().unwrap(),
            "--train-until",
            "2021-02-01",
            "--out",
            out.to_str().unwrap(),
            "--engine-only",
            "--url",
            &s.base,
            "--api-key",
            key,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let o = eval(args(&portal, &out)).await;
    assert!(
        o.status.success(),
        "shadow run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let e = &report["engine"];
    assert_eq!(e["n_test"], n_test, "{e}");
    for key in [
        "top1",
        "top3",
        "macro_f1",
        "ece",
        "auto_share",
        "conformal_coverage",
    ] {
        let v = e[key]
            .as_f64()
            .unwrap_or_else(|| panic!("engine.{key} missing"));
        assert!((0.0..=1.0).contains(&v), "engine.{key} = {v}");
    }
    assert!(e["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert_eq!(e["info"]["mode"], "shadow");
    assert_eq!(e["info"]["requests"], n_test);
    assert!(
        e["info"]["model"].is_object(),
        "the model stamp is kept: {e}"
    );
    // The service knows the departments from the history: a real score, not zero.
    assert!(e["top3"].as_f64().unwrap() > 0.0, "{e}");
    let config = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(!config.contains(&portal), "the API key is never written");
    assert_eq!(
        s.state.record.count_appeals("city").await.unwrap(),
        before,
        "shadow mode stores nothing"
    );

    // A wrong key: exit 1 naming the status, no panic; still nothing stored.
    let o = eval(args("not-a-key", &dir.path().join("bad"))).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("401") && !err.contains("panicked"), "{err}");
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), before);
    s.stop().await;
}
