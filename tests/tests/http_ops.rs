//! Probes, metrics, the OpenAPI document, graceful shutdown, the review page's
//! assets, and the dynamic batcher on the tiny model.

mod http_support;

use std::sync::Arc;
use std::time::Duration;

use appeal_triage::memory::batcher::{BatchError, Batcher, BatcherConfig};
use appeal_triage::record::KeyRole;
use http_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use triage_models::{EmbedderOptions, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_openapi() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok".to_string())
    );
    let (st, v) = status_json(s.client.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    assert_eq!(v["ready"], true);
    assert_eq!(v["record"], true);

    let a = s
        .submit(
            &portal,
            "no cold water in the building since morning",
            "North",
        )
        .await;
    let id = a["appeal_id"].as_i64().unwrap();
    s.post(
        &sup,
        &format!("/v1/appeals/{id}/decision"),
        &serde_json::json!({ "department": "water" }),
    )
    .await;
    let _ = s.get(&portal, "/v1/appeals/999").await;
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The recorder is one per process and other tests of this file run beside
    // this one: each line must be there with at least this test's count.
    for want in [
        "triage_http_requests_total{method=\"POST\",route=\"/v1/appeals\",status=\"201\"}",
        "triage_http_requests_total{method=\"GET\",route=\"/v1/appeals/{id}\",status=\"404\"}",
        "triage_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/appeals\",le=\"+Inf\"}",
        "triage_embed_batch_size_bucket{le=\"+Inf\"}",
        "triage_stage_duration_seconds_count{stage=\"queue_wait\"}",
        "triage_stage_duration_seconds_count{stage=\"embed\"}",
        "triage_stage_duration_seconds_count{stage=\"tokenize\"}",
        "triage_stage_duration_seconds_count{stage=\"search_global\"}",
        "triage_stage_duration_seconds_count{stage=\"score\"}",
        "triage_stage_duration_seconds_count{stage=\"commit\"}",
        "triage_stage_duration_seconds_count{stage=\"index_write\"}",
    ] {
        let value = metric(&text, want).unwrap_or_else(|| panic!("missing {want:?} in\n{text}"));
        assert!(value >= 1.0, "{want} = {value}");
    }
    assert_eq!(metric(&text, "triage_embed_queue_depth"), Some(0.0));
    assert!(
        ["accept", "override"].iter().any(|o| metric(
            &text,
            &format!("triage_decisions_total{{outcome=\"{o}\"}}")
        )
        .is_some_and(|v| v >= 1.0)),
        "a supervisor action is counted:\n{text}"
    );
    assert!(
        !text.contains("cold water"),
        "metrics never carry appeal text"
    );

    let (st, doc) = status_json(
        s.client
            .get(s.url("/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/appeals",
        "/v1/appeals:batch",
        "/v1/appeals/{id}",
        "/v1/appeals/{id}/decision",
        "/v1/appeals/{id}/reroute",
        "/v1/appeals/{id}/history",
        "/v1/departments/{code}",
        "/v1/keys",
        "/v1/import",
        "/v1/tenants/{id}",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} not documented");
    }
    assert!(doc["components"]["schemas"]["SubmitRequest"]["properties"]["text"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());

    let page = s.client.get(s.url("/review")).send().await.unwrap();
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/review/app.js") && html.contains("id=\"accept-btn\""));
    let js = s.client.get(s.url("/review/app.js")).send().await.unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    s.stop().await;
}

/// A request whose body is still arriving when shutdown starts completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let mut s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let body = r#"{"text":"water pipe burst in the basement","external_id":"late-1"}"#;
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/appeals HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {portal}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = s.signal_stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are refused once the listener is closed.
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "the listener still accepts after shutdown began"
    );
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), 1);
}

/// Polls `f` exactly once without yielding to the runtime; true if it is pending.
/// (A zero timeout may yield, letting the batcher's worker and the model's
/// threads finish the call before the check.)
async fn poll_once<F: std::future::Future>(mut f: std::pin::Pin<&mut F>) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(f.as_mut().poll(cx).is_pending())).await
}

