//! The service on PostgreSQL, and PostgreSQL going down: readiness fails,
//! requests get 503 with the JSON error, and nothing is half-written.
//!
//! The server reaches the real PostgreSQL (`TRIAGE_PG_URL`, started by
//! `scripts/test`) through a TCP relay this test controls, so "down" is a
//! real loss of connectivity without stopping the shared server.

mod http_support;

use std::sync::{Arc, Mutex};

use appeal_triage::http::HttpConfig;
use appeal_triage::record::{KeyRole, Record};
use http_support::*;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP relay to `target` that can be cut: listener closed, connections dropped.
struct Relay {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let t2 = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                t2.lock().unwrap().push(h);
            }
        });
        Self {
            port,
            tasks,
            accept,
        }
    }

    fn cut(&self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_fails_readiness_answers_503_and_writes_nothing() {
    let Ok(pg) = std::env::var("TRIAGE_PG_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: TRIAGE_PG_URL is not set"
        );
        eprintln!("NOTE: TRIAGE_PG_URL not set: the PostgreSQL HTTP test did not run here");
        return;
    };
    // postgres://user@HOST:PORT/db -> the relay in front of HOST:PORT.
    let (head, rest) = pg.split_once('@').expect("TRIAGE_PG_URL has user@host");
    let (hostport, db) = rest.split_once('/').expect("TRIAGE_PG_URL has a database");
    let relay = Relay::start(hostport.to_string()).await;
    let relayed = format!("{head}@127.0.0.1:{}/{db}", relay.port);
    let s = start_with(HttpConfig::default(), |cfg| {
        cfg.database_url = Some(relayed)
    })
    .await;
    let tenant = format!(
        "pgdown-{}-{}",
        std::process::id(),
        appeal_triage::record::now_ms()
    );
    s.tenant(&tenant, DEPARTMENTS).await;
    let portal = s.key(&tenant, KeyRole::Portal).await;
    let first = s
        .submit(&portal, "water pipe burst in the basement", "North")
        .await;
    assert_eq!(first["created"], true);
    let (st, ready) = status_json(s.client.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((st, ready["record"].as_bool()), (200, Some(true)));

    relay.cut();
    let (st, ready) = status_json(s.client.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(st, 503, "{ready}");
    assert_eq!(ready["record"], false);
    let r = s
        .client
        .post(s.url("/v1/appeals"))
        .bearer_auth(&portal)
        .json(&json!({ "text": "no cold water since morning", "external_id": "during-outage" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let (_, v) = status_json(r).await;
    assert_eq!(error_code(&v), "unavailable");
    let (st, _) = s
        .get(&portal, &format!("/v1/appeals/{}", first["appeal_id"]))
        .await;
    assert_eq!(st, 503);

    // Straight to PostgreSQL: the first appeal is there whole, the second not at all.
    let direct = Record::open(&pg).await.unwrap();
    assert_eq!(direct.count_appeals(&tenant).await.unwrap(), 1);
    let id = first["appeal_id"].as_i64().unwrap();
    let trail = direct.audit_trail(&tenant, id).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["appeal.created", "appeal.suggested"]);
    direct.close().await;
}
