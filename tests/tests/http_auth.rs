//! Keys, roles, rate limits and tenant isolation over real HTTP: a key of
//! tenant A can never read or affect tenant B, on every endpoint.

mod http_support;

use appeal_triage::http::HttpConfig;
use appeal_triage::record::KeyRole;
use http_support::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_authenticate_only_when_valid_and_roles_are_enforced() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    let admin = s.key("city", KeyRole::Admin).await;

    // No key, a malformed key, a wrong secret: 401 with the JSON error body.
    let (st, v) = status_json(s.client.get(s.url("/v1/appeals/1")).send().await.unwrap()).await;
    assert_eq!((st, error_code(&v).as_str()), (401, "unauthorized"));
    let (st, _) = s.get("nonsense", "/v1/appeals/1").await;
    assert_eq!(st, 401);
    let forged = format!("{}0", &portal[..portal.len() - 1]);
    let forged = if forged == portal {
        format!("{}1", &portal[..portal.len() - 1])
    } else {
        forged
    };
    let (st, _) = s.get(&forged, "/v1/departments").await;
    assert_eq!(st, 401);
    // X-Api-Key works like Bearer.
    let r = s
        .client
        .get(s.url("/v1/departments"))
        .header("x-api-key", &portal)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Roles: portal cannot review or administer; supervisor cannot administer.
    let (st, v) = s.get(&portal, "/v1/appeals").await;
    assert_eq!((st, error_code(&v).as_str()), (403, "forbidden"));
    let (st, _) = s
        .post(
            &portal,
            "/v1/appeals/1/decision",
            &json!({ "department": "roads" }),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = s.get(&sup, "/v1/keys").await;
    assert_eq!(st, 403);
    let (st, _) = s
        .put(
            &sup,
            "/v1/departments/x",
            &json!({ "names": { "en": "X" } }),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = s.get(&sup, "/v1/appeals").await;
    assert_eq!(st, 200);

    // Key CRUD over the API: create (secret shown once), list (no secrets), revoke.
    let (st, k) = s
        .post(
            &admin,
            "/v1/keys",
            &json!({ "role": "portal", "label": "kiosk" }),
        )
        .await;
    assert_eq!(st, 201, "{k}");
    let secret = k["secret"].as_str().unwrap().to_string();
    let kid = k["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("atk_") && secret.contains(&kid));
    let (st, _) = s.get(&secret, "/v1/departments").await;
    assert_eq!(st, 200);
    let (_, list) = s.get(&admin, "/v1/keys").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == kid.as_str() && x["label"] == "kiosk"));
    assert!(
        !list.to_string().contains(&secret[21..]),
        "secrets are never listed"
    );
    let (st, v) = s.post(&admin, "/v1/keys", &json!({ "role": "root" })).await;
    assert_eq!((st, error_code(&v).as_str()), (400, "invalid_input"));
    let (st, _) = s.delete(&admin, &format!("/v1/keys/{kid}")).await;
    assert_eq!(st, 204);
    let (st, _) = s.get(&secret, "/v1/departments").await;
    assert_eq!(st, 401, "a revoked key authenticates nothing");
    let (st, _) = s.delete(&admin, &format!("/v1/keys/{kid}")).await;
    assert_eq!(st, 404);

    // Keys are stored hashed: the secret is nowhere in the database.
    let rows: Vec<(String,)> = sqlx::query_as("SELECT key_hash FROM api_keys")
        .fetch_all(s.state.record.pool())
        .await
        .unwrap();
    assert!(rows.len() >= 4);
    assert!(rows
        .iter()
        .all(|(h,)| h.len() == 64 && !secret.contains(h.as_str())));

    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_tenants_and_prints_a_working_key_once() {
    use appeal_triage::onboard::{self, Target};
    use appeal_triage::record::{Jurisdiction, Tenant};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("record.db").display());
    let cfg = cli_model_config();
    let to = Target {
        model: &cfg,
        database_url: Some(&url),
    };
    let refused = onboard::create_key(to, &no_service(), "city", KeyRole::Admin, None).await;
    assert!(
        refused.is_err(),
        "a key of a tenant that does not exist is refused"
    );
    let city = Tenant {
        id: "city".into(),
        name: "City".into(),
        jurisdiction: Jurisdiction::Ua,
        alpha: 0.1,
        auto_threshold: 0.9,
    };
    // The record's own check, as on the HTTP edges: each bad field is named.
    for (bad, field) in [
        (
            Tenant {
                id: "Bad Id".into(),
                ..city.clone()
            },
            "id",
        ),
        (
            Tenant {
                name: " ".into(),
                ..city.clone()
            },
            "name",
        ),
        (
            Tenant {
                alpha: 1.0,
                ..city.clone()
            },
            "alpha",
        ),
        (
            Tenant {
                auto_threshold: 1.5,
                ..city.clone()
            },
            "auto_threshold",
        ),
    ] {
        let e = onboard::put_tenant(to, &no_service(), &bad)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(field), "{field}: {e}");
    }
    onboard::put_tenant(to, &no_service(), &city).await.unwrap();
    let created = onboard::create_key(to, &no_service(), "city", KeyRole::Supervisor, Some("ops"))
        .await
        .unwrap();
    let record = appeal_triage::record::Record::open(&url).await.unwrap();
    let key = record
        .authenticate_api_key(&created.secret)
        .await
        .unwrap()
        .expect("the printed key works")
        .key;
    record.close().await;
    assert_eq!(
        (key.tenant_id.as_str(), key.role, key.id.as_str()),
        ("city", KeyRole::Supervisor, created.id.as_str())
    );
    let listed = onboard::list_keys(to, "city").await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        [created.id.as_str()]
    );
    onboard::revoke_key(to, "city", &created.id).await.unwrap();
    assert!(
        onboard::revoke_key(to, "city", &created.id).await.is_err(),
        "a revoked key cannot be revoked again"
    );
}

