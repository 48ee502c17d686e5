//! Shared by the HTTP tests: a real server on 127.0.0.1:0 over the tiny model
//! and a fresh data directory, tenants and keys, and a reqwest client.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use appeal_triage::engine::EngineConfig;
use appeal_triage::http::{self, AppState, HttpConfig};
use appeal_triage::memory::batcher::Batcher;
use appeal_triage::record::{Department, Jurisdiction, KeyRole, Tenant};
use serde_json::{json, Value};

/// A running service.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The state the server runs with (record, engine, metrics).
    pub state: AppState,
    /// The client to call it with.
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

/// Starts a server with the default HTTP configuration.
pub async fn start() -> Server {
    start_with(HttpConfig::default(), |_| {}).await
}

/// Starts a server with `config` (the listen address is ignored: port 0).
pub async fn start_with(config: HttpConfig, adjust: impl FnOnce(&mut EngineConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let engine = triage_tests::tiny_engine_with(dir.path(), adjust).await;
    let batcher = Batcher::start(engine.memory().embedder().clone(), config.batcher()).unwrap();
    engine.memory().use_batcher(batcher.clone());
    let state = AppState::new(engine, config, Some(batcher), dir.path().join("spool")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = http::app(state.clone());
    let task = tokio::spawn(http::serve(
        listener,
        app,
        async move {
            let _ = rx.await;
        },
        Duration::from_secs(30),
    ));
    Server {
        base,
        state,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        task: Some(task),
        _dir: Some(dir),
    }
}

impl Server {
    /// Full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates a tenant with departments `codes` (names in uk and en).
    pub async fn tenant(&self, id: &str, codes: &[(&str, &str)]) {
        let record = &self.state.record;
        record
            .upsert_tenant(&Tenant {
                id: id.into(),
                name: format!("City {id}"),
                jurisdiction: Jurisdiction::Ua,
                alpha: 0.1,
                auto_threshold: 0.99,
            })
            .await
            .unwrap();
        for (code, description) in codes {
            let mut names = BTreeMap::new();
            names.insert("uk".to_string(), format!("Відділ {code}"));
            names.insert("en".to_string(), format!("Department {code}"));
            record
                .upsert_department(&Department {
                    tenant_id: id.into(),
                    code: code.to_string(),
                    names,
                    description: description.to_string(),
                    areas: vec![],
                    auto_threshold: None,
                    active: true,
                })
                .await
                .unwrap();
        }
    }

    /// A new key of `tenant` with `role`.
    pub async fn key(&self, tenant: &str, role: KeyRole) -> String {
        self.state
            .record
            .create_api_key(tenant, role, Some("test"), "test")
            .await
            .unwrap()
            .1
    }

    /// GET with a key; returns status and JSON (Null when the body is not JSON).
    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    /// POST JSON with a key.
    pub async fn post(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    /// PUT JSON with a key.
    pub async fn put(&self, key: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .put(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    /// DELETE with a key.
    pub async fn delete(&self, key: &str, path: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    /// Submits an appeal; panics unless it is stored.
    pub async fn submit(&self, key: &str, text: &str, district: &str) -> Value {
        let (s, v) = self
            .post(
                key,
                "/v1/appeals",
                &json!({ "text": text, "place": { "district": district } }),
            )
            .await;
        assert!(s == 201 || s == 200, "submit: {s} {v}");
        v
    }

    /// Stops accepting, waits for in-flight requests, returns when stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Signals shutdown without waiting; returns the server task.
    pub fn signal_stop(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap()
    }
}

/// Status and JSON body of a response.
pub async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts the error body shape and returns its code.
pub fn error_code(v: &Value) -> String {
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"));
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no error message in {v}"
    );
    code.to_string()
}

/// Departments and history texts the tests route between.
pub const DEPARTMENTS: &[(&str, &str)] = &[
    ("roads", "Ремонт доріг, ями на дорогах, асфальт, тротуари"),
    (
        "water",
        "Водопостачання, каналізація, прорив труби, немає води",
    ),
    ("waste", "Вивіз сміття, контейнери, звалища"),
];
