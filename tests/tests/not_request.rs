//! Not every message is a request: thanks learned from the categories a
//! tenant marks, and campaign repeats where the operator asks for it, on the
//! tiny real model over a real embedded case memory.

use appeal_triage::engine::{Engine, NewAppeal};
use appeal_triage::record::{AppealData, AppealStatus, Category, Jurisdiction, Tenant};
use triage_domain::{NotRequestReason, Outcome};
use triage_tests::tiny_engine_with;

const TENANT: &str = "kyiv";

async fn tenant(engine: &Engine) {
    engine
        .memory()
        .record()
        .upsert_tenant(&Tenant {
            id: TENANT.into(),
            name: TENANT.into(),
            jurisdiction: Jurisdiction::Ua,
            alpha: 0.1,
            auto_threshold: 0.9,
        })
        .await
        .unwrap();
}

const WHO: [&str; 4] = [
    "двірнику",
    "майстрам ЖЕКу",
    "сантехніку",
    "бригаді електриків",
];
const FOR: [&str; 4] = [
    "чисте подвір'я",
    "швидкий ремонт",
    "гарну роботу",
    "прибирання снігу",
];
const PROBLEMS: [(&str, &str); 6] = [
    ("яма на дорозі біля будинку", "roads"),
    ("розбитий асфальт на тротуарі", "roads"),
    ("немає гарячої води в квартирі", "water"),
    ("прорвало трубу в підвалі", "water"),
    ("не працює ліфт у під'їзді", "lifts"),
    ("зупинився пасажирський ліфт", "lifts"),
];

fn thanks(i: usize) -> String {
    let opening = ["Дякую", "Щиро дякуємо", "Велика подяка"][i % 3];
    format!("{opening} {} за {}", WHO[i % 4], FOR[(i / 4) % 4])
}

/// 480 confirmed cases, every fourth a thanks filed under "Подяки" (to the
/// housing office it thanks), the rest requests under their own category.
async fn history(engine: &Engine) {
    for i in 0..480usize {
        let (text, department, category) = if i % 4 == 0 {
            (thanks(i / 4), "zhek", "Подяки")
        } else {
            let (p, d) = PROBLEMS[i % PROBLEMS.len()];
            (format!("{p} номер {}", i % 17), d, d)
        };
        let data = AppealData {
            tenant_id: TENANT.into(),
            external_id: Some(format!("h{i}")),
            redacted_text: text.clone(),
            text,
            language: None,
            place: Default::default(),
            channel: None,
            applicant_category: None,
            category: vec![category.to_string()],
            received_at: 1_600_000_000_000 + i as i64 * 3_600_000,
            status: AppealStatus::Imported,
            department: Some(department.into()),
            submitted_by: None,
        };
        engine
            .memory()
            .record()
            .insert_appeal(&data, "test")
            .await
            .unwrap();
    }
    engine.memory().drain_outbox().await.unwrap();
    engine.invalidate(TENANT);
}

async fn mark_thanks(engine: &Engine) {
    engine
        .memory()
        .record()
        .upsert_category(&Category {
            tenant_id: TENANT.into(),
            code: "thanks".into(),
            path: vec!["Подяки".into()],
            names: Default::default(),
            active: true,
            not_request: true,
        })
        .await
        .unwrap();
    engine.categories_changed(TENANT).await.unwrap();
}

