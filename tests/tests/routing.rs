//! The routing engine end to end on the tiny real model: learning from a
//! correction at once, cold start from descriptions, and the workflow's errors.

use std::sync::Arc;

use appeal_triage::engine::{Engine, EngineError, NewAppeal};
use appeal_triage::record::{AppealData, AppealStatus, Department, Jurisdiction, Place, Tenant};
use triage_domain::Outcome;
use triage_tests::{tiny_engine, tiny_engine_with};

async fn tenant(engine: &Engine, id: &str) {
    engine
        .memory()
        .record()
        .upsert_tenant(&Tenant {
            id: id.into(),
            name: id.into(),
            jurisdiction: Jurisdiction::Ua,
            alpha: 0.1,
            auto_threshold: 0.9,
        })
        .await
        .unwrap();
}

async fn department(engine: &Engine, tenant: &str, code: &str, description: &str) {
    engine
        .memory()
        .record()
        .upsert_department(&Department {
            tenant_id: tenant.into(),
            code: code.into(),
            names: Default::default(),
            description: description.into(),
            areas: vec![],
            auto_threshold: None,
            active: true,
        })
        .await
        .unwrap();
}

/// Imports confirmed history and brings the index up to date.
async fn history(engine: &Engine, tenant: &str, cases: &[(&str, &str, &str)]) {
    let placed: Vec<(&str, &str, Place)> = cases
        .iter()
        .map(|(text, dept, district)| (*text, *dept, in_district(district)))
        .collect();
    history_at(engine, tenant, &placed).await;
}

fn in_district(district: &str) -> Place {
    Place {
        district: Some(district.into()),
        ..Place::default()
    }
}

