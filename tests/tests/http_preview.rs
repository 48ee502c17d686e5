//! `POST /v1/appeals:preview` end to end: a real server on the tiny model. The
//! preview routes like a submission would (same department as the submission
//! that follows) but stores nothing; bad input gets the same JSON errors.

mod http_support;

use appeal_triage::record::KeyRole;
use http_support::*;
use serde_json::json;

const ROADS: [&str; 3] = [
    "pothole on the road near school number five",
    "the asphalt on our street is broken, cars damaged",
    "road surface destroyed after winter, please repair",
];
const WATER: [&str; 3] = [
    "no cold water in the building since morning",
    "water pipe burst in the basement, flooding",
    "hot water is rusty and smells bad",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_decides_like_submit_and_stores_nothing() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    for t in ROADS {
        s.submit(&portal, t, "North").await;
    }
    for t in WATER {
        s.submit(&portal, t, "North").await;
    }
    let stored = s.state.record.count_appeals("city").await.unwrap();
    assert_eq!(stored, 6);

    let body = json!({
        "text": "a deep pothole appeared on the road by the school",
        "place": { "district": "North" },
        "received_at": 1_700_000_000_000i64,
    });
    let (st, p) = s.post(&portal, "/v1/appeals:preview", &body).await;
    assert_eq!(st, 200, "{p}");
    let d = &p["decision"];
    let dept = d["department"].as_str().expect("a department").to_string();
    assert!(
        d["confidence"]
            .as_f64()
            .is_some_and(|c| (0.0..=1.0).contains(&c)),
        "{p}"
    );
    assert!(
        d["alternatives"].as_array().is_some_and(|a| !a.is_empty()),
        "{p}"
    );
    assert!(
        p.get("appeal_id").is_none(),
        "a preview has no appeal id: {p}"
    );
    // Twice, same answer; nothing stored either time.
    let (_, again) = s.post(&portal, "/v1/appeals:preview", &body).await;
    assert_eq!(again["decision"]["department"], dept.as_str());
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), stored);
    // The submission that follows gets the same department.
    let (st, sub) = s.post(&portal, "/v1/appeals", &body).await;
    assert_eq!(st, 201, "{sub}");
    assert_eq!(sub["decision"]["department"], dept.as_str());
    assert_eq!(
        s.state.record.count_appeals("city").await.unwrap(),
        stored + 1
    );

    // Bad input: JSON errors, still nothing stored.
    let (st, v) = s
        .post(&portal, "/v1/appeals:preview", &json!({ "text": "" }))
        .await;
    assert_eq!((st, error_code(&v).as_str()), (422, "invalid_input"), "{v}");
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals:preview",
            &json!({ "text": "x", "colour": 1 }),
        )
        .await;
    assert_eq!((st, error_code(&v).as_str()), (422, "invalid_input"), "{v}");
    let long = "я".repeat(s.state.max_text_bytes());
    let (st, v) = s
        .post(&portal, "/v1/appeals:preview", &json!({ "text": long }))
        .await;
    assert_eq!((st, error_code(&v).as_str()), (413, "too_large"), "{v}");
    let (st, v) = s.post(&sup, "/v1/appeals:preview", &body).await;
    assert_eq!(st, 200, "roles above portal may preview too: {v}");
    let (st, _) = s.post("nope", "/v1/appeals:preview", &body).await;
    assert_eq!(st, 401);
    assert_eq!(
        s.state.record.count_appeals("city").await.unwrap(),
        stored + 1
    );

    // Documented in the OpenAPI description.
    let (st, doc) = s.get(&portal, "/v1/openapi.json").await;
    assert_eq!(st, 200);
    assert!(
        doc["paths"]["/v1/appeals:preview"]["post"].is_object(),
        "preview in the OpenAPI paths"
    );
    s.stop().await;
}
