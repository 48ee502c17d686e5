//! Crash safety and recovery of the case memory, with the real binary: an
//! import killed with SIGKILL mid-way loses no acknowledged appeal and
//! duplicates nothing once the outbox is replayed; a corrupted index is rebuilt
//! by `reindex` from the record.
//!
//! These run `appeal-triage` itself (hence they live in the service crate,
//! where Cargo provides the binary's path) with the tiny real BERT fixture.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use appeal_triage::datadir::DataDir;
use appeal_triage::index::{CaseFilter, EmbeddedIndex, VectorIndex};
use appeal_triage::memory::CaseMemory;
use appeal_triage::record::Record;
use sqlx::{Connection, Row};
use triage_models::{cosine, Embedder, EmbedderOptions, Role};

mod common;
use common::{cli, create_key, free_port, tiny_model, write_csv, TENANT};

fn tiny_options() -> EmbedderOptions {
    EmbedderOptions {
        window_overlap: 16,
        ..EmbedderOptions::default()
    }
}

/// Appeals committed so far, read through a read-only connection while the
/// importer runs (SQLite WAL lets readers in beside the writer).
async fn committed(db: &Path) -> Option<i64> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite:{}?mode=ro", db.display());
    let mut conn = sqlx::AnyConnection::connect(&url).await.ok()?;
    let row = sqlx::query("SELECT COUNT(*) AS n FROM appeals")
        .fetch_one(&mut conn)
        .await
        .ok()?;
    row.try_get("n").ok()
}

/// Reopens the data directory as a restarting service does (the outbox is
/// replayed) and checks that record and index hold the same appeals exactly
/// once, with payloads and vectors made from the record. Returns
/// (appeals, outbox entries replayed).
async fn reopen_and_check(data_dir: &Path, embedder: &Arc<Embedder>) -> (u64, usize) {
    let data = DataDir::open(data_dir).unwrap();
    let record = Record::open(&data.record_url()).await.unwrap();
    let index = EmbeddedIndex::open(&data.index_dir(), embedder.dim()).unwrap();
    let memory = CaseMemory::new(record, Arc::new(index), embedder.clone());
    let pending = memory.record().outbox_len().await.unwrap() as usize;
    let replayed = memory.drain_outbox().await.unwrap();
    assert_eq!(replayed, pending, "replay applies every pending entry");
    assert_eq!(memory.record().outbox_len().await.unwrap(), 0);

    let record = memory.record();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT external_id) AS d FROM appeals WHERE tenant_id = $1",
    )
    .bind(TENANT)
    .fetch_one(record.pool())
    .await
    .unwrap();
    let (n, distinct): (i64, i64) = (row.get("n"), row.get("d"));
    assert_eq!(n, distinct, "no appeal stored twice");
    let points = memory
        .index()
        .count(CaseFilter::tenant(TENANT))
        .await
        .unwrap();
    assert_eq!(points, n as u64, "index holds as many cases as the record");

    // Every appeal is in the index with the payload the record implies; a
    // sample of vectors is recomputed from the redacted text.
    let mut after = 0;
    let mut seen = 0u64;
    loop {
        let page = record
            .appeals_after(Some(TENANT), after, 500)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<u64> = page.iter().map(|a| a.id as u64).collect();
        let got = memory.index().retrieve(ids).await.unwrap();
        assert_eq!(got.len(), page.len(), "every committed appeal is indexed");
        let sample: Vec<usize> = (0..page.len()).step_by(97).collect();
        let texts: Vec<String> = sample
            .iter()
            .map(|&i| page[i].data.redacted_text.clone())
            .collect();
        let vectors = memory.embed(texts, Role::Query).await.unwrap();
        for (a, p) in page.iter().zip(&got) {
            assert_eq!(p.id, a.id as u64);
            assert_eq!(
                p.payload,
                memory.payload_of(a),
                "payload of appeal {}",
                a.id
            );
        }
        for (&i, v) in sample.iter().zip(&vectors) {
            let c = cosine(v, &got[i].vector);
            assert!(
                c > 0.9999,
                "vector of appeal {} is its text's (cos {c})",
                page[i].id
            );
        }
        seen += page.len() as u64;
    }
    assert_eq!(seen, n as u64);
    (seen, replayed)
}

