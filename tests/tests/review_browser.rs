//! The supervisor review page in a real headless Chromium, driven over
//! WebDriver (Debian's `chromium` + `chromium-driver`, installed by `.ci/run`):
//! log in with a key, accept one appeal with the keyboard, override one with
//! the searchable picker, see the queue shrink and the decision in the history.

mod http_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use appeal_triage::record::KeyRole;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use http_support::*;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find_binary(names: &[&str]) -> String {
    for n in names {
        for dir in ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"] {
            let p = format!("{dir}/{n}");
            if std::path::Path::new(&p).is_file() {
                return p;
            }
        }
    }
    panic!(
        "none of {names:?} is installed: install Debian's chromium and chromium-driver \
         (`.ci/run` does this); the browser test is part of CI and is never skipped"
    );
}

async fn browser() -> (Driver, Client) {
    let driver_bin = find_binary(&["chromedriver"]);
    let chromium = find_binary(&["chromium", "chromium-browser"]);
    let port = free_port();
    let child = Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    }
}

/// Polls `f` until it returns `Some`, for at most 15 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ids in the rendered queue, read in one script call (the list re-renders, so
/// element handles would go stale between calls).
async fn queue_ids(c: &Client) -> Vec<i64> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('#queue li')].map(l => Number(l.dataset.id));",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

async fn text_of(c: &Client, css: &str) -> String {
    let v = c
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_logs_in_accepts_overrides_and_sees_history() {
    let s = start().await;
    s.tenant("city", DEPARTMENTS).await;
    let portal = s.key("city", KeyRole::Portal).await;
    let sup = s.key("city", KeyRole::Supervisor).await;
    let mut submitted = Vec::new();
    for (text, district) in [
        ("Прорив труби у підвалі, немає води", "North"),
        ("Яма на дорозі біля школи, асфальт зруйновано", "North"),
        ("Переповнені контейнери для сміття у дворі", "South"),
    ] {
        let v = s.submit(&portal, text, district).await;
        assert_eq!(v["status"], "needs_review", "{v}");
        submitted.push(v["appeal_id"].as_i64().unwrap());
    }

    let (_driver, c) = browser().await;
    c.goto(&s.url("/review")).await.unwrap();
    // Ukrainian by default; English on request.
    assert_eq!(text_of(&c, "h1").await, "Розподіл звернень");
    c.find(Locator::Id("lang-en"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, "Appeal routing");

    // A wrong key is refused; the right one opens the queue.
    c.find(Locator::Id("key-input"))
        .await
        .unwrap()
        .send_keys("atk_0000000000000000_x")
        .await
        .unwrap();
    c.find(Locator::Id("login-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the login error", || async {
        let t = text_of(&c, "#login-error").await;
        (!t.is_empty()).then_some(())
    })
    .await;
    let input = c.find(Locator::Id("key-input")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(&sup).await.unwrap();
    c.find(Locator::Id("login-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let ids = eventually("three appeals in the queue", || async {
        let ids = queue_ids(&c).await;
        (ids.len() == 3).then_some(ids)
    })
    .await;
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, submitted);
    assert_eq!(text_of(&c, "#queue-count").await, "3");
    assert!(text_of(&c, "#cur-text").await.len() > 10);
    assert!(text_of(&c, "#cur-confidence").await.ends_with('%'));

    // Accept the selected (first) appeal with the keyboard: `a`.
    let first = ids[0];
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: 'a' })
        .then(KeyAction::Up { value: 'a' });
    c.perform_actions(keys).await.unwrap();
    eventually("the queue to shrink to two", || async {
        (queue_ids(&c).await.len() == 2).then_some(())
    })
    .await;
    assert!(!queue_ids(&c).await.contains(&first));
    eventually("the accept in the history panel", || async {
        let t = text_of(&c, "#history").await;
        (t.contains("appeal.accept") && text_of(&c, "#history-id").await == first.to_string())
            .then_some(())
    })
    .await;

    // Override the next one with the searchable picker.
    let second = queue_ids(&c).await[0];
    c.find(Locator::Id("dept-search"))
        .await
        .unwrap()
        .send_keys("waste")
        .await
        .unwrap();
    let options = c
        .find_all(Locator::Css("#dept-select option"))
        .await
        .unwrap();
    assert_eq!(
        options.len(),
        1,
        "the search narrows the picker to one department"
    );
    options[0].click().await.unwrap();
    c.find(Locator::Id("comment"))
        .await
        .unwrap()
        .send_keys("checked on site")
        .await
        .unwrap();
    c.find(Locator::Id("override-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the queue to shrink to one", || async {
        (queue_ids(&c).await.len() == 1).then_some(())
    })
    .await;
    eventually("the decision in the history panel", || async {
        let t = text_of(&c, "#history").await;
        let decided = t.contains("appeal.override") || t.contains("appeal.accept");
        (decided && t.contains("waste") && text_of(&c, "#history-id").await == second.to_string())
            .then_some(())
    })
    .await;
    c.close().await.unwrap();

    // The record agrees: who decided what, with the comment.
    let (_, h) = s.get(&sup, &format!("/v1/appeals/{second}")).await;
    assert_eq!(h["status"], "decided");
    assert_eq!(h["department"], "waste");
    assert_eq!(h["decisions"][0]["reason"], "checked on site");
    assert_eq!(
        h["decisions"][0]["actor"].as_str().unwrap(),
        format!("key:{}", &sup[4..20])
    );
    let (_, a) = s.get(&sup, &format!("/v1/appeals/{first}")).await;
    assert_eq!(a["decisions"][0]["kind"], "accept");
    s.stop().await;
}
