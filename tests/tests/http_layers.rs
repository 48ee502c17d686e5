//! The standard layers around the routes: request ids, CORS, compression,
//! admission control (fast 429s past capacity), JSON errors for what a layer
//! or the router answers itself.

mod http_support;

use std::time::{Duration, Instant};

use appeal_triage::http::HttpConfig;
use appeal_triage::record::KeyRole;
use http_support::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_set_or_echoed() {
    let s = start().await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 36, "a UUID is made when none is sent: {made}");
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("x-request-id", "portal-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "portal-abc-123");
    // Errors carry it too.
    let r = s
        .client
        .get(s.url("/v1/appeals/1"))
        .header("x-request-id", "err-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-request-id"], "err-1");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_json() {
    let s = start().await;
    let (st, v) = status_json(s.client.get(s.url("/no/such/path")).send().await.unwrap()).await;
    assert_eq!((st, error_code(&v).as_str()), (404, "not_found"), "{v}");
    let (st, v) = status_json(s.client.delete(s.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(st, 405, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default_and_on_for_configured_origins() {
    let s = start().await;
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("origin", "https://portal.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    s.stop().await;

    let s = start_with(
        HttpConfig {
            cors_origins: vec!["https://portal.example".into()],
            ..HttpConfig::default()
        },
        |_| {},
    )
    .await;
    let r = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/v1/appeals"))
        .header("origin", "https://portal.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://portal.example"
    );
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    // Another origin gets no grant.
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_responses_are_compressed_when_asked() {
    let s = start().await;
    let r = s
        .client
        .get(s.url("/v1/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let r = s
        .client
        .get(s.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert!(r.json::<serde_json::Value>().await.unwrap()["openapi"].is_string());
    s.stop().await;
}

/// Past `max_in_flight` a request is refused at once with 429 and
/// `Retry-After`; the probes stay outside the limit; once the slot frees,
/// work is admitted again. A client still sending its body holds no slot (the
/// body is read before admission).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_capacity_requests_are_refused_fast_with_retry_after() {
    let s = start_with(
        HttpConfig {
            max_in_flight: 1,
            ..HttpConfig::default()
        },
        |_| {},
    )
    .await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    // A slow client sending its body takes no slot.
    let addr = s.base.trim_start_matches("http://").to_string();
    let body = r#"{"text":"water pipe burst in the basement","external_id":"slow-1"}"#;
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/appeals HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {portal}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = s.submit(&portal, "broken street lamp", "North").await;
    assert!(
        a["appeal_id"].is_i64(),
        "admitted beside a slow client: {a}"
    );

    // Hold the only slot with a big batch; probe until one is refused.
    let appeals: Vec<serde_json::Value> = (0..256)
        .map(|i| {
            serde_json::json!({
                "text": format!("{i} water pipe burst in the basement, the yard is flooded, \
                                 nobody from the housing office came for three days"),
                "external_id": format!("bulk-{i}"),
            })
        })
        .collect();
    let batch = {
        let (c, url, key) = (s.client.clone(), s.url("/v1/appeals:batch"), portal.clone());
        tokio::spawn(async move {
            c.post(url)
                .bearer_auth(key)
                .json(&serde_json::json!({ "appeals": appeals }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    // Let the batch in first (its body is read, then it takes the slot).
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut refused = None;
    while !batch.is_finished() {
        let t = Instant::now();
        let r = s
            .client
            .post(s.url("/v1/appeals"))
            .bearer_auth(&portal)
            .json(&serde_json::json!({ "text": "broken street lamp" }))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            refused = Some((t.elapsed(), r));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (waited, r) = refused.expect("a request beside the running batch was refused");
    assert_eq!(r.headers()["retry-after"], "1");
    let (_, v) = status_json(r).await;
    assert_eq!(error_code(&v), "overloaded", "{v}");
    assert!(
        waited < Duration::from_secs(5),
        "refused without waiting for the slot ({waited:?})"
    );
    // Probes are not work: they answer while the slot is held.
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
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
        metrics.contains("triage_http_shed_total{reason=\"in_flight\"}"),
        "{metrics}"
    );
    assert_eq!(batch.await.unwrap(), 200);

    // The slow client finishes, and the next request is admitted.
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut resp = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut conn, &mut resp)
        .await
        .unwrap();
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let a = s.submit(&portal, "broken street lamp again", "North").await;
    assert!(a["appeal_id"].is_i64(), "{a}");
    s.stop().await;
}