#[tokio::test]
async fn an_import_killed_mid_way_loses_and_duplicates_nothing() {
    const ROWS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("appeals.csv");
    write_csv(&csv, ROWS);
    let data_dir = dir.path().join("data");
    let embedder = Arc::new(Embedder::load(&tiny_model(), tiny_options()).unwrap());

    let mut child = cli(&data_dir)
        .args([
            "import",
            "--tenant",
            TENANT,
            "--create-tenant",
            "--batch-size",
            "32",
            "--no-optimize",
        ])
        .arg(&csv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a good part (but not all) is acknowledged.
    let db = data_dir.join("record.db");
    let started = Instant::now();
    let at_kill = loop {
        if let Some(n) = committed(&db).await {
            if n >= 600 {
                break n;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "import made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL: no destructor, no flush
    child.wait().unwrap();
    let after_kill = committed(&db).await.unwrap();
    assert!(
        after_kill >= at_kill && after_kill < ROWS as i64,
        "killed mid-way ({after_kill})"
    );

    let (stored, replayed) = reopen_and_check(&data_dir, &embedder).await;
    assert_eq!(
        stored, after_kill as u64,
        "every acknowledged appeal survived"
    );
    eprintln!("killed after {after_kill} acknowledged appeals; {replayed} outbox entries replayed on restart");

    // Resume: the same command finishes the job, skipping what is stored.
    let out = cli(&data_dir)
        .args(["import", "--tenant", TENANT, "--batch-size", "64"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["already_present"], after_kill);
    assert_eq!(summary["imported"], ROWS as i64 - after_kill);
    assert_eq!(summary["rejected"], 0);

    let (stored, _) = reopen_and_check(&data_dir, &embedder).await;
    assert_eq!(
        stored, ROWS as u64,
        "all rows exactly once in record and index"
    );
}

#[tokio::test]
async fn reindex_rebuilds_a_corrupted_index_from_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("appeals.csv");
    write_csv(&csv, 300);
    let data_dir = dir.path().join("data");
    let out = cli(&data_dir)
        .args(["import", "--tenant", TENANT, "--create-tenant"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Damage the index: its config becomes garbage.
    std::fs::write(
        data_dir.join("index").join("edge_config.json"),
        b"{ not json",
    )
    .unwrap();
    let out = cli(&data_dir)
        .args(["backup"])
        .arg(dir.path().join("bk"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a corrupted index is not silently used"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reindex"), "the error names the cure: {err}");

    let out = cli(&data_dir).arg("reindex").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["indexed"], 300);
    assert_eq!(summary["tenants"][0]["points"], 300);
    assert!(
        !data_dir.join("index.old").exists(),
        "the broken copy is removed"
    );

    let embedder = Arc::new(Embedder::load(&tiny_model(), tiny_options()).unwrap());
    let (stored, _) = reopen_and_check(&data_dir, &embedder).await;
    assert_eq!(stored, 300);
    // Search works: an appeal's own text finds it first.
    let data = DataDir::open(&data_dir).unwrap();
    let record = Record::open(&data.record_url()).await.unwrap();
    let index = EmbeddedIndex::open(&data.index_dir(), embedder.dim()).unwrap();
    let a = record
        .appeals_after(Some(TENANT), 0, 1)
        .await
        .unwrap()
        .remove(0);
    let v = embedder
        .embed(&[a.data.redacted_text.as_str()], Role::Query)
        .unwrap()
        .remove(0);
    let hits = index
        .search(v, CaseFilter::tenant(TENANT), 5)
        .await
        .unwrap();
    assert_eq!(hits[0].id, a.id as u64);
}

/// The first line `keys create` prints: the secret.
/// Starts `serve` on a free port and waits until `/readyz` answers 200. The
/// caller kills and waits for the returned child (clippy cannot follow it).
#[allow(clippy::zombie_processes)]
async fn serve(data: &Path, http: &reqwest::Client) -> (std::process::Child, String) {
    let port = free_port();
    let mut child = cli(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--rate-limit-per-sec", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return (child, base);
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `serve` killed with SIGKILL in the middle of a stream of submissions:
/// after a restart every appeal it acknowledged (201) is there exactly once,
/// with its routing suggestion, and the index has caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_stream_keeps_every_acknowledged_appeal() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("history.csv");
    write_csv(&csv, 200);
    let data = dir.path().join("data");
    let out = cli(&data)
        .args([
            "import",
            "--tenant",
            TENANT,
            "--create-tenant",
            "--no-optimize",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let portal = create_key(&data, "portal");
    let supervisor = create_key(&data, "supervisor");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let (mut child, base) = serve(&data, &http).await;
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
    let mut senders = Vec::new();
    for worker in 0..6 {
        let (http, base, portal, acked) =
            (http.clone(), base.clone(), portal.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            for n in 0.. {
                let ext = format!("kill-{worker}-{n}");
                let body = serde_json::json!({
                    "text": format!("Яма на дороге у дома {n}, двор {worker}"),
                    "external_id": ext,
                    "place": { "district": "Невский" },
                });
                let Ok(r) = http
                    .post(format!("{base}/v1/appeals"))
                    .bearer_auth(&portal)
                    .json(&body)
                    .send()
                    .await
                else {
                    return; // the server is gone
                };
                if r.status() == 201 {
                    let v: serde_json::Value = match r.json().await {
                        Ok(v) => v,
                        Err(_) => return,
                    };
                    acked
                        .lock()
                        .unwrap()
                        .push((ext, v["appeal_id"].as_i64().unwrap()));
                }
            }
        }));
    }
    let started = Instant::now();
    while acked.lock().unwrap().len() < 60 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the submissions made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL, requests in flight
    child.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    let (mut child, base) = serve(&data, &http).await;
    let ready: serde_json::Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready["outbox_pending"], 0,
        "the index caught up on restart: {ready}"
    );
    for (ext, id) in &acked {
        let v: serde_json::Value = http
            .get(format!("{base}/v1/appeals/{id}"))
            .bearer_auth(&supervisor)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["external_id"], ext.as_str(), "{v}");
        assert!(v["suggestion"]["prediction_set"].is_array(), "routed: {v}");
    }
    // Exactly once: the record holds each external id once, and a repeat of
    // an acknowledged submission is recognised, not stored again.
    let (ext, id) = &acked[0];
    let r = http
        .post(format!("{base}/v1/appeals"))
        .bearer_auth(&portal)
        .json(&serde_json::json!({ "text": "Яма на дороге", "external_id": ext }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a repeat is idempotent");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["appeal_id"], *id);
    child.kill().unwrap();
    child.wait().unwrap();
    let record = Record::open(&format!("sqlite:{}", data.join("record.db").display()))
        .await
        .unwrap();
    let stored = sqlx::query("SELECT COUNT(*) AS n, COUNT(DISTINCT external_id) AS d FROM appeals WHERE external_id LIKE 'kill-%'")
        .fetch_one(record.pool())
        .await
        .unwrap();
    let (n, d): (i64, i64) = (stored.try_get("n").unwrap(), stored.try_get("d").unwrap());
    assert_eq!(n, d, "no external id stored twice");
    assert!(
        n as usize >= acked.len(),
        "{n} stored, {} acknowledged",
        acked.len()
    );
    eprintln!(
        "killed with {} acknowledged submissions ({n} stored)",
        acked.len()
    );
}
