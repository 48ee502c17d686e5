//! Open311 GeoReport v2 with real request bodies (form-encoded, `api_key`
//! field), JSON and XML, and Open311's error lists.

mod http_support;

use appeal_triage::record::KeyRole;
use http_support::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn georeport_v2_services_requests_tokens_and_errors() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let key = s.key("city", KeyRole::Portal).await;
    let get = |path: String| {
        let c = s.client.clone();
        let url = s.url(&path);
        async move { c.get(url).send().await.unwrap() }
    };

    // Services: departments, by key or by jurisdiction_id; JSON and XML.
    let r = get("/open311/v2/services.json?jurisdiction_id=city".into()).await;
    assert_eq!(r.status(), 200);
    let (_, v) = status_json(r).await;
    let codes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["service_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["roads", "waste", "water"]);
    assert_eq!(v[0]["service_name"], "Department roads");
    assert_eq!(v[0]["metadata"], false);
    assert_eq!(v[0]["type"], "realtime");
    let (_, uk) =
        status_json(get(format!("/open311/v2/services.json?api_key={key}&locale=uk")).await).await;
    assert_eq!(uk[0]["service_name"], "Відділ roads");
    let r = get("/open311/v2/services.xml?jurisdiction_id=city".into()).await;
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    let xml = r.text().await.unwrap();
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<services><service><service_code>roads</service_code>"),
        "{xml}"
    );
    let (st, def) =
        status_json(get("/open311/v2/services/water.json?jurisdiction_id=city".into()).await).await;
    assert_eq!(st, 200);
    assert_eq!(def["service_code"], "water");
    assert!(def["attributes"].as_array().unwrap().is_empty());

    // A real GeoReport v2 POST body (form-encoded, api_key field, personal fields).
    let form = [
        ("api_key", key.as_str()),
        ("jurisdiction_id", "city"),
        ("service_code", "water"),
        ("lat", "50.4501"),
        ("long", "30.5234"),
        ("address_string", "Khreshchatyk St 1, Kyiv"),
        ("email", "citizen@example.org"),
        ("first_name", "Olena"),
        ("last_name", "Shevchenko"),
        ("phone", "+380501234567"),
        (
            "description",
            "Water pipe burst in the basement, flooding the stairwell",
        ),
        ("attribute[WHISPAWN]", "123456"),
    ];
    let r = s
        .client
        .post(s.url("/open311/v2/requests.json"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (st, created) = status_json(r).await;
    assert_eq!(st, 200, "{created}");
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(created[0].get("service_notice").is_some());

    // Read it back: agency_responsible is the routed department (if routed).
    let (st, req) =
        status_json(get(format!("/open311/v2/requests/{id}.json?api_key={key}")).await).await;
    assert_eq!(st, 200, "{req}");
    let item = &req[0];
    assert_eq!(item["service_request_id"], id.as_str());
    assert_eq!(item["status"], "open");
    assert_eq!(item["address"], "Khreshchatyk St 1, Kyiv");
    assert_eq!(item["lat"], 50.4501);
    assert_eq!(item["long"], 30.5234);
    assert!(item["requested_datetime"].as_str().unwrap().ends_with('Z'));
    let appeal = s
        .state
        .engine
        .appeal("city", id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(appeal.appeal.data.channel.as_deref(), Some("open311"));
    assert!(
        !appeal.appeal.data.text.contains("Olena"),
        "personal fields are not stored"
    );
    // Route it by hand: the agency is then the decided department.
    let sup = s.key("city", KeyRole::Supervisor).await;
    let (st, _) = s
        .post(
            &sup,
            &format!("/v1/appeals/{id}/decision"),
            &serde_json::json!({ "department": "water" }),
        )
        .await;
    assert_eq!(st, 200);
    let (_, req) =
        status_json(get(format!("/open311/v2/requests/{id}.json?api_key={key}")).await).await;
    assert_eq!(req[0]["agency_responsible"], "Department water");
    assert_eq!(req[0]["service_code"], "water");
    let xml = get(format!("/open311/v2/requests/{id}.xml?api_key={key}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<agency_responsible>Department water</agency_responsible>"),
        "{xml}"
    );

    // Lists and tokens.
    let (_, all) = status_json(get(format!("/open311/v2/requests.json?api_key={key}")).await).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (_, some) = status_json(
        get(format!(
            "/open311/v2/requests.json?api_key={key}&service_request_id={id},999"
        ))
        .await,
    )
    .await;
    assert_eq!(some.as_array().unwrap().len(), 1);
    let (_, closed) = status_json(
        get(format!(
            "/open311/v2/requests.json?api_key={key}&status=closed"
        ))
        .await,
    )
    .await;
    assert_eq!(closed, Value::Array(vec![]));
    let (st, tok) =
        status_json(get(format!("/open311/v2/tokens/{id}.json?api_key={key}")).await).await;
    assert_eq!(st, 200);
    assert_eq!(tok[0]["service_request_id"], id.as_str());

    // Errors: Open311's list of {code, description}, with the HTTP status.
    let bad = |pairs: Vec<(&'static str, String)>| {
        let c = s.client.clone();
        let url = s.url("/open311/v2/requests.json");
        async move { status_json(c.post(url).form(&pairs).send().await.unwrap()).await }
    };
    let (st, e) = bad(vec![
        ("service_code", "water".into()),
        ("description", "x".into()),
        ("lat", "1".into()),
        ("long", "1".into()),
    ])
    .await;
    assert_eq!(st, 403);
    assert_eq!(e[0]["code"], 403);
    assert!(e[0]["description"].as_str().unwrap().contains("api_key"));
    let (st, e) = bad(vec![
        ("api_key", "atk_0000000000000000_bad".into()),
        ("service_code", "water".into()),
        ("description", "x".into()),
    ])
    .await;
    assert_eq!((st, e[0]["code"].as_u64()), (401, Some(401)));
    let (st, e) = bad(vec![
        ("api_key", key.clone()),
        ("service_code", "moon".into()),
        ("description", "x".into()),
        ("lat", "1".into()),
        ("long", "1".into()),
    ])
    .await;
    assert_eq!(st, 404);
    assert_eq!(e[0]["description"], "service_code not found");
    let (st, e) = bad(vec![
        ("api_key", key.clone()),
        ("service_code", "water".into()),
        ("lat", "1".into()),
        ("long", "1".into()),
    ])
    .await;
    assert_eq!(
        (st, e[0]["description"].as_str()),
        (400, Some("description required"))
    );
    let (st, e) = bad(vec![
        ("api_key", key.clone()),
        ("service_code", "water".into()),
        ("description", "leak".into()),
    ])
    .await;
    assert_eq!(st, 400, "{e}");
    let (st, e) = bad(vec![
        ("api_key", key.clone()),
        ("service_code", "water".into()),
        ("description", "leak".into()),
        ("lat", "north".into()),
        ("long", "1".into()),
    ])
    .await;
    assert_eq!(st, 400, "{e}");
    let r = get(format!("/open311/v2/requests/999999.xml?api_key={key}")).await;
    assert_eq!(r.status(), 404);
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<errors><error><code>404</code><description>service_request_id not found</description></error></errors>"), "{xml}");
    let r = get("/open311/v2/services.json".into()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        s.state.record.count_appeals("city").await.unwrap(),
        1,
        "no failed request stored anything"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn categories_are_the_services_and_travel_with_the_appeal() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let admin = s.key("city", KeyRole::Admin).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let supervisor = s.key("city", KeyRole::Supervisor).await;
    // Appeals filed by the portal under two categories: one string is a
    // one-level path, an array a deeper one.
    for (text, category) in [
        ("Pothole on the main road", json!(["Roads", "Potholes"])),
        (
            "Deep holes on the bridge road",
            json!(["Roads", "Potholes"]),
        ),
        ("No water in the flat since morning", json!("Water")),
    ] {
        let (st, v) = s
            .post(
                &portal,
                "/v1/appeals",
                &json!({ "text": text, "category": category }),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    // A tenant without a catalogue still offers its departments.
    let (_, before) = s
        .get(
            &portal,
            &format!("/open311/v2/services.json?api_key={portal}"),
        )
        .await;
    assert_eq!(before.as_array().unwrap().len(), DEPARTMENTS.len());
    // The admin seeds the catalogue from what appeals carry.
    let (st, seeded) = s.post(&admin, "/v1/categories:seed", &json!({})).await;
    assert_eq!(st, 200, "{seeded}");
    assert_eq!(
        (seeded["added"].as_u64(), seeded["total"].as_u64()),
        (Some(2), Some(2))
    );
    let (st, again) = s.post(&admin, "/v1/categories:seed", &json!({})).await;
    assert_eq!(
        (st, again["added"].as_u64()),
        (200, Some(0)),
        "seeding twice adds nothing"
    );
    let (_, services) = s
        .get(
            &portal,
            &format!("/open311/v2/services.json?api_key={portal}"),
        )
        .await;
    let services = services.as_array().unwrap().clone();
    assert_eq!(services.len(), 2, "{services:?}");
    let potholes = services
        .iter()
        .find(|x| x["service_name"] == "Potholes")
        .expect("the sub-category is a service");
    assert_eq!(potholes["group"], "Roads");
    let code = potholes["service_code"].as_str().unwrap().to_string();

    // A GeoReport request for that service carries the category.
    let form = [
        ("api_key", portal.as_str()),
        ("service_code", code.as_str()),
        ("lat", "50.4501"),
        ("long", "30.5234"),
        ("description", "A hole in the asphalt at the crossing"),
    ];
    let r = s
        .client
        .post(s.url("/open311/v2/requests.json"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (st, created) = status_json(r).await;
    assert_eq!(st, 200, "{created}");
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, appeal) = s.get(&supervisor, &format!("/v1/appeals/{id}")).await;
    assert_eq!(appeal["category"], json!(["Roads", "Potholes"]));
    let (_, req) = s
        .get(
            &portal,
            &format!("/open311/v2/requests/{id}.json?api_key={portal}"),
        )
        .await;
    assert_eq!(req[0]["service_code"], code.as_str());

    // An unknown service code is an Open311 404.
    let bad = [
        ("api_key", portal.as_str()),
        ("service_code", "no-such-service"),
        ("lat", "50.45"),
        ("long", "30.52"),
        ("description", "Something"),
    ];
    let r = s
        .client
        .post(s.url("/open311/v2/requests.json"))
        .form(&bad)
        .send()
        .await
        .unwrap();
    let (st, v) = status_json(r).await;
    assert_eq!(st, 404);
    assert_eq!(v[0]["description"], "service_code not found");

    // The list filters by category (a prefix of levels).
    let (_, roads) = s.get(&supervisor, "/v1/appeals?category=Roads").await;
    assert_eq!(roads["items"].as_array().unwrap().len(), 3, "{roads}");
    let (_, water) = s
        .get(&supervisor, "/v1/appeals?category=%5B%22Water%22%5D")
        .await;
    assert_eq!(water["items"].as_array().unwrap().len(), 1, "{water}");
    let (_, none) = s.get(&supervisor, "/v1/appeals?category=Road").await;
    assert!(
        none["items"].as_array().unwrap().is_empty(),
        "a level is not a string prefix"
    );

    // Bad categories name the field; an unseen one is not an error.
    for (category, says) in [
        (json!(["a", "b", "c", "d", "e"]), "5 levels"),
        (json!(["Roads", " "]), "category[1] is empty"),
        (
            json!(["x".repeat(10_000)]),
            "category[0] is 10000 characters",
        ),
    ] {
        let (st, v) = s
            .post(
                &portal,
                "/v1/appeals:preview",
                &json!({ "text": "A pothole", "category": category }),
            )
            .await;
        assert_eq!(st, 422, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals:preview",
            &json!({ "text": "A pothole", "category": 5 }),
        )
        .await;
    assert!((400..500).contains(&st), "{st} {v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("category"),
        "{v}"
    );
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals:preview",
            &json!({ "text": "A pothole", "category": ["Space"] }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let notes: Vec<&str> = v["decision"]["evidence"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(notes.contains(&"category_unseen"), "{notes:?}");

    // The admin edits the catalogue; a bad path is refused.
    let (st, v) = s
        .put(
            &admin,
            &format!("/v1/categories/{code}"),
            &json!({ "path": ["Roads", "Potholes"], "names": { "uk": "Ями", "en": "Potholes" } }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, uk) = s
        .get(
            &portal,
            &format!("/open311/v2/services.json?locale=uk&api_key={portal}"),
        )
        .await;
    assert!(
        uk.as_array()
            .unwrap()
            .iter()
            .any(|x| x["service_name"] == "Ями"),
        "{uk}"
    );
    let (st, v) = s
        .put(&admin, "/v1/categories/x1", &json!({ "path": [] }))
        .await;
    assert_eq!((st, error_code(&v).as_str()), (400, "invalid_input"));
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("path"),
        "{v}"
    );
    let (st, _) = s
        .put(&portal, "/v1/categories/x1", &json!({ "path": ["A"] }))
        .await;
    assert_eq!(st, 403, "a portal key edits nothing");

    // A category marked as not a request: an appeal filed under it (or
    // under a sub-category) is stored and sent to no department, at once.
    let (st, v) = s
        .put(
            &admin,
            "/v1/categories/thanks",
            &json!({ "path": ["Thanks"], "not_request": true }),
        )
        .await;
    assert_eq!((st, &v["not_request"]), (200, &json!(true)), "{v}");
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals",
            &json!({ "text": "Thank you for fixing the pothole so fast", "category": ["Thanks", "Roads"] }),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["status"], "not_a_request", "{v}");
    assert_eq!(v["decision"]["decision"], "not_a_request", "{v}");
    assert_eq!(v["decision"]["not_a_request"]["reason"], "category", "{v}");
    let id = v["appeal_id"].as_i64().unwrap();
    let (_, stored) = s.get(&supervisor, &format!("/v1/appeals/{id}")).await;
    assert_eq!(stored["status"], "not_a_request", "{stored}");
    assert!(
        stored["department"].is_null(),
        "sent to no department: {stored}"
    );
    let (_, o) = s
        .get(
            &portal,
            &format!("/open311/v2/requests/{id}.json?api_key={portal}"),
        )
        .await;
    assert_eq!(o[0]["status"], "closed", "{o}");
    // The same text under an unmarked category is routed as usual.
    let (st, v) = s
        .post(
            &portal,
            "/v1/appeals:preview",
            &json!({ "text": "Thank you for fixing the pothole so fast", "category": ["Roads"] }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_ne!(v["decision"]["decision"], "not_a_request", "{v}");
    assert!(v["decision"].get("not_a_request").is_none(), "{v}");
}