fn no_service() -> appeal_triage::operator_client::RemoteArgs {
    appeal_triage::operator_client::RemoteArgs {
        service_url: "http://127.0.0.1:1".into(),
        operator_key_file: None,
    }
}

/// With the embedded data directory held by a running service, `tenants put`
/// and `keys create` go through its operator API (no downtime to onboard);
/// without the operator key they say what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_onboards_through_the_operator_api_when_the_directory_is_held() {
    use appeal_triage::onboard::{self, Target};
    use appeal_triage::operator_client::RemoteArgs;
    use appeal_triage::record::{Jurisdiction, Tenant};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("operator.key");
    std::fs::write(&file, "op-secret-0123456789abcdef0123456789abcdef").unwrap();
    let s = start_with(
        HttpConfig {
            operator_key_file: Some(file.clone()),
            ..HttpConfig::default()
        },
        |_| {},
    )
    .await;
    // The directory the CLI would open is held, as `serve` holds it.
    let data = tempfile::tempdir().unwrap();
    let _held = appeal_triage::datadir::DataDir::open(data.path()).unwrap();
    let mut cfg = cli_model_config();
    cfg.data_dir = data.path().to_path_buf();
    let to = Target {
        model: &cfg,
        database_url: None,
    };
    let remote = RemoteArgs {
        service_url: s.base.clone(),
        operator_key_file: Some(file),
    };
    let hromada = Tenant {
        id: "hromada".into(),
        name: "Hromada".into(),
        jurisdiction: Jurisdiction::Ua,
        alpha: 0.1,
        auto_threshold: 0.9,
    };
    let refused = onboard::put_tenant(to, &no_service(), &hromada)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("--operator-key-file"), "{refused}");
    onboard::put_tenant(to, &remote, &hromada).await.unwrap();
    assert_eq!(
        s.state
            .record
            .tenant("hromada")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Hromada"
    );
    let key = onboard::create_key(to, &remote, "hromada", KeyRole::Admin, Some("first"))
        .await
        .unwrap();
    let (st, v) = s.get(&key.secret, "/v1/keys").await;
    assert_eq!(st, 200, "the printed key works on the service: {v}");
    s.stop().await;
}

