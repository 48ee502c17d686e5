//! The JSON API end to end: a real server on the tiny model, a real client.
//! Submit (idempotent), batch, read, list and page, decide (effective for the
//! very next appeal), reroute, history, import, and bad input answered with a
//! JSON error and nothing stored.

mod http_support;

use appeal_triage::record::KeyRole;
use http_support::*;
use serde_json::json;

const ROADS: [&str; 4] = [
    "pothole on the road near school number five",
    "the asphalt on our street is broken, cars damaged",
    "road surface destroyed after winter, please repair",
    "deep holes in the roadway at the crossing",
];
const WATER: [&str; 4] = [
    "no cold water in the building since morning",
    "water pipe burst in the basement, flooding",
    "hot water is rusty and smells bad",
    "leak from the water main on the corner",
];

/// History imported over HTTP (CSV), as an admin would.
async fn import_history(s: &Server, admin: &str) {
    let mut csv = String::from("id,created_at,text,district,department\n");
    for (i, t) in ROADS.iter().enumerate() {
        csv.push_str(&format!(
            "r{i},2024-01-0{}T10:00:00Z,\"{t}\",North,roads\n",
            i + 1
        ));
    }
    for (i, t) in WATER.iter().enumerate() {
        csv.push_str(&format!(
            "w{i},2024-02-0{}T10:00:00Z,\"{t}\",North,water\n",
            i + 1
        ));
    }
    let r = s
        .client
        .post(s.url("/v1/import?format=csv"))
        .bearer_auth(admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["imported"], 8, "{v}");
    assert_eq!(v["rejected"], 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_read_decide_reroute_and_history() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let admin = s.key("city", KeyRole::Admin).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    import_history(&s, &admin).await;

    // Submit: 201 with the decision; the same external id again: 200, same appeal.
    let body = json!({
        "text": "graffiti sprayed over the bus stop shelter on Shevchenka street",
        "external_id": "portal-1",
        "place": { "district": "North", "address": "Shevchenka 1" },
        "channel": "web",
        "applicant_category": "veteran",
    });
    let (st, first) = s.post(&portal, "/v1/appeals", &body).await;
    assert_eq!(st, 201, "{first}");
    assert_eq!(first["created"], true);
    let id = first["appeal_id"].as_i64().unwrap();
    let suggested = first["decision"]["department"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first["decision"]["confidence"].is_number());
    let (st, again) = s.post(&portal, "/v1/appeals", &body).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["appeal_id"], id);

    // Read back.
    let (st, a) = s.get(&portal, &format!("/v1/appeals/{id}")).await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["external_id"], "portal-1");
    assert_eq!(a["place"]["address"], "Shevchenka 1");
    assert_eq!(a["suggestion"]["department"], suggested.as_str());
    // The earliest statutory deadline is surfaced (when the engine computes any).
    let earliest = first["decision"]["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["due"].as_str())
        .min()
        .map(str::to_string);
    assert_eq!(a["deadline"].as_str().map(str::to_string), earliest);

    // Override to a department the history never saw; effective for the next appeal.
    let (st, d) = s
        .post(
            &sup,
            &format!("/v1/appeals/{id}/decision"),
            &json!({ "department": "waste", "comment": "graffiti is cleaning's" }),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["status"], "decided");
    assert_eq!(d["department"], "waste");
    assert_eq!(
        d["decisions"][0]["kind"],
        if suggested == "waste" {
            "accept"
        } else {
            "override"
        }
    );
    assert_eq!(
        d["decisions"][0]["actor"].as_str().unwrap(),
        format!("key:{}", &sup[4..20])
    );
    let next = s
        .submit(
            &portal,
            "graffiti sprayed over the bus stop shelter on Shevchenka street!",
            "North",
        )
        .await;
    // The correction is in the case memory at once: the nearest evidence, with
    // its new department, and the duplicate link.
    assert_eq!(next["decision"]["evidence"]["cases"][0]["id"], id, "{next}");
    assert_eq!(
        next["decision"]["evidence"]["cases"][0]["department"],
        "waste"
    );
    assert_eq!(next["decision"]["duplicate_of"], id);

    // Accept the suggestion of the next one (no department: take the suggested one).
    let next_id = next["appeal_id"].as_i64().unwrap();
    let (st, acc) = s
        .post(&sup, &format!("/v1/appeals/{next_id}/decision"), &json!({}))
        .await;
    assert_eq!(st, 200, "{acc}");
    assert_eq!(acc["decisions"][0]["kind"], "accept");
    assert_eq!(acc["department"], next["decision"]["department"]);

    // A second decision on a decided appeal is a conflict, and changes nothing.
    let (st, err) = s
        .post(
            &sup,
            &format!("/v1/appeals/{next_id}/decision"),
            &json!({ "department": "roads" }),
        )
        .await;
    assert_eq!(st, 409, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("decided"),
        "{err}"
    );
    let (_, still) = s.get(&sup, &format!("/v1/appeals/{next_id}")).await;
    assert_eq!(still["department"], acc["department"], "{still}");
    assert_eq!(still["decisions"].as_array().unwrap().len(), 1, "{still}");

    // The department sends the first back: in review again, reason and deadline shown.
    let (st, r) = s
        .post(
            &sup,
            &format!("/v1/appeals/{id}/reroute"),
            &json!({ "reason": "not ours: bus stops belong to transport" }),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "rerouted");
    assert_eq!(
        r["reroute_reason"],
        "not ours: bus stops belong to transport"
    );
    assert_eq!(r["deadline"].as_str().map(str::to_string), earliest);
    let (_, q) = s.get(&sup, "/v1/review/queue").await;
    assert!(q["items"].as_array().unwrap().iter().any(|a| a["id"] == id));

    // History: created, suggested (model fingerprint, case-memory version), decision, reroute.
    let (st, h) = s.get(&portal, &format!("/v1/appeals/{id}/history")).await;
    assert_eq!(st, 200, "{h}");
    let e = h["entries"].as_array().unwrap();
    let actions: Vec<&str> = e.iter().map(|x| x["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "appeal.created");
    assert_eq!(actions[1], "appeal.suggested");
    assert!(actions[2] == "appeal.override" || actions[2] == "appeal.accept");
    assert_eq!(actions[3], "appeal.reroute");
    assert_eq!(e[1]["model_fingerprint"].as_str().unwrap().len(), 64);
    assert!(e[1]["case_memory_version"].as_u64().is_some());
    assert!(e[2]["at"].as_i64().unwrap() > 0);
    assert_eq!(
        e[3]["detail"]["reason"],
        "not ours: bus stops belong to transport"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_list_filters_and_paging() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    let long = "x".repeat(s.state.max_text_bytes() + 1);
    let appeals: Vec<_> = (0..5)
        .map(|i| json!({ "text": format!("{} {i}", WATER[i % 4]), "external_id": format!("b{i}") }))
        .chain([json!({ "text": "   " }), json!({ "text": long })])
        .collect();
    let (st, v) = s
        .post(&portal, "/v1/appeals:batch", &json!({ "appeals": appeals }))
        .await;
    assert_eq!(st, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    for (i, it) in items.iter().enumerate().take(5) {
        assert_eq!(it["index"], i);
        assert_eq!(it["result"]["created"], true, "{it}");
    }
    assert_eq!(items[5]["error"]["code"], "invalid_input");
    assert_eq!(items[6]["error"]["code"], "too_large");

    // Over the batch limit: 413, nothing stored.
    let many: Vec<_> = (0..257)
        .map(|i| json!({ "text": format!("t {i}") }))
        .collect();
    let (st, v) = s
        .post(&portal, "/v1/appeals:batch", &json!({ "appeals": many }))
        .await;
    assert_eq!(st, 413, "{v}");
    assert_eq!(error_code(&v), "too_large");
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), 5);

    // List with filters and keyset paging.
    let (st, p1) = s.get(&sup, "/v1/appeals?status=needs_review&limit=2").await;
    assert_eq!(st, 200, "{p1}");
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let after = p1["next_after"].as_i64().unwrap();
    let (_, p2) = s
        .get(
            &sup,
            &format!("/v1/appeals?status=needs_review&limit=2&after={after}"),
        )
        .await;
    assert!(p2["items"][0]["id"].as_i64().unwrap() > after);
    let (_, until) = s.get(&sup, "/v1/appeals?until=2000-01-01").await;
    assert!(until["items"].as_array().unwrap().is_empty(), "{until}");
    let (_, all) = s.get(&sup, "/v1/appeals?since=2000-01-01").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert!(all["next_after"].is_null());
    // A page carries each appeal's own suggestion and decisions (read for the
    // whole page at once), the same as reading the appeal alone.
    let decided = all["items"][1]["id"].as_i64().unwrap();
    let (st, _) = s
        .post(
            &sup,
            &format!("/v1/appeals/{decided}/decision"),
            &json!({ "department": "water", "comment": "checked" }),
        )
        .await;
    assert_eq!(st, 200);
    let (_, all) = s.get(&sup, "/v1/appeals").await;
    for item in all["items"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        let (_, alone) = s.get(&sup, &format!("/v1/appeals/{id}")).await;
        assert_eq!(item, &alone, "appeal {id}: list and read agree");
        assert!(item["suggestion"]["department"].is_string(), "{item}");
    }
    assert_eq!(all["items"][1]["decisions"][0]["reason"], "checked");
    assert!(all["items"][0]["decisions"].as_array().unwrap().is_empty());
    let (_, none) = s.get(&sup, "/v1/appeals?since=2999-01-01T00:00:00Z").await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let (_, dep) = s.get(&sup, "/v1/appeals?department=nowhere").await;
    assert!(dep["items"].as_array().unwrap().is_empty());
    let (st, bad) = s.get(&sup, "/v1/appeals?status=lost").await;
    assert_eq!(st, 400);
    assert_eq!(error_code(&bad), "invalid_input");
    let (st, _) = s.get(&sup, "/v1/appeals?limit=100000").await;
    assert_eq!(st, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_json_errors_and_stores_nothing() {
    let config = appeal_triage::http::HttpConfig {
        max_body_bytes: 64 * 1024,
        ..Default::default()
    };
    let s = start_with(config, |_| {}).await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    let post_raw = |body: &'static str, ct: &'static str| {
        s.client
            .post(s.url("/v1/appeals"))
            .bearer_auth(&portal)
            .header("content-type", ct)
            .body(body)
    };
    let (st, v) = status_json(
        post_raw("{not json", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, error_code(&v).as_str()), (400, "invalid_input"));
    let (st, v) = status_json(post_raw("{}", "text/plain").send().await.unwrap()).await;
    assert_eq!(
        (st, error_code(&v).as_str()),
        (415, "unsupported_media_type")
    );
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals",
            &json!({ "text": "x", "colour": "red" }),
        )
        .await;
    assert_eq!((st, error_code(&v).as_str()), (422, "invalid_input"), "{v}");
    let (st, v) = s.post(&portal, "/v1/appeals", &json!({ "text": "" })).await;
    assert_eq!((st, error_code(&v).as_str()), (422, "invalid_input"), "{v}");
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals",
            &json!({ "text": "road", "place": { "lat": 91.0, "lon": 0.0 } }),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    // Text over the model's limit: 413 before any work.
    let long = "я".repeat(s.state.max_text_bytes());
    let (st, v) = s
        .post(&portal, "/v1/appeals", &json!({ "text": long }))
        .await;
    assert_eq!((st, error_code(&v).as_str()), (413, "too_large"));
    // Body over the configured body limit: 413.
    let huge = "a".repeat(70 * 1024);
    let (st, v) = s
        .post(&portal, "/v1/appeals", &json!({ "text": huge }))
        .await;
    assert_eq!((st, error_code(&v).as_str()), (413, "too_large"), "{v}");
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), 0);

    // Decisions on what does not exist; reroute without reason; unknown department.
    let (st, v) = s
        .post(
            &sup,
            "/v1/appeals/999/decision",
            &json!({ "department": "roads" }),
        )
        .await;
    assert_eq!((st, error_code(&v).as_str()), (404, "not_found"));
    let (st, v) = s.get(&sup, "/v1/appeals/abc").await;
    assert_eq!((st, error_code(&v).as_str()), (400, "invalid_input"));
    let a = s.submit(&portal, ROADS[0], "North").await;
    let id = a["appeal_id"].as_i64().unwrap();
    let (st, v) = s
        .post(
            &sup,
            &format!("/v1/appeals/{id}/reroute"),
            &json!({ "reason": " " }),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    let (st, v) = s
        .post(
            &sup,
            &format!("/v1/appeals/{id}/decision"),
            &json!({ "department": "mars" }),
        )
        .await;
    assert_eq!((st, error_code(&v).as_str()), (422, "unknown_department"));
    let (_, after) = s.get(&sup, &format!("/v1/appeals/{id}")).await;
    assert!(after["decisions"].as_array().unwrap().is_empty(), "{after}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_fields_are_refused_per_item_and_control_characters_dropped() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    // Every field rule names its field; nothing is stored.
    for (body, says) in [
        (json!({ "text": "\u{1}\u{2}" }), "text"),
        (json!({ "text": "\u{200b}\u{200b}" }), "letter or digit"),
        (
            json!({ "text": "road", "channel": "carrier pigeon" }),
            "channel",
        ),
        (
            json!({ "text": "road", "received_at": -37_000_000_000_000i64 }),
            "received_at",
        ),
        (
            json!({ "text": "road", "received_at": 253_402_300_799_000i64 }),
            "received_at",
        ),
        (
            json!({ "text": "road", "external_id": "x".repeat(100_000) }),
            "external_id",
        ),
        (
            json!({ "text": "road", "external_id": "a\nb" }),
            "external_id",
        ),
    ] {
        let (st, v) = s.post(&portal, "/v1/appeals", &body).await;
        assert_eq!(st, 422, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), 0);
    // A NUL and other control characters are dropped, never refused.
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals",
            &json!({ "text": "Яма на дорозі\u{0}\u{12}(#", "channel": "web" }),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["appeal_id"].as_i64().unwrap();
    let stored = s.state.record.appeal("city", id).await.unwrap().unwrap();
    assert_eq!(stored.data.text, "Яма на дорозі(#");

    // A batch answers each item on its own: a wrong type, a control-only
    // text and a bad channel get their own errors; the good items are stored.
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals:batch",
            &json!({ "appeals": [
                { "text": ROADS[1] },
                { "text": 5 },
                { "text": "\u{1}\u{2}" },
                { "text": ROADS[2], "channel": "fax machine" },
                { "text": ROADS[3], "category": ["Дороги"] },
            ] }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let ok: Vec<bool> = items.iter().map(|i| i["result"].is_object()).collect();
    assert_eq!(ok, [true, false, false, false, true], "{v}");
    assert!(items[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("appeals[1]"));
    assert!(items[3]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("channel"));
    assert_eq!(s.state.record.count_appeals("city").await.unwrap(), 3);

    // Unknown paths and methods answer JSON like every other error.
    let r = s
        .client
        .get(s.url("/v1/nothing/here"))
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!((st, error_code(&v).as_str()), (404, "not_found"));
    let r = s
        .client
        .delete(s.url("/v1/appeals:batch"))
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!((st, error_code(&v).as_str()), (405, "method_not_allowed"));
}
