//! The supervisor review page in a real headless Chromium, driven over
//! WebDriver (Debian's `chromium` + `chromium-driver`, installed by `.ci/run`):
//! the page in the browser's language (Kazakh here) and switchable, log in
//! with a key, see what a decision needs (department names once, the
//! prediction set with probabilities, the deadline with time left, urgency,
//! category, similar cases), accept one appeal with the keyboard, override one
//! with the searchable picker, reroute one, bulk-accept the rest, and see
//! each decision in the history and the record.

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
                     "--window-size=1280,900", "--lang=kk-KZ"],
            "prefs": { "intl.accept_languages": "kk-KZ,kk" },
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

/// Elements that show their translation key instead of a text.
async fn raw_keys(c: &Client) -> serde_json::Value {
    c.execute(
        "return [...document.querySelectorAll('[data-i18n]')]\
           .filter(e => e.textContent === e.dataset.i18n && T.en[e.dataset.i18n] !== e.dataset.i18n)\
           .map(e => e.dataset.i18n);",
        vec![],
    )
    .await
    .unwrap()
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
    for (text, district, category) in [
        ("Прорив труби у підвалі, немає води", "North", None),
        (
            "Яма на дорозі біля школи, асфальт зруйновано",
            "North",
            Some("Дороги"),
        ),
        ("Переповнені контейнери для сміття у дворі", "South", None),
        ("Не працює вуличне освітлення на розі вулиць", "South", None),
    ] {
        let mut body = serde_json::json!({ "text": text, "place": { "district": district } });
        if let Some(c) = category {
            body["category"] = serde_json::json!([c]);
        }
        let (st, v) = s.post(&portal, "/v1/appeals", &body).await;
        assert_eq!(
            (st, v["status"].as_str()),
            (201, Some("needs_review")),
            "{v}"
        );
        submitted.push(v["appeal_id"].as_i64().unwrap());
    }

    let (_driver, c) = browser().await;
    c.goto(&s.url("/review")).await.unwrap();
    // The browser's language (Kazakh) first; every language on request.
    assert_eq!(text_of(&c, "h1").await, "Өтініштерді бөлу");
    assert_eq!(text_of(&c, "#login-btn").await, "Кіру");
    // Every language has every string, and each page is kept as a screenshot
    // (target/review-screens/<page>-<lang>.png) to look at when something fails.
    let missing = c
        .execute(
            "return Object.fromEntries(Object.keys(T).map(l => \
               [l, Object.keys(T.en).filter(k => !T[l][k])]));",
            vec![],
        )
        .await
        .unwrap();
    for lang in ["uk", "ru", "kk", "en"] {
        assert_eq!(
            missing[lang],
            serde_json::json!([]),
            "untranslated in {lang}"
        );
    }
    let screens = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/review-screens");
    std::fs::create_dir_all(&screens).unwrap();
    for (lang, title) in [
        ("ru", "Распределение обращений"),
        ("uk", "Розподіл звернень"),
        ("kk", "Өтініштерді бөлу"),
    ] {
        c.find(Locator::Id(&format!("lang-{lang}")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(screens.join(format!("login-{lang}.png")), png).unwrap();
        assert_eq!(text_of(&c, "h1").await, title);
        assert_eq!(
            raw_keys(&c).await,
            serde_json::json!([]),
            "raw keys on the {lang} page"
        );
    }
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
    let ids = eventually("four appeals in the queue", || async {
        let ids = queue_ids(&c).await;
        (ids.len() == 4).then_some(ids)
    })
    .await;
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, submitted);
    for lang in ["uk", "ru", "kk", "en"] {
        c.find(Locator::Id(&format!("lang-{lang}")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(screens.join(format!("queue-{lang}.png")), png).unwrap();
        assert_eq!(
            raw_keys(&c).await,
            serde_json::json!([]),
            "raw keys on the {lang} queue"
        );
    }
    assert_eq!(text_of(&c, "#queue-count").await, "4");
    assert!(text_of(&c, "#cur-text").await.len() > 10);
    assert!(text_of(&c, "#cur-confidence").await.ends_with('%'));

    // What a decision needs, for the selected appeal: the department's name
    // once, the prediction set with probabilities, the deadline and the time
    // left, urgency, place.
    let dept = text_of(&c, "#cur-dept").await;
    assert!(
        DEPARTMENTS
            .iter()
            .any(|(code, _)| dept == format!("Department {code}")),
        "the department shows as its name, once: {dept:?}"
    );
    let set = c
        .execute(
            "return [...document.querySelectorAll('#cur-set li')].map(l => l.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let set: Vec<String> = serde_json::from_value(set).unwrap();
    assert!(!set.is_empty(), "a prediction set is shown");
    assert!(
        set.iter().all(|l| l.contains(" — ") && l.ends_with('%')),
        "{set:?}"
    );
    assert!(text_of(&c, "#cur-deadline").await.starts_with("20"));
    assert!(text_of(&c, "#cur-left").await.contains("days left"));
    let urgency = text_of(&c, "#cur-urgency").await;
    assert!(
        ["normal", "high", "critical"].contains(&urgency.as_str()),
        "{urgency:?}"
    );
    assert!(!text_of(&c, "#cur-place").await.is_empty());
    // The appeal with a category shows it.
    let with_category = submitted[1];
    let at = ids.iter().position(|&i| i == with_category).unwrap();
    c.execute(
        &format!("document.querySelectorAll('#queue li')[{at}].click();"),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(text_of(&c, "#cur-category").await, "Дороги");
    c.execute("document.querySelectorAll('#queue li')[0].click();", vec![])
        .await
        .unwrap();

    // Accept the selected (first) appeal with the keyboard: `a`.
    let first = ids[0];
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: 'a' })
        .then(KeyAction::Up { value: 'a' });
    c.perform_actions(keys).await.unwrap();
    eventually("the queue to shrink to three", || async {
        (queue_ids(&c).await.len() == 3).then_some(())
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
    eventually("the queue to shrink to two", || async {
        (queue_ids(&c).await.len() == 2).then_some(())
    })
    .await;
    eventually("the decision in the history panel", || async {
        let t = text_of(&c, "#history").await;
        let decided = t.contains("appeal.override") || t.contains("appeal.accept");
        (decided
            && t.contains("Department waste")
            && text_of(&c, "#history-id").await == second.to_string())
        .then_some(())
    })
    .await;

    // Reroute the next one with `r`, a reason and Enter: it stays in the
    // queue, marked as sent back.
    let third = queue_ids(&c).await[0];
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: 'r' })
        .then(KeyAction::Up { value: 'r' });
    c.perform_actions(keys).await.unwrap();
    c.find(Locator::Id("reroute-reason"))
        .await
        .unwrap()
        .send_keys("not our street\u{E007}")
        .await
        .unwrap();
    eventually("the reroute in the history panel", || async {
        let t = text_of(&c, "#history").await;
        (t.contains("appeal.reroute") && text_of(&c, "#history-id").await == third.to_string())
            .then_some(())
    })
    .await;
    let rerouted = c
        .execute(
            "return [...document.querySelectorAll('#queue li.rerouted')].map(l => Number(l.dataset.id));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(rerouted, serde_json::json!([third]));

    // Bulk accept: select every appeal with a suggestion at or above 0%,
    // accept them in one go.
    let min = c.find(Locator::Id("min-confidence")).await.unwrap();
    min.clear().await.unwrap();
    min.send_keys("0").await.unwrap();
    c.find(Locator::Id("select-confident-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#selected-count").await, "2");
    c.find(Locator::Id("accept-selected-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the queue to empty", || async {
        queue_ids(&c).await.is_empty().then_some(())
    })
    .await;
    let errors = c
        .execute("return window.triageErrors;", vec![])
        .await
        .unwrap();
    assert_eq!(errors, serde_json::json!([]), "script errors on the page");
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
    let (_, r) = s.get(&sup, &format!("/v1/appeals/{third}")).await;
    let kinds: Vec<&str> = r["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reroute", "accept"], "{r}");
    assert_eq!(r["decisions"][0]["reason"], "not our street");
    s.stop().await;
}