fn cli_model_config() -> appeal_triage::config::ModelConfig {
    use clap::Parser;
    #[derive(Parser)]
    struct F {
        #[command(flatten)]
        m: appeal_triage::config::ModelConfig,
    }
    triage_tests::parse_flags::<F, _, _>(["t"]).m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_key_answers_429_with_retry_after() {
    let config = HttpConfig {
        rate_limit_per_sec: 0.5,
        rate_limit_burst: 3,
        ..HttpConfig::default()
    };
    let s = start_with(config, |_| {}).await;
    s.tenant("city", DEPARTMENTS).await;
    let a = s.key("city", KeyRole::Portal).await;
    let b = s.key("city", KeyRole::Portal).await;
    for _ in 0..3 {
        assert_eq!(s.get(&a, "/v1/departments").await.0, 200);
    }
    let r = s
        .client
        .get(s.url("/v1/departments"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let (_, v) = status_json(r).await;
    assert_eq!(error_code(&v), "rate_limited");
    assert_eq!(
        s.get(&b, "/v1/departments").await.0,
        200,
        "another key has its own bucket"
    );
    s.stop().await;
}

/// Every endpoint, called with tenant B's keys on tenant A's objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_tenant_a_never_reads_or_affects_tenant_b() {
    let s = start().await;
    s.tenant("a", DEPARTMENTS).await;
    s.tenant("b", DEPARTMENTS).await;
    let a_portal = s.key("a", KeyRole::Portal).await;
    let a_admin = s.key("a", KeyRole::Admin).await;
    let b_portal = s.key("b", KeyRole::Portal).await;
    let b_sup = s.key("b", KeyRole::Supervisor).await;
    let b_admin = s.key("b", KeyRole::Admin).await;
    let a_key_id = a_portal[4..20].to_string();

    let sub = s
        .post(
            &a_portal,
            "/v1/appeals",
            &json!({ "text": "water pipe burst in the basement", "external_id": "ext-1" }),
        )
        .await
        .1;
    let id = sub["appeal_id"].as_i64().unwrap();
    let (_, before) = s.get(&a_admin, &format!("/v1/appeals/{id}")).await;

    // Reads: 404 (not 403: B cannot even learn the id exists), or empty.
    for path in [
        format!("/v1/appeals/{id}"),
        format!("/v1/appeals/{id}/history"),
        "/v1/tenants/a".to_string(),
    ] {
        let (st, v) = s.get(&b_admin, &path).await;
        assert_eq!(st, 404, "{path}: {v}");
    }
    let (_, list) = s.get(&b_sup, "/v1/appeals").await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    let (_, q) = s.get(&b_sup, "/v1/review/queue").await;
    assert!(q["items"].as_array().unwrap().is_empty());
    let (_, keys) = s.get(&b_admin, "/v1/keys").await;
    assert!(!keys.to_string().contains(&a_key_id));

    // Writes on A's objects: 404, nothing changes.
    let attempts: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            format!("/v1/appeals/{id}/decision"),
            json!({ "department": "roads" }),
        ),
        (
            "POST",
            format!("/v1/appeals/{id}/reroute"),
            json!({ "reason": "not ours" }),
        ),
        (
            "PUT",
            "/v1/tenants/a".into(),
            json!({ "name": "x", "jurisdiction": "ua", "alpha": 0.2, "auto_threshold": 0.1 }),
        ),
        ("DELETE", format!("/v1/keys/{a_key_id}"), Value::Null),
    ];
    for (method, path, body) in attempts {
        let (st, v) = match method {
            "POST" => s.post(&b_admin, &path, &body).await,
            "PUT" => s.put(&b_admin, &path, &body).await,
            _ => s.delete(&b_admin, &path).await,
        };
        assert_eq!(st, 404, "{method} {path}: {v}");
    }
    // Departments and submissions of B land in B only; the same external id is B's own.
    let (st, _) = s
        .put(
            &b_admin,
            "/v1/departments/roads",
            &json!({ "names": { "en": "B roads" } }),
        )
        .await;
    assert_eq!(st, 200);
    let (_, a_deps) = s.get(&a_portal, "/v1/departments/roads").await;
    assert_eq!(a_deps["names"]["en"], "Department roads");
    let (st, v) = s.delete(&b_admin, "/v1/departments/water").await;
    assert_eq!(st, 204, "{v}");
    let (_, a_water) = s.get(&a_portal, "/v1/departments/water").await;
    assert_eq!(a_water["active"], true);
    let (st, b_sub) = s
        .post(
            &b_portal,
            "/v1/appeals",
            &json!({ "text": "another text", "external_id": "ext-1" }),
        )
        .await;
    assert_eq!(st, 201, "{b_sub}");
    assert_ne!(b_sub["appeal_id"], id);
    let (st, v) = s
        .post(
            &b_portal,
            "/v1/appeals:batch",
            &json!({ "appeals": [{ "text": "x y", "external_id": "ext-1" }] }),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["items"][0]["result"]["appeal_id"], b_sub["appeal_id"]);
    // Import of B goes to B.
    let r = s
        .client
        .post(s.url("/v1/import"))
        .bearer_auth(&b_admin)
        .body("id,created_at,text,district,department\nh1,2024-01-01,pothole on the road,North,roads\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Open311 with B's key: A's request is invisible.
    for path in [
        format!("/open311/v2/requests/{id}.json?api_key={b_portal}"),
        format!("/open311/v2/tokens/{id}.json?api_key={b_portal}"),
    ] {
        let r = s.client.get(s.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = s
        .client
        .get(s.url(&format!(
            "/open311/v2/requests.json?api_key={b_portal}&service_request_id={id}"
        )))
        .send()
        .await
        .unwrap();
    let (_, v) = status_json(r).await;
    assert_eq!(v, json!([]));

    let (_, v) = status_json(
        s.client
            .get(s.url(&format!("/open311/v2/requests.json?api_key={b_portal}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|r| r["service_request_id"] != id.to_string().as_str()),
        "A's request is not in B's Open311 list: {v}"
    );
    // Evidence never comes from another tenant: A's preview of B's imported
    // text cites only A's cases, B's preview only B's.
    let b_case = s
        .state
        .record
        .appeal_by_external("b", "h1")
        .await
        .unwrap()
        .unwrap()
        .id;
    for (key, own, other) in [(&a_portal, id, b_case), (&b_portal, b_case, id)] {
        let (st, p) = s
            .post(
                key,
                "/v1/appeals:preview",
                &json!({ "text": "pothole on the road" }),
            )
            .await;
        assert_eq!(st, 200, "{p}");
        let cited: Vec<i64> = p["decision"]["evidence"]["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("no evidence cases in {p}"))
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert!(!cited.contains(&other), "another tenant's case cited: {p}");
        if key == &b_portal {
            assert!(cited.contains(&own), "B's own identical case is cited: {p}");
        }
    }

    // A's appeal, tenant and keys are exactly as before.
    let (_, after) = s.get(&a_admin, &format!("/v1/appeals/{id}")).await;
    assert_eq!(before, after);
    let (_, t) = s.get(&a_admin, "/v1/tenants/a").await;
    assert_eq!(t["name"], "City a");
    assert_eq!(
        s.get(&a_portal, "/v1/departments").await.0,
        200,
        "A's key still works"
    );
    assert_eq!(s.state.record.count_appeals("a").await.unwrap(), 1);
    s.stop().await;
}

/// Least privilege for portal keys: a portal reads the text, history and
/// place of what it submitted itself, never imported history or another
/// portal's appeals (JSON API: 404; Open311: status and service fields
/// only); a supervisor reads everything; Open311's filters are part of the
/// query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_keys_read_only_their_own_appeals() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let admin = s.key("city", KeyRole::Admin).await;
    let portal_a = s.key("city", KeyRole::Portal).await;
    let portal_b = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    let csv = "id,created_at,text,district,department\n\
               h1,2024-01-02T10:00:00Z,\"secret history: pothole near flat 12\",North,roads\n";
    let r = s
        .client
        .post(s.url("/v1/import?format=csv"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let imported = s
        .state
        .record
        .appeal_by_external("city", "h1")
        .await
        .unwrap()
        .unwrap()
        .id;
    let mine = s
        .submit(&portal_a, "burst water pipe on my street", "North")
        .await["appeal_id"]
        .as_i64()
        .unwrap();
    let theirs = s
        .submit(&portal_b, "broken lamp by the school", "North")
        .await["appeal_id"]
        .as_i64()
        .unwrap();

    // Past cases cited as evidence are shown to a portal without their text.
    let (st, v) = s
        .post(
            &portal_a,
            "/v1/appeals:preview",
            &json!({ "text": "pothole near flat 12", "place": { "district": "North" } }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let cases = v["decision"]["evidence"]["cases"].as_array().unwrap();
    assert!(!cases.is_empty(), "{v}");
    assert!(cases.iter().all(|c| c["snippet"] == ""), "{v}");
    assert!(!v.to_string().contains("secret history"), "{v}");
    let (_, v) = s.get(&sup, &format!("/v1/appeals/{mine}")).await;
    let (_, own) = s.get(&portal_a, &format!("/v1/appeals/{mine}")).await;
    assert!(
        v["suggestion"]["evidence"]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["snippet"] != ""),
        "a supervisor sees the cases' text: {v}"
    );
    assert!(
        own["suggestion"]["evidence"]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["snippet"] == ""),
        "{own}"
    );

    // JSON API: own appeal and its history readable, the others are not there.
    let (st, v) = s.get(&portal_a, &format!("/v1/appeals/{mine}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["text"], "burst water pipe on my street", "{v}");
    assert_eq!(
        s.get(&portal_a, &format!("/v1/appeals/{mine}/history"))
            .await
            .0,
        200
    );
    for id in [theirs, imported] {
        for path in [
            format!("/v1/appeals/{id}"),
            format!("/v1/appeals/{id}/history"),
        ] {
            let (st, v) = s.get(&portal_a, &path).await;
            assert_eq!(
                (st, error_code(&v).as_str()),
                (404, "not_found"),
                "{path}: {v}"
            );
        }
        let (st, v) = s.get(&sup, &format!("/v1/appeals/{id}")).await;
        assert_eq!(st, 200, "a supervisor reads every appeal: {v}");
    }

    // Open311: by id and in lists, others' requests carry no description or place.
    let o311 = |path: String| {
        let c = s.client.clone();
        let url = s.url(&path);
        async move { status_json(c.get(url).send().await.unwrap()).await }
    };
    let (st, v) = o311(format!(
        "/open311/v2/requests.json?api_key={portal_a}&service_request_id={mine},{theirs},{imported}"
    ))
    .await;
    assert_eq!(st, 200, "{v}");
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["description"], "burst water pipe on my street");
    for item in &items[1..] {
        assert!(item.get("description").is_none(), "{item}");
        assert!(item["address"].is_null() && item["lat"].is_null(), "{item}");
        assert!(item["status"].is_string(), "status stays visible: {item}");
    }
    let (st, v) = o311(format!(
        "/open311/v2/requests/{imported}.json?api_key={portal_a}"
    ))
    .await;
    assert_eq!(st, 200);
    assert!(v[0].get("description").is_none(), "{v}");
    let (_, v) = o311(format!(
        "/open311/v2/requests/{imported}.json?api_key={sup}"
    ))
    .await;
    assert_eq!(v[0]["description"], "secret history: pothole near flat 12");
    let (_, v) = o311(format!("/open311/v2/requests.json?api_key={portal_a}")).await;
    let listed = serde_json::to_string(&v).unwrap();
    assert!(!listed.contains("secret history"), "{listed}");
    assert!(!listed.contains("broken lamp"), "{listed}");
    assert!(listed.contains("burst water pipe"), "{listed}");
    assert_eq!(v.as_array().unwrap().len(), 3);

    // Filters are applied by the query: closed = history, open = the live ones.
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["service_request_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = o311(format!(
        "/open311/v2/requests.json?api_key={sup}&status=closed"
    ))
    .await;
    assert_eq!(ids(&v), vec![imported.to_string()]);
    let (_, v) = o311(format!(
        "/open311/v2/requests.json?api_key={sup}&status=open"
    ))
    .await;
    assert_eq!(ids(&v), vec![mine.to_string(), theirs.to_string()]);
    let (_, v) = o311(format!(
        "/open311/v2/requests.json?api_key={sup}&end_date=2024-06-01T00:00:00Z"
    ))
    .await;
    assert_eq!(ids(&v), vec![imported.to_string()]);
    for code in ["roads", "water"] {
        let (_, v) = o311(format!(
            "/open311/v2/requests.json?api_key={sup}&service_code={code}"
        ))
        .await;
        for item in v.as_array().unwrap() {
            assert_eq!(item["service_code"], code, "{item}");
        }
        assert_eq!(
            ids(&v).contains(&imported.to_string()),
            code == "roads",
            "{v}"
        );
    }
    let (st, v) = o311(format!(
        "/open311/v2/requests.json?api_key={sup}&status=maybe"
    ))
    .await;
    assert_eq!(st, 400, "{v}");
    let (st, _) = o311("/open311/v2/requests.json".into()).await;
    assert_eq!(st, 403, "no anonymous reads");

    // An external id is the submitter's own: another portal (or imported
    // history) using it gets a conflict, not the other appeal.
    let body = json!({ "text": "tree fell on the playground", "external_id": "shared-1" });
    let (st, first) = s.post(&portal_a, "/v1/appeals", &body).await;
    assert_eq!(st, 201, "{first}");
    let (st, v) = s.post(&portal_b, "/v1/appeals", &body).await;
    assert_eq!((st, error_code(&v).as_str()), (409, "conflict"), "{v}");
    assert!(!v.to_string().contains("tree fell"), "{v}");
    let (st, again) = s.post(&portal_a, "/v1/appeals", &body).await;
    assert_eq!(
        (st, &again["appeal_id"]),
        (200, &first["appeal_id"]),
        "{again}"
    );
    let (st, _) = s
        .post(
            &portal_b,
            "/v1/appeals",
            &json!({ "text": "pothole", "external_id": "h1" }),
        )
        .await;
    assert_eq!(st, 409, "imported history's id is not a portal's");

    s.stop().await;
}

/// The operator secret manages tenants on the running service: create one
/// with its first admin key, list, change, suspend (its keys get 403) and
/// reinstate. It is no tenant's key (it reads no appeals) and no tenant key
/// reaches its routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_onboards_and_suspends_tenants_on_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("operator.key");
    let secret = "op-secret-0123456789abcdef0123456789abcdef";
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let s = start_with(
        HttpConfig {
            operator_key_file: Some(file),
            ..HttpConfig::default()
        },
        |_| {},
    )
    .await;
    s.tenant("city", DEPARTMENTS).await;
    let city_admin = s.key("city", KeyRole::Admin).await;

    let new = json!({ "id": "oblast-7", "name": "Oblast 7", "jurisdiction": "kz" });
    // Tenant keys, a wrong secret and no key at all are refused.
    assert_eq!(s.post(&city_admin, "/v1/admin/tenants", &new).await.0, 401);
    assert_eq!(
        s.post("not-the-secret", "/v1/admin/tenants", &new).await.0,
        401
    );
    assert_eq!(s.get("", "/v1/admin/tenants").await.0, 401);

    let (st, v) = s.post(secret, "/v1/admin/tenants", &new).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["tenant"]["jurisdiction"], "kz");
    assert_eq!(v["tenant"]["suspended"], false);
    let admin = v["admin_key"]["secret"].as_str().unwrap().to_string();
    assert_eq!(v["admin_key"]["role"], "admin");
    assert_eq!(s.post(secret, "/v1/admin/tenants", &new).await.0, 409);
    let (st, v) = s
        .post(
            secret,
            "/v1/admin/tenants",
            &json!({ "id": "Bad Id", "name": "x" }),
        )
        .await;
    assert_eq!((st, error_code(&v).as_str()), (400, "invalid_input"), "{v}");

    // The new tenant's admin works at once: a department, a portal key, an appeal.
    let (st, _) = s
        .put(
            &admin,
            "/v1/departments/roads",
            &json!({ "names": { "kk": "Жолдар" }, "description": "жолдар, шұңқырлар" }),
        )
        .await;
    assert_eq!(st, 200);
    let (st, v) = s
        .post(&admin, "/v1/keys", &json!({ "role": "portal" }))
        .await;
    assert_eq!(st, 201, "{v}");
    let portal = v["secret"].as_str().unwrap().to_string();
    let a = s.submit(&portal, "жолда үлкен шұңқыр бар", "Almaty").await;
    let id = a["appeal_id"].as_i64().unwrap();

    // The operator reads no appeals, of any tenant.
    for path in [
        format!("/v1/appeals/{id}"),
        "/v1/appeals".into(),
        "/v1/review/queue".into(),
    ] {
        assert_eq!(s.get(secret, &path).await.0, 401, "{path}");
    }

    let (_, all) = s.get(secret, "/v1/admin/tenants").await;
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["city", "oblast-7"]);

    // Suspend: every key of the tenant gets 403; other tenants are untouched.
    let (st, v) = s
        .put(
            secret,
            "/v1/admin/tenants/oblast-7",
            &json!({ "suspended": true }),
        )
        .await;
    assert_eq!((st, v["suspended"].as_bool()), (200, Some(true)), "{v}");
    for key in [&admin, &portal] {
        let (st, v) = s.get(key, "/v1/departments").await;
        assert_eq!(
            (st, error_code(&v).as_str()),
            (403, "tenant_suspended"),
            "{v}"
        );
    }
    assert_eq!(s.get(&city_admin, "/v1/keys").await.0, 200);
    // Reinstate, and change a setting on the way.
    let (st, v) = s
        .put(
            secret,
            "/v1/admin/tenants/oblast-7",
            &json!({ "suspended": false, "auto_threshold": 0.97 }),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["auto_threshold"], 0.97);
    assert_eq!(s.get(&portal, &format!("/v1/appeals/{id}")).await.0, 200);
    // A key for an existing tenant; none for a missing one.
    let (st, v) = s
        .post(
            secret,
            "/v1/admin/tenants/oblast-7/keys",
            &json!({ "role": "supervisor" }),
        )
        .await;
    assert_eq!((st, v["role"].as_str()), (201, Some("supervisor")), "{v}");
    let (st, _) = s
        .post(
            secret,
            "/v1/admin/tenants/nowhere/keys",
            &json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(st, 404);
    s.stop().await;

    // Without an operator key file the routes answer 403.
    let s = start().await;
    assert_eq!(s.get(secret, "/v1/admin/tenants").await.0, 403);
    s.stop().await;
}