fn tiny() -> Arc<triage_models::Embedder> {
    Arc::new(triage_tests::tiny_embedder(EmbedderOptions::default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_model_calls_and_get_their_own_vectors() {
    let embedder = tiny();
    let b = Batcher::start(
        embedder.clone(),
        BatcherConfig {
            max_batch: 64,
            max_wait: Duration::from_millis(50),
            queue_capacity: 256,
            cache_entries: 0,
            max_queue_wait: Duration::ZERO,
            workers: 2,
            wide_chars: 300,
        },
    )
    .unwrap();
    let texts: Vec<String> = (0..24)
        .map(|i| format!("appeal number {i} about a broken road"))
        .collect();
    let mut tasks = Vec::new();
    for t in texts.clone() {
        let b = b.clone();
        tasks.push(tokio::spawn(
            async move { b.embed(vec![t], Role::Query).await },
        ));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().unwrap().pop().unwrap());
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = embedder.embed(&refs, Role::Query).unwrap();
    for (g, w) in got.iter().zip(&want) {
        let cos = triage_models::cosine(g, w);
        assert!(
            cos > 0.9999,
            "each caller gets its own text's vector (cos {cos})"
        );
    }
    let stats = b.stats();
    let batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(stats.texts.load(std::sync::atomic::Ordering::Relaxed), 24);
    assert!(
        batches < 24,
        "24 concurrent texts took {batches} model calls: not batched"
    );
    assert_eq!(
        stats
            .queued_texts
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    // A bad text fails only its own caller.
    let (good, bad) = tokio::join!(
        b.embed(vec!["a fine appeal".into()], Role::Query),
        b.embed(vec!["   ".into()], Role::Query)
    );
    assert_eq!(good.unwrap().len(), 1);
    assert!(matches!(bad, Err(BatchError::Input(_))), "{bad:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_refuses_at_once() {
    let b = Batcher::start(
        tiny(),
        BatcherConfig {
            max_batch: 4,
            max_wait: Duration::from_millis(1),
            queue_capacity: 3,
            cache_entries: 0,
            max_queue_wait: Duration::ZERO,
            workers: 2,
            wide_chars: 300,
        },
    )
    .unwrap();
    let first = b.embed(
        vec!["one".into(), "two".into(), "three".into()],
        Role::Query,
    );
    tokio::pin!(first);
    // Poll once: the job is queued and holds the whole capacity; on this
    // single-threaded runtime the worker cannot run before the next call.
    assert!(
        poll_once(first.as_mut()).await,
        "still waiting for the model"
    );
    let refused = b.embed(vec!["four".into()], Role::Query).await;
    assert!(
        matches!(refused, Err(BatchError::Overloaded { capacity: 3 })),
        "{refused:?}"
    );
    assert_eq!(
        b.stats()
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(first.await.unwrap().len(), 3);
    let too_many = b.embed(vec!["x".into(); 4], Role::Query).await;
    assert!(matches!(
        too_many,
        Err(BatchError::TooMany {
            len: 4,
            capacity: 3
        })
    ));
    assert_eq!(
        b.embed(vec!["after".into()], Role::Query)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_queue_longer_than_the_wait_limit_refuses_at_once() {
    let b = Batcher::start(
        tiny(),
        BatcherConfig {
            max_batch: 4,
            queue_capacity: 64,
            cache_entries: 0,
            // Any queue at all is too long: the check, not the model's speed, is under test.
            max_queue_wait: Duration::from_nanos(1),
            workers: 1,
            ..BatcherConfig::default()
        },
    )
    .unwrap();
    // An empty queue admits, whatever the limit; the call teaches the batcher its time per text.
    assert_eq!(
        b.embed(vec!["warm".into()], Role::Query)
            .await
            .unwrap()
            .len(),
        1
    );
    let first = b.embed(vec!["one".into(), "two".into()], Role::Query);
    tokio::pin!(first);
    // Polled once, without yielding to the runtime: queued, not yet taken by
    // the worker (single-threaded runtime), so two texts are ahead of the next caller.
    assert!(
        poll_once(first.as_mut()).await,
        "still waiting for the model"
    );
    let refused = b.embed(vec!["three".into()], Role::Query).await;
    assert!(
        matches!(refused, Err(BatchError::Behind { limit_ms: 0, .. })),
        "{refused:?}"
    );
    assert_eq!(first.await.unwrap().len(), 2);
    // The queue drained: admitted again.
    assert_eq!(
        b.embed(vec!["four".into()], Role::Query)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_texts_come_from_the_cache_with_the_same_vectors() {
    use std::sync::atomic::Ordering::Relaxed;
    let embedder = tiny();
    let b = Batcher::start(
        embedder.clone(),
        BatcherConfig {
            max_batch: 8,
            max_wait: Duration::from_millis(1),
            queue_capacity: 64,
            cache_entries: 16,
            ..BatcherConfig::default()
        },
    )
    .unwrap();
    let first = b
        .embed(vec!["Мусор".into(), "broken lamp".into()], Role::Query)
        .await
        .unwrap();
    assert_eq!(b.stats().texts.load(Relaxed), 2);
    // A repeat, a duplicate inside one call and a new text: only the new one reaches the model.
    let second = b
        .embed(
            vec![
                "broken lamp".into(),
                "pothole".into(),
                "pothole".into(),
                "Мусор".into(),
            ],
            Role::Query,
        )
        .await
        .unwrap();
    assert_eq!(
        b.stats().texts.load(Relaxed),
        3,
        "only 'pothole' is embedded"
    );
    assert_eq!(b.stats().cache_hits.load(Relaxed), 2);
    assert_eq!(second[0], first[1]);
    assert_eq!(second[3], first[0]);
    assert_eq!(second[1], second[2]);
    let direct = embedder.embed(&["pothole"], Role::Query).unwrap();
    assert_eq!(
        second[1], direct[0],
        "a cached vector is what the model gives"
    );
    // The role is part of the key: the same text as a passage is embedded anew.
    let passage = b.embed(vec!["Мусор".into()], Role::Passage).await.unwrap();
    assert_ne!(passage[0], first[0]);
    assert_eq!(b.stats().texts.load(Relaxed), 4);
}

/// The value of the exposition line that starts with `series` (name and labels).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// An index write the model refuses (a control-character-only text stored
/// before the door checked it) is set aside as a dead letter: later
/// submissions are served, `/readyz` says so, and the tenant's admin lists,
/// retries and drops it; another tenant's admin sees none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_outbox_entry_becomes_a_dead_letter_not_a_wedge() {
    use appeal_triage::record::{AppealData, AppealStatus};
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    s.tenant("town", DEPARTMENTS).await;
    let admin = s.key("city", KeyRole::Admin).await;
    let other_admin = s.key("town", KeyRole::Admin).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let poison = AppealData {
        tenant_id: "city".into(),
        external_id: Some("old-1".into()),
        text: "\u{1}\u{2}".into(),
        redacted_text: "\u{1}\u{2}".into(),
        language: None,
        place: Default::default(),
        channel: None,
        applicant_category: None,
        category: Vec::new(),
        received_at: 1_600_000_000_000,
        status: AppealStatus::Imported,
        department: Some("roads".into()),
        submitted_by: None,
    };
    let id = s
        .state
        .record
        .insert_appeal(&poison, "import")
        .await
        .unwrap()
        .id;

    // The next submission drains the outbox: it is served, the entry set aside.
    let a = s
        .submit(&portal, "water pipe burst in the basement", "North")
        .await;
    assert!(a["appeal_id"].is_i64(), "{a}");
    let (st, r) = status_json(s.client.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["dead_letters"], 1, "{r}");
    assert_eq!(r["outbox_pending"], 0, "{r}");

    let (st, v) = s.get(&admin, "/v1/outbox/dead").await;
    assert_eq!(st, 200, "{v}");
    let letters = v.as_array().unwrap();
    assert_eq!(letters.len(), 1, "{v}");
    assert_eq!(letters[0]["appeal_id"], id);
    assert!(
        letters[0]["reason"].as_str().unwrap().contains("empty"),
        "{v}"
    );
    let seq = letters[0]["seq"].as_i64().unwrap();
    assert_eq!(s.get(&portal, "/v1/outbox/dead").await.0, 403);
    assert_eq!(
        s.get(&other_admin, "/v1/outbox/dead").await.1,
        serde_json::json!([])
    );
    let (st, _) = s
        .post(
            &other_admin,
            &format!("/v1/outbox/dead/{seq}/retry"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 404, "another tenant's letter is not there");

    // A retry puts it back and applies it at once: still refused, set aside again.
    let (st, v) = s
        .post(
            &admin,
            &format!("/v1/outbox/dead/{seq}/retry"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 204, "{v}");
    let (_, v) = s.get(&admin, "/v1/outbox/dead").await;
    let again = v.as_array().unwrap();
    assert_eq!(again.len(), 1, "{v}");
    assert_ne!(
        again[0]["seq"].as_i64().unwrap(),
        seq,
        "a new outbox position"
    );
    let seq = again[0]["seq"].as_i64().unwrap();

    let (st, _) = s.delete(&admin, &format!("/v1/outbox/dead/{seq}")).await;
    assert_eq!(st, 204);
    assert_eq!(
        s.get(&admin, "/v1/outbox/dead").await.1,
        serde_json::json!([])
    );
    let (st, v) = s.delete(&admin, &format!("/v1/outbox/dead/{seq}")).await;
    assert_eq!(st, 404, "{v}");
    // The appeal itself is still in the record.
    assert!(s.state.record.appeal("city", id).await.unwrap().is_some());
    let metrics = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metric(&metrics, "triage_outbox_dead_letters_total").is_some_and(|v| v >= 2.0),
        "{metrics}"
    );
    s.stop().await;
}
