//! The place as evidence on the tiny real model: where an appeal has no
//! coordinates, the street and house its text names find its building's
//! history (in either language's spelling); where its building has no
//! history, the surrounding streets' cases vote.

use appeal_triage::engine::{Engine, NewAppeal};
use appeal_triage::record::{AppealData, AppealStatus, Jurisdiction, Place, Tenant};
use triage_tests::tiny_engine;

async fn tenant(engine: &Engine) {
    engine
        .memory()
        .record()
        .upsert_tenant(&Tenant {
            id: "kyiv".into(),
            name: "Kyiv".into(),
            jurisdiction: Jurisdiction::Ua,
            alpha: 0.1,
            auto_threshold: 0.99,
        })
        .await
        .unwrap();
}

fn case(i: usize, text: String, place: Place, department: &str) -> AppealData {
    AppealData {
        tenant_id: "kyiv".into(),
        external_id: Some(format!("h{i}")),
        redacted_text: text.clone(),
        text,
        language: None,
        place,
        channel: None,
        applicant_category: None,
        category: Vec::new(),
        received_at: 1_600_000_000_000 + i as i64 * 60_000,
        status: AppealStatus::Imported,
        department: Some(department.into()),
        submitted_by: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_in_the_text_finds_the_buildings_history() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    let record = engine.memory().record();
    tenant(&engine).await;
    // Two housing offices, each serving one building; the same complaint
    // about either, and no coordinates anywhere.
    let buildings = [
        ("вул. Хорива, 23", "zhek-hor"),
        ("вул. Заболотного, 82", "zhek-zab"),
    ];
    for i in 0..60usize {
        let (address, department) = buildings[i % 2];
        let text = format!("Протікає дах у будинку по {address}, квартира {}", i % 7);
        let data = case(i, text, Place::default(), department);
        record.insert_appeal(&data, "test").await.unwrap();
    }
    engine.memory().drain_outbox().await.unwrap();
    engine.invalidate("kyiv");

    // Russian spelling, another phrasing: the building decides.
    for (text, want) in [
        ("Течёт крыша в доме по ул. Заболотного 82", "zhek-zab"),
        ("Течет крыша, ул.Хорива д.23, помогите", "zhek-hor"),
    ] {
        let d = engine
            .preview(
                "kyiv",
                &NewAppeal {
                    text: text.into(),
                    ..NewAppeal::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(d.department.as_deref(), Some(want), "{text}: {d:?}");
        let spot = d
            .evidence
            .signals
            .iter()
            .find(|s| s.name == "same_spot")
            .unwrap_or_else(|| panic!("{text}: same_spot evidence in {:?}", d.evidence.signals));
        assert!(spot.probability > 0.5, "{text}: {spot:?}");
    }
    // An address nobody named before says nothing about the building.
    let d = engine
        .preview(
            "kyiv",
            &NewAppeal {
                text: "Течёт крыша в доме по ул. Бальзака 6".into(),
                ..NewAppeal::default()
            },
        )
        .await
        .unwrap();
    assert!(
        !d.evidence.signals.iter().any(|s| s.name == "same_spot"),
        "{:?}",
        d.evidence.signals
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_building_without_history_asks_the_surrounding_streets() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    tenant(&engine).await;
    // Two housing offices 2 km apart; each has served buildings 60-200 m
    // around its own block, none at the building asked about.
    let offices = [
        ((50.4500, 30.5200), "zhek-west"),
        ((50.4500, 30.5480), "zhek-east"),
    ];
    for i in 0..80usize {
        let ((lat, lon), department) = offices[i % 2];
        let step = 0.0008 + 0.0002 * (i % 9) as f64; // ~60-200 m
        let place = Place {
            lat: Some(lat + if i % 4 < 2 { step } else { -step }),
            lon: Some(lon + 0.0003 * (i % 3) as f64),
            ..Place::default()
        };
        let text = format!("Протікає дах у під'їзді, квартира {}", i % 7);
        engine
            .memory()
            .record()
            .insert_appeal(&case(i, text, place, department), "test")
            .await
            .unwrap();
    }
    engine.memory().drain_outbox().await.unwrap();
    engine.invalidate("kyiv");
    for ((lat, lon), want) in offices {
        let d = engine
            .preview(
                "kyiv",
                &NewAppeal {
                    text: "Протікає дах у під'їзді".into(),
                    place: Place {
                        lat: Some(lat),
                        lon: Some(lon),
                        ..Place::default()
                    },
                    ..NewAppeal::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(d.department.as_deref(), Some(want), "{d:?}");
        let names: Vec<&str> = d.evidence.signals.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"nearby_cases"), "{names:?}");
        assert!(
            !names.contains(&"same_spot"),
            "no case within 30 m: {names:?}"
        );
    }
}