fn appeal(text: &str, category: &[&str]) -> NewAppeal {
    NewAppeal {
        text: text.into(),
        category: category.iter().map(|c| c.to_string()).collect(),
        received_at: Some(1_600_000_000_000 + 500 * 3_600_000),
        ..NewAppeal::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thanks_are_learned_from_the_categories_a_tenant_marks() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine_with(dir.path(), |_| {}).await;
    tenant(&engine).await;
    history(&engine).await;

    // Nothing marked: no detector, and a thanks is routed like any appeal.
    let model = engine.refit(TENANT).await.unwrap();
    assert!(model.not_request.is_none());
    let text = "Щиро дякую двірнику за чисте подвір'я";
    let before = engine.preview(TENANT, &appeal(text, &[])).await.unwrap();
    assert_ne!(before.decision, Outcome::NotARequest);

    // Marked: a thanks without a category is found by its text...
    mark_thanks(&engine).await;
    let model = engine.refit(TENANT).await.unwrap();
    let detector = model.not_request.as_deref().expect("a detector");
    assert!(detector.precision >= 0.9, "{detector:?}");
    let s = engine
        .submit(TENANT, appeal(text, &[]), "key:portal")
        .await
        .unwrap();
    assert_eq!(
        s.decision.decision,
        Outcome::NotARequest,
        "{:?}",
        s.decision
    );
    let found = s.decision.not_a_request.as_ref().unwrap();
    assert_eq!(found.reason, NotRequestReason::Text);
    assert!(found.probability.unwrap() >= detector.threshold);
    // ...stored as such, sent to no department, yet saying whom it concerns.
    assert_eq!(s.status, AppealStatus::NotARequest);
    assert_eq!(s.decision.department.as_deref(), Some("zhek"));
    let stored = engine.appeal(TENANT, s.appeal_id).await.unwrap().unwrap();
    assert_eq!(stored.appeal.data.status, AppealStatus::NotARequest);
    assert_eq!(stored.appeal.data.department, None);

    // Requests like the tenant's past requests stay requests (the tiny
    // model knows words, not meanings: its requests look like history's).
    for (p, _) in PROBLEMS {
        let p = &format!("{p} номер 20");
        let d = engine.preview(TENANT, &appeal(p, &[])).await.unwrap();
        assert_ne!(
            d.decision,
            Outcome::NotARequest,
            "{p}: {:?}",
            d.not_a_request
        );
    }
    // A supervisor may still route it: it becomes a decided case.
    let v = engine
        .decide(TENANT, s.appeal_id, "zhek", None, "key:supervisor")
        .await
        .unwrap();
    assert_eq!(v.appeal.data.status, AppealStatus::Decided);

    // The stored model keeps the detector across a restart.
    drop(engine);
    let engine = tiny_engine_with(dir.path(), |_| {}).await;
    let state = engine.state(TENANT).await.unwrap();
    assert!(state.model().not_request.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_repeats_are_not_requests_only_where_configured() {
    let long = "Прошу вжити заходів: ПАТ Київенерго самовільно не виконує розпорядження КМДА \
                про відновлення гарячого водопостачання у нашому будинку вже третій тиждень";
    assert!(long.chars().count() >= 100);
    for on in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let engine = tiny_engine_with(dir.path(), |c| {
            c.routing.campaign_not_request = on;
            c.routing.campaign_min = 3;
        })
        .await;
        tenant(&engine).await;
        history(&engine).await;
        let mut outcomes = Vec::new();
        for i in 0..4 {
            let s = engine
                .submit(TENANT, appeal(long, &["water"]), &format!("key:p{i}"))
                .await
                .unwrap();
            outcomes.push((s.decision.decision, s.decision.campaign.is_some()));
        }
        // The third copy makes a campaign either way: it is linked.
        assert!(outcomes[2].1 && outcomes[3].1, "{outcomes:?}");
        assert!(!outcomes[0].1, "{outcomes:?}");
        let not_requests = outcomes
            .iter()
            .filter(|(o, _)| *o == Outcome::NotARequest)
            .count();
        assert_eq!(
            not_requests,
            if on { 2 } else { 0 },
            "on={on}: {outcomes:?}"
        );
        // A short stock phrase repeated is many people with one problem.
        if on {
            let mut last = None;
            for i in 0..4 {
                let s = engine
                    .submit(
                        TENANT,
                        appeal("Немає гарячої води", &["water"]),
                        &format!("key:q{i}"),
                    )
                    .await
                    .unwrap();
                last = Some(s.decision);
            }
            let last = last.unwrap();
            assert!(last.campaign.is_some());
            assert_ne!(last.decision, Outcome::NotARequest);
        }
    }
}
