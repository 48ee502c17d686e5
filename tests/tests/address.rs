//! Where an appeal has no coordinates, the street and house its text names
//! find its building's history (in either language's spelling).

use appeal_triage::engine::NewAppeal;
use appeal_triage::record::{AppealData, AppealStatus, Jurisdiction, Tenant};
use triage_tests::tiny_engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_in_the_text_finds_the_buildings_history() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny_engine(dir.path()).await;
    let record = engine.memory().record();
    record
        .upsert_tenant(&Tenant {
            id: "kyiv".into(),
            name: "Kyiv".into(),
            jurisdiction: Jurisdiction::Ua,
            alpha: 0.1,
            auto_threshold: 0.99,
        })
        .await
        .unwrap();
    // Two housing offices, each serving one building; the same complaint
    // about either, and no coordinates anywhere.
    let buildings = [
        ("вул. Хорива, 23", "zhek-hor"),
        ("вул. Заболотного, 82", "zhek-zab"),
    ];
    for i in 0..60usize {
        let (address, department) = buildings[i % 2];
        let text = format!("Протікає дах у будинку по {address}, квартира {}", i % 7);
        let data = AppealData {
            tenant_id: "kyiv".into(),
            external_id: Some(format!("h{i}")),
            redacted_text: text.clone(),
            text,
            language: None,
            place: Default::default(),
            channel: None,
            applicant_category: None,
            category: Vec::new(),
            received_at: 1_600_000_000_000 + i as i64 * 60_000,
            status: AppealStatus::Imported,
            department: Some(department.into()),
            submitted_by: None,
        };
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