/// [`history`] with a full place per case.
async fn history_at(engine: &Engine, tenant: &str, cases: &[(&str, &str, Place)]) {
    for (i, (text, dept, place)) in cases.iter().enumerate() {
        let data = AppealData {
            tenant_id: tenant.into(),
            external_id: Some(format!("h{i}")),
            text: text.to_string(),
            redacted_text: text.to_string(),
            language: None,
            place: place.clone(),
            channel: None,
            applicant_category: None,
            category: Vec::new(),
            received_at: 1_600_000_000_000 + i as i64 * 60_000,
            status: AppealStatus::Imported,
            department: Some(dept.to_string()),
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
    engine.invalidate(tenant);
}

fn appeal(text: &str, district: &str) -> NewAppeal {
    NewAppeal {
        text: text.into(),
        place: in_district(district),
        ..NewAppeal::default()
    }
}

const ROADS: [&str; 5] = [
    "pothole on the road near school number five",
    "the asphalt on our street is broken, cars damaged",
    "road surface destroyed after winter, please repair",
    "deep holes in the roadway at the crossing",
    "repair the road on Lenina avenue, potholes everywhere",
];
const WATER: [&str; 5] = [
    "no cold water in the building since morning",
    "water pipe burst in the basement, flooding",
    "hot water is rusty and smells bad",
    "leak from the water main on the corner",
    "low water pressure on the fifth floor",
];

async fn seeded(dir: &std::path::Path) -> Arc<Engine> {
    let engine = tiny_engine(dir).await;
    tenant(&engine, "city").await;
    let mut cases = Vec::new();
    for t in ROADS {
        cases.push((t, "roads", "North"));
    }
    for t in WATER {
        cases.push((t, "water", "North"));
    }
    history(&engine, "city", &cases).await;
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_counts_for_the_very_next_similar_appeal() {
    let dir = tempfile::tempdir().unwrap();
    let engine = seeded(dir.path()).await;
    // With a fitted head too: the head knows only roads and water.
    assert!(engine.refit("city").await.unwrap().head.is_some());
    let text = "graffiti sprayed over the bus stop shelter on Shevchenka street";
    let first = engine
        .submit("city", appeal(text, "North"), "portal")
        .await
        .unwrap();
    assert!(first.created);
    let suggested = first.decision.department.clone().unwrap();
    assert!(suggested == "roads" || suggested == "water", "{suggested}");
    // The supervisor routes it to a department the history has never seen.
    department(&engine, "city", "cleaning", "").await;
    let view = engine
        .decide(
            "city",
            first.appeal_id,
            "cleaning",
            Some("graffiti is ours"),
            "supervisor",
        )
        .await
        .unwrap();
    assert_eq!(view.appeal.data.status, AppealStatus::Decided);
    assert_eq!(view.decisions.last().unwrap().kind, "override");
    // The very next near-identical appeal goes there, with the correction as evidence.
    let next = engine
        .submit(
            "city",
            appeal(
                "graffiti sprayed over the bus stop shelter on Shevchenka street!",
                "North",
            ),
            "portal",
        )
        .await
        .unwrap();
    assert_eq!(
        next.decision.department.as_deref(),
        Some("cleaning"),
        "{:?}",
        next.decision
    );
    assert_eq!(next.decision.evidence.cases[0].id, first.appeal_id);
    assert_eq!(next.decision.duplicate_of, Some(first.appeal_id));
    assert!(next
        .decision
        .prediction_set
        .contains(&"cleaning".to_string()));
    // History records the suggestion and the override with who and why.
    let trail = engine.history("city", first.appeal_id).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["appeal.created", "appeal.suggested", "appeal.override"]
    );
    assert_eq!(trail[2].actor, "supervisor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_routes_by_descriptions_then_history_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    tenant(&engine, "new").await;
    department(
        &engine,
        "new",
        "roads",
        "Road repair: potholes, asphalt, road surface",
    )
    .await;
    department(
        &engine,
        "new",
        "water",
        "Water supply: pipes, leaks, water pressure",
    )
    .await;
    let d = engine
        .preview(
            "new",
            &appeal("Road repair: potholes, asphalt, road surface", "X"),
        )
        .await
        .unwrap();
    assert_eq!(d.department.as_deref(), Some("roads"), "{d:?}");
    assert!(d.evidence.signals.iter().any(|s| s.name == "descriptions"));
    let d = engine
        .preview(
            "new",
            &appeal("Water supply: pipes, leaks, water pressure", "X"),
        )
        .await
        .unwrap();
    assert_eq!(d.department.as_deref(), Some("water"), "{d:?}");
    assert!(d.evidence.cases.is_empty());
    // Five confirmed cases per department: history now speaks too.
    let mut cases = Vec::new();
    for t in ROADS {
        cases.push((t, "roads", "X"));
    }
    for t in WATER {
        cases.push((t, "water", "X"));
    }
    history(&engine, "new", &cases).await;
    let d = engine.preview("new", &appeal(WATER[1], "X")).await.unwrap();
    assert_eq!(d.department.as_deref(), Some("water"), "{d:?}");
    assert!(d
        .evidence
        .signals
        .iter()
        .any(|s| s.name == "text_neighbours"));
    assert_eq!(d.evidence.cases.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_idempotent_and_bad_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = seeded(dir.path()).await;
    let mut a = appeal(ROADS[0], "North");
    a.external_id = Some("portal-1".into());
    let first = engine.submit("city", a.clone(), "portal").await.unwrap();
    let again = engine.submit("city", a, "portal").await.unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.appeal_id, again.appeal_id);
    assert_eq!(first.decision.department, again.decision.department);
    assert_eq!(first.decision.prediction_set, again.decision.prediction_set);
    assert!((first.decision.confidence - again.decision.confidence).abs() < 1e-12);
    assert_eq!(first.decision.language, "en");
    assert!(first.decision.model.fingerprint.len() == 64);

    let before = engine
        .memory()
        .record()
        .count_appeals("city")
        .await
        .unwrap();
    let empty = engine
        .submit("city", appeal("   ", "North"), "portal")
        .await;
    assert!(
        matches!(empty, Err(EngineError::InvalidInput(_))),
        "{empty:?}"
    );
    // Control characters are dropped, not refused (a NUL inside real text is
    // stored without it, see http_api); a text of nothing else is refused.
    let controls = engine
        .submit("city", appeal("\0\u{1}\u{2}", "North"), "portal")
        .await;
    assert!(matches!(controls, Err(EngineError::InvalidInput(_))));
    let huge = engine
        .submit("city", appeal(&"x".repeat(70_000), "North"), "portal")
        .await;
    assert!(matches!(huge, Err(EngineError::InvalidInput(_))));
    let nobody = engine
        .submit("nobody", appeal("text", "North"), "portal")
        .await;
    assert!(matches!(nobody, Err(EngineError::UnknownTenant(_))));
    assert_eq!(
        engine
            .memory()
            .record()
            .count_appeals("city")
            .await
            .unwrap(),
        before
    );

    let unknown = engine
        .decide("city", first.appeal_id, "no-such-dept", None, "sup")
        .await;
    assert!(
        matches!(unknown, Err(EngineError::UnknownDepartment(_))),
        "{unknown:?}"
    );
    let reason = engine.reroute("city", first.appeal_id, " ", "dept").await;
    assert!(matches!(reason, Err(EngineError::InvalidInput(_))));
    let missing = engine.decide("city", 999_999, "roads", None, "sup").await;
    assert!(matches!(missing, Err(EngineError::UnknownAppeal(_))));

    // Another tenant cannot see or touch the appeal.
    tenant(&engine, "other").await;
    assert!(engine
        .appeal("other", first.appeal_id)
        .await
        .unwrap()
        .is_none());
    let cross = engine
        .decide("other", first.appeal_id, "roads", None, "sup")
        .await;
    assert!(
        matches!(cross, Err(EngineError::UnknownAppeal(_))),
        "{cross:?}"
    );

    // A reroute sends it back to review with the reason on record.
    let view = engine
        .reroute("city", first.appeal_id, "not our competence", "roads-dept")
        .await
        .unwrap();
    assert_eq!(view.appeal.data.status, AppealStatus::Rerouted);
    assert_eq!(
        view.decisions.last().unwrap().reason.as_deref(),
        Some("not our competence")
    );
    assert!(matches!(
        first.decision.decision,
        Outcome::AutoRouted | Outcome::NeedsReview
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refit_fits_a_head_and_calibration_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    tenant(&engine, "city").await;
    let mut cases = Vec::new();
    for round in 0..12 {
        for (i, t) in ROADS.iter().enumerate() {
            let district = if i % 2 == 0 { "North" } else { "South" };
            cases.push((
                *t,
                if district == "North" {
                    "roads-north"
                } else {
                    "roads-south"
                },
                district,
            ));
        }
        for t in WATER {
            cases.push((t, "water", if round % 2 == 0 { "North" } else { "South" }));
        }
    }
    history(&engine, "city", &cases).await;
    let model = engine.refit("city").await.unwrap();
    assert_eq!(model.version, 1);
    assert_eq!(model.fitted_on, 120);
    assert!(model.head.is_some());
    assert!(model.calibration.temperature > 0.0);
    // The district decides between the two road agencies.
    let d = engine
        .preview("city", &appeal(ROADS[0], "South"))
        .await
        .unwrap();
    assert_eq!(d.department.as_deref(), Some("roads-south"), "{d:?}");
    assert_eq!(d.model.head_version, 1);
    let p: f64 = d.alternatives.iter().map(|a| a.probability).sum();
    assert!(p <= 1.0 + 1e-9 && p > 0.5, "{p}");
    // A restart loads the stored model and the area counts: no refit needed.
    drop(engine);
    let engine = tiny_engine(dir.path()).await;
    let state = engine.state("city").await.unwrap();
    assert_eq!(state.model().version, 1);
    assert_eq!(
        state.confirmed.load(std::sync::atomic::Ordering::Relaxed),
        120
    );
    let again = engine
        .preview("city", &appeal(ROADS[0], "South"))
        .await
        .unwrap();
    assert_eq!(again.department, d.department);
    assert!((again.confidence - d.confidence).abs() < 1e-9);
    let trail: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'model.refit'")
            .fetch_one(engine.memory().record().pool())
            .await
            .unwrap();
    assert_eq!(trail, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_municipality_in_the_record_routes_within_a_district() {
    // One district; the same complaints go to the administration in one
    // municipality and to the housing agency in the other. Text, district and
    // neighbours cannot tell them apart; the municipality, read from the
    // record at the refit and from the appeal's place, can.
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    tenant(&engine, "city").await;
    let at = |m: &str| Place {
        district: Some("North".into()),
        municipality: Some(m.into()),
        ..Place::default()
    };
    let mut cases = Vec::new();
    for _ in 0..12 {
        for t in ROADS {
            cases.push((t, "administration", at("Hill")));
            cases.push((t, "agency", at("Harbour")));
        }
    }
    history_at(&engine, "city", &cases).await;
    engine.refit("city").await.unwrap();
    for (m, expected) in [("Hill", "administration"), ("Harbour", "agency")] {
        let d = engine
            .preview(
                "city",
                &NewAppeal {
                    text: ROADS[2].into(),
                    place: at(m),
                    ..NewAppeal::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(d.department.as_deref(), Some(expected), "{m}: {d:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refit_learns_signal_weights_from_held_out_cases_and_keeps_them_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let small = |c: &mut appeal_triage::engine::EngineConfig| {
        c.routing.calibration_cases = 60;
        c.routing.learn_weights_min = 30;
    };
    let engine = tiny_engine_with(dir.path(), small).await;
    tenant(&engine, "city").await;
    let mut cases = Vec::new();
    for round in 0..24 {
        for (i, t) in ROADS.iter().enumerate() {
            let north = (i + round) % 2 == 0;
            let (dept, district) = if north {
                ("roads-north", "North")
            } else {
                ("roads-south", "South")
            };
            cases.push((*t, dept, district));
        }
        for t in WATER {
            cases.push((t, "water", if round % 2 == 0 { "North" } else { "South" }));
        }
    }
    history(&engine, "city", &cases).await;
    let model = engine.refit("city").await.unwrap();
    let learned = model.calibration.weights.expect("60 held-out cases >= 30");
    for w in [learned.shared, learned.short, learned.medium, learned.long] {
        assert!(
            w.to_array().iter().all(|x| x.is_finite() && *x >= 0.0),
            "{learned:?}"
        );
    }
    // The configured weights are a different vector: something was learned.
    let configured = triage_domain::routing::SignalWeights::default();
    assert_ne!(learned.shared, configured);
    let d = engine
        .preview("city", &appeal(ROADS[1], "South"))
        .await
        .unwrap();
    assert_eq!(d.department.as_deref(), Some("roads-south"), "{d:?}");
    // The evidence says which weight each signal had in this decision.
    let lexical = d
        .evidence
        .signals
        .iter()
        .find(|s| s.name == "lexical_model");
    let used = learned
        .for_text(ROADS[1])
        .get(triage_domain::routing::SignalKind::Lexical);
    assert_eq!(
        lexical.and_then(|s| s.weight),
        Some(used),
        "{:?}",
        d.evidence
    );
    // A correction still counts for the very next identical appeal under
    // learned weights (supervisors' decisions keep their configured share).
    let unseen = appeal("Broken bench and litter bins in the school park", "North");
    let first = engine
        .submit("city", unseen.clone(), "portal")
        .await
        .unwrap();
    let other = if first.decision.department.as_deref() == Some("water") {
        "roads-north"
    } else {
        "water"
    };
    engine
        .decide("city", first.appeal_id, other, None, "supervisor")
        .await
        .unwrap();
    let next = engine.preview("city", &unseen).await.unwrap();
    assert_eq!(next.department.as_deref(), Some(other), "{next:?}");
    let decisions = next
        .evidence
        .signals
        .iter()
        .find(|s| s.name == "supervisor_decisions");
    assert!(decisions.is_some_and(|s| s.probability > 0.5), "{next:?}");
    // The refit's audit entry names the weights, and a restart loads them.
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'model.refit'")
            .fetch_one(engine.memory().record().pool())
            .await
            .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert!(
        detail["weights"]["shared"]["lexical"].is_number(),
        "{detail}"
    );
    drop(engine);
    let engine = tiny_engine_with(dir.path(), small).await;
    let state = engine.state("city").await.unwrap();
    assert_eq!(state.model().calibration.weights, Some(learned));
    // The department activity counted at the refit comes back with the model.
    let activity = state.model().activity.clone();
    assert!(
        activity.probs(&["roads".to_string()]).is_some(),
        "{activity:?}"
    );
    assert_eq!(*state.activity.read().unwrap(), activity);
    // With learning switched off, a refit keeps the configured weights.
    drop(engine);
    let engine = tiny_engine_with(dir.path(), |c| {
        small(c);
        c.routing.learn_weights_min = 0;
    })
    .await;
    let model = engine.refit("city").await.unwrap();
    assert_eq!(model.calibration.weights, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_stored_model_is_replaced_by_the_next_refit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    tenant(&engine, "city").await;
    let cases: Vec<(&str, &str, &str)> = ROADS
        .iter()
        .map(|t| (*t, "roads-north", "North"))
        .chain(WATER.iter().map(|t| (*t, "water", "North")))
        .collect();
    history(&engine, "city", &cases).await;
    // A model stored by an older build, in a format this one cannot read.
    engine
        .memory()
        .record()
        .save_routing_model("city", 3, "{\"head\": \"not this format\"}")
        .await
        .unwrap();
    drop(engine);
    let engine = tiny_engine(dir.path()).await;
    let state = engine.state("city").await.unwrap();
    assert_eq!(state.model().version, 3);
    // A refit is due at the next confirmation, however far the interval.
    let due = state.since_refit.load(std::sync::atomic::Ordering::Relaxed);
    assert!(due >= 500, "{due}");
    let model = engine.refit("city").await.unwrap();
    assert_eq!(model.version, 4);
    assert!(model.head.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_carry_deadlines_urgency_language_and_masked_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let engine = seeded(dir.path()).await;
    // 2026-03-02 10:00 Kyiv time, a Monday.
    let received_at = 1_772_438_400_000;
    let mut a = appeal(
        "Запах газу в під'їзді, загроза життю! Телефон +380 50 123 45 67",
        "North",
    );
    a.received_at = Some(received_at);
    a.applicant_category = Some("disabled_group_1".into());
    let s = engine.submit("city", a, "portal").await.unwrap();
    let d = &s.decision;
    assert_eq!(d.language, "uk");
    assert_eq!(
        d.urgency.level,
        triage_domain::UrgencyLevel::Critical,
        "{:?}",
        d.urgency
    );
    assert!(!d.deadlines.is_empty());
    assert!(d
        .deadlines
        .iter()
        .all(|x| x.due.as_str() > "2026-03-02" && !x.citation.is_empty()));
    let stored = engine.appeal("city", s.appeal_id).await.unwrap().unwrap();
    assert!(stored.appeal.data.text.contains("+380 50 123 45 67"));
    assert!(!stored.appeal.data.redacted_text.contains("123 45 67"));
    assert!(stored.appeal.data.redacted_text.contains("[PHONE]"));
    // Evidence shown to others never carries the phone number.
    engine
        .decide("city", s.appeal_id, "water", None, "supervisor")
        .await
        .unwrap();
    let next = engine
        .submit(
            "city",
            appeal("Запах газу в під'їзді, загроза життю!", "North"),
            "portal",
        )
        .await
        .unwrap();
    assert_eq!(next.decision.evidence.cases[0].id, s.appeal_id);
    assert!(next.decision.evidence.cases[0].snippet.contains("[PHONE]"));
    assert!(next
        .decision
        .evidence
        .cases
        .iter()
        .all(|c| !c.snippet.contains("123 45 67")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_abstain_to_review_instead_of_guessing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = seeded(dir.path()).await;
    // Only personal data: nothing to route on.
    let d = engine
        .preview(
            "city",
            &appeal("+380 50 123 45 67, ivan@example.com", "North"),
        )
        .await
        .unwrap();
    assert_eq!(d.department, None, "{d:?}");
    assert_eq!(d.decision, Outcome::NeedsReview);
    assert!(d.evidence.signals.iter().any(|s| s.name == "abstained"));
    // A script we do not support: routed, never automatically.
    let d = engine
        .preview("city", &appeal("道路上有很多坑洼，请尽快修复", "North"))
        .await
        .unwrap();
    assert_eq!(d.language, "other");
    assert_eq!(d.decision, Outcome::NeedsReview);
    assert!(d
        .evidence
        .signals
        .iter()
        .any(|s| s.name == "unsupported_language"));
    // A district never seen: the place signal is left out, routing still works.
    let d = engine
        .preview("city", &appeal(ROADS[2], "Atlantis"))
        .await
        .unwrap();
    assert_eq!(d.department.as_deref(), Some("roads"));
    assert!(d.evidence.signals.iter().all(|s| s.name != "place"));
    // Coordinates out of range are refused.
    let mut a = appeal(ROADS[2], "North");
    a.place.lat = Some(123.0);
    a.place.lon = Some(30.0);
    let err = engine.preview("city", &a).await.unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidInput(ref m) if m.contains("latitude")),
        "{err}"
    );
    // No catalogue and no history: abstain.
    tenant(&engine, "empty").await;
    let d = engine
        .preview("empty", &appeal(ROADS[2], "North"))
        .await
        .unwrap();
    assert_eq!(d.department, None);
    assert!(d.alternatives.is_empty() && d.prediction_set.is_empty());
    assert_eq!(d.decision, Outcome::NeedsReview);
}

/// Imports `cases` (text, department) received at `at` (unix ms) onwards, a
/// minute apart.
async fn history_from(engine: &Engine, tenant: &str, at: i64, cases: &[(&str, &str)]) {
    for (i, (text, dept)) in cases.iter().enumerate() {
        let data = AppealData {
            tenant_id: tenant.into(),
            external_id: Some(format!("h{at}-{i}")),
            text: text.to_string(),
            redacted_text: text.to_string(),
            language: None,
            place: in_district("North"),
            channel: None,
            applicant_category: None,
            category: Vec::new(),
            received_at: at + i as i64 * 60_000,
            status: AppealStatus::Imported,
            department: Some(dept.to_string()),
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
    engine.invalidate(tenant);
}

/// Road appeals go to "roads" for a while; two months later supervisors send
/// three to its successor "roads-2". What the next road appeal gets, with the
/// engine's config adjusted.
async fn after_a_succession(
    adjust: impl FnOnce(&mut appeal_triage::engine::EngineConfig),
) -> triage_domain::RoutingDecision {
    const DAY: i64 = 86_400_000;
    let t0 = 1_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine_with(dir.path(), adjust).await;
    tenant(&engine, "city").await;
    let mut cases: Vec<(&str, &str)> = ROADS.iter().map(|t| (*t, "roads")).collect();
    cases.extend(WATER.iter().map(|t| (*t, "water")));
    history_from(&engine, "city", t0, &cases).await;
    engine.refit("city").await.unwrap();
    department(&engine, "city", "roads-2", "").await;
    for (i, text) in ROADS.iter().take(3).enumerate() {
        let a = NewAppeal {
            received_at: Some(t0 + 60 * DAY + i as i64 * DAY),
            ..appeal(&format!("{text}, again"), "North")
        };
        let s = engine.submit("city", a, "portal").await.unwrap();
        engine
            .decide("city", s.appeal_id, "roads-2", None, "supervisor")
            .await
            .unwrap();
    }
    let next = NewAppeal {
        received_at: Some(t0 + 64 * DAY),
        ..appeal(
            "broken asphalt and potholes on the road by the market",
            "North",
        )
    };
    engine
        .submit("city", next, "portal")
        .await
        .unwrap()
        .decision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successor_department_is_noticed_from_its_first_decisions() {
    let activity = |d: &triage_domain::RoutingDecision| {
        d.evidence
            .signals
            .iter()
            .find(|x| x.name == "recent_activity")
            .map(|x| x.probability)
    };
    let successor = |d: &triage_domain::RoutingDecision| {
        d.alternatives
            .iter()
            .find(|a| a.department == "roads-2")
            .map_or(0.0, |a| a.probability)
    };
    let on = after_a_succession(|_| {}).await;
    let off = after_a_succession(|c| c.routing.activity_half_life_days = 0.0).await;
    // The old office took nothing lately: its recent activity is low...
    let top = on.department.as_deref().unwrap();
    let p = activity(&on).expect("the activity signal in the evidence");
    if top == "roads" {
        assert!(p < 0.2, "recent activity of the replaced office: {p}");
    } else {
        assert_eq!(top, "roads-2");
        assert!(p > 0.6, "recent activity of the successor: {p}");
    }
    // ...so the successor is more likely with the signal than without it.
    assert!(
        successor(&on) > successor(&off) + 0.02,
        "{} vs {}",
        successor(&on),
        successor(&off)
    );
    assert_eq!(activity(&off), None, "off: not in the evidence");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_wrong_suggestions_lower_the_confidence_shown_and_stop_auto_routing() {
    let dir = tempfile::tempdir().unwrap();
    let window = |c: &mut appeal_triage::engine::EngineConfig| {
        c.routing.recent_outcomes = 50;
        c.routing.recent_outcomes_min = 10;
    };
    let engine = tiny_engine_with(dir.path(), window).await;
    tenant(&engine, "city").await;
    let mut cases = Vec::new();
    for t in ROADS {
        cases.push((t, "roads", "North"));
    }
    for t in WATER {
        cases.push((t, "water", "North"));
    }
    history(&engine, "city", &cases).await;
    // Supervisors overrule ten suggestions in a row.
    for i in 0..10 {
        let text = format!("{} (appeal {i})", ROADS[i % ROADS.len()]);
        let s = engine
            .submit("city", appeal(&text, "North"), "portal")
            .await
            .unwrap();
        assert_eq!(s.decision.model.fitted_confidence, None, "not yet: {i}");
        let wrong = if s.decision.department.as_deref() == Some("roads") {
            "water"
        } else {
            "roads"
        };
        engine
            .decide("city", s.appeal_id, wrong, None, "supervisor")
            .await
            .unwrap();
    }
    let state = engine.state("city").await.unwrap();
    assert!(state.recent.read().unwrap().active());
    // The next appeal is told how often such suggestions were right lately.
    let d = engine
        .preview("city", &appeal(WATER[2], "North"))
        .await
        .unwrap();
    let fitted = d.model.fitted_confidence.expect("recent outcomes apply");
    assert!(d.confidence < fitted, "{} vs {fitted}", d.confidence);
    assert!(d.confidence < 0.5, "{}", d.confidence);
    assert_eq!(d.alternatives[0].probability, d.confidence);
    assert_eq!(d.decision, Outcome::NeedsReview);
    // Recent outcomes live in memory: a restart starts from the fitted calibration.
    drop(state);
    drop(engine);
    let engine = tiny_engine_with(dir.path(), window).await;
    let d = engine
        .preview("city", &appeal(WATER[2], "North"))
        .await
        .unwrap();
    assert_eq!(d.model.fitted_confidence, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_routed_appeals_no_department_sent_back_are_confirmed_by_silence() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    // Threshold 0: every suggestion is auto-routed.
    engine
        .memory()
        .record()
        .upsert_tenant(&Tenant {
            id: "city".into(),
            name: "city".into(),
            jurisdiction: Jurisdiction::Ua,
            alpha: 0.1,
            auto_threshold: 0.0,
        })
        .await
        .unwrap();
    let mut cases = Vec::new();
    for t in ROADS {
        cases.push((t, "roads", "North"));
    }
    for t in WATER {
        cases.push((t, "water", "North"));
    }
    history(&engine, "city", &cases).await;
    let day = 86_400_000i64;
    let now = appeal_triage::record::now_ms();
    let mut ids = Vec::new();
    for (i, age) in [20, 19, 18, 1].into_iter().enumerate() {
        let s = engine
            .submit(
                "city",
                NewAppeal {
                    received_at: Some(now - age * day),
                    ..appeal(&format!("{} ({i})", ROADS[i]), "North")
                },
                "portal",
            )
            .await
            .unwrap();
        assert_eq!(s.decision.decision, Outcome::AutoRouted);
        ids.push(s.appeal_id);
    }
    // A department sends one back: that one is not confirmed by silence.
    engine
        .reroute("city", ids[1], "not ours", "roads-desk")
        .await
        .unwrap();
    let state = engine.state("city").await.unwrap();
    let before = state.confirmed.load(std::sync::atomic::Ordering::Relaxed);
    let confirmed = engine
        .confirm_unreturned("city", now - 14 * day)
        .await
        .unwrap();
    assert_eq!(confirmed, 2);
    assert_eq!(
        state.confirmed.load(std::sync::atomic::Ordering::Relaxed),
        before + 2
    );
    for (i, id) in ids.iter().enumerate() {
        let v = engine.appeal("city", *id).await.unwrap().unwrap();
        let expected = match i {
            0 | 2 => AppealStatus::Decided,
            1 => AppealStatus::Rerouted,
            _ => AppealStatus::AutoRouted,
        };
        assert_eq!(v.appeal.data.status, expected, "appeal {i}");
        if expected == AppealStatus::Decided {
            let last = v.decisions.last().unwrap();
            assert_eq!(
                (last.kind.as_str(), last.actor.as_str()),
                ("accept", "system")
            );
            assert_eq!(last.department, v.suggestion.unwrap().department);
        }
    }
    // Nothing left to confirm.
    assert_eq!(
        engine
            .confirm_unreturned("city", now - 14 * day)
            .await
            .unwrap(),
        0
    );
    // Outcomes chosen by how the appeal was routed (confirmed by silence,
    // decided after a department sent it back) teach the recent-outcomes
    // window, not the adaptive conformal level.
    engine
        .decide("city", ids[1], "water", None, "supervisor")
        .await
        .unwrap();
    assert_eq!(state.recent.read().unwrap().live(), 3);
    assert!(state.conformal.read().unwrap().is_none());
    // A supervisor's decision on an appeal still with its department teaches both.
    engine
        .decide("city", ids[3], "water", None, "supervisor")
        .await
        .unwrap();
    assert_eq!(state.recent.read().unwrap().live(), 4);
    assert!(state.conformal.read().unwrap().is_some());
}
