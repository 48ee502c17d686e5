//! The system of record, against embedded SQLite always and PostgreSQL when
//! `TRIAGE_PG_URL` is set (CI starts a real server and sets it; under `CI=true`
//! its absence is a failure, never a silent skip).

use appeal_triage::record::*;

struct Db {
    record: Record,
    _dir: Option<tempfile::TempDir>,
}

async fn databases() -> Vec<(&'static str, Db)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("record.db").display());
    let mut out = vec![(
        "sqlite",
        Db {
            record: Record::open(&url).await.unwrap(),
            _dir: Some(dir),
        },
    )];
    match std::env::var("TRIAGE_PG_URL") {
        Ok(pg) => {
            let record = Record::open(&pg)
                .await
                .expect("PostgreSQL at TRIAGE_PG_URL");
            out.push(("postgres", Db { record, _dir: None }));
        }
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the PostgreSQL record tests: TRIAGE_PG_URL is not set"
            );
            eprintln!("NOTE: TRIAGE_PG_URL not set: PostgreSQL record tests not run here");
        }
    }
    out
}

/// A unique tenant id per test and run, so tests can share one PostgreSQL database.
fn tenant_id(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), now_ms())
}

fn tenant(id: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: "Test city".into(),
        jurisdiction: Jurisdiction::Ua,
        alpha: 0.1,
        auto_threshold: 0.9,
    }
}

fn appeal(tenant: &str, ext: Option<&str>, text: &str) -> AppealData {
    AppealData {
        tenant_id: tenant.into(),
        external_id: ext.map(str::to_string),
        text: text.into(),
        redacted_text: text.into(),
        language: Some("uk".into()),
        place: Place {
            district: Some("Shevchenkivskyi".into()),
            lat: Some(50.45),
            lon: Some(30.52),
            ..Place::default()
        },
        channel: Some("web".into()),
        applicant_category: None,
        category: vec!["Благоустрій".into(), "Ями".into()],
        received_at: 1_700_000_000_000,
        status: AppealStatus::Received,
        department: None,
        submitted_by: None,
    }
}

#[tokio::test]
async fn tenants_and_departments_round_trip() {
    for (name, db) in databases().await {
        let r = &db.record;
        let t = tenant_id("tenants");
        assert!(r.tenant(&t).await.unwrap().is_none(), "{name}");
        r.upsert_tenant(&tenant(&t)).await.unwrap();
        let mut changed = tenant(&t);
        changed.auto_threshold = 0.8;
        r.upsert_tenant(&changed).await.unwrap();
        assert_eq!(r.tenant(&t).await.unwrap(), Some(changed), "{name}");
        let dept = Department {
            tenant_id: t.clone(),
            code: "housing-1".into(),
            names: [("uk".to_string(), "ЖЕК 1".to_string())].into(),
            description: "Утримання будинків".into(),
            areas: vec!["Shevchenkivskyi".into()],
            auto_threshold: Some(0.95),
            active: true,
        };
        r.upsert_department(&dept).await.unwrap();
        assert_eq!(
            r.departments(&t).await.unwrap(),
            vec![dept.clone()],
            "{name}"
        );
        let mut orphan = dept.clone();
        orphan.tenant_id = tenant_id("nobody");
        let err = r.upsert_department(&orphan).await.unwrap_err();
        assert!(
            matches!(err, RecordError::UnknownTenant(_)),
            "{name}: {err:?}"
        );
    }
}

#[tokio::test]
async fn appeals_are_idempotent_audited_and_queued_for_the_index() {
    for (name, db) in databases().await {
        let r = &db.record;
        let t = tenant_id("appeals");
        r.upsert_tenant(&tenant(&t)).await.unwrap();
        let a = r
            .insert_appeal(&appeal(&t, Some("ext-1"), "Немає світла"), "portal")
            .await
            .unwrap();
        assert!(a.created, "{name}");
        let again = r
            .insert_appeal(&appeal(&t, Some("ext-1"), "інший текст"), "portal")
            .await
            .unwrap();
        assert_eq!(
            again,
            Inserted {
                id: a.id,
                created: false
            },
            "{name}"
        );
        let b = r
            .insert_appeal(&appeal(&t, None, "Яма"), "portal")
            .await
            .unwrap();
        let c = r
            .insert_appeal(&appeal(&t, None, "Яма"), "portal")
            .await
            .unwrap();
        assert!(
            b.created && c.created && b.id != c.id,
            "{name}: no external id, no dedup"
        );
        assert_eq!(r.count_appeals(&t).await.unwrap(), 3, "{name}");

        let stored = r.appeal(&t, a.id).await.unwrap().unwrap();
        assert_eq!(stored.data.text, "Немає світла", "{name}: first write wins");
        assert_eq!(stored.data.place.lat, Some(50.45));
        assert_eq!(stored.data.status, AppealStatus::Received);

        let outbox = r.pending_outbox(1_000_000).await.unwrap();
        let mine: Vec<i64> = outbox.iter().map(|o| o.appeal_id).collect();
        for id in [a.id, b.id, c.id] {
            let n = mine.iter().filter(|x| **x == id).count();
            assert_eq!(n, 1, "{name}: one index write per created appeal");
        }
        let trail = r.audit_trail(&t, a.id).await.unwrap();
        assert_eq!(trail.len(), 1, "{name}");
        assert_eq!(trail[0].action, "appeal.created");
        assert_eq!(trail[0].actor, "portal");

        let fetched = r.appeals_by_ids(&[c.id, a.id]).await.unwrap();
        assert_eq!(
            fetched.iter().map(|x| x.id).collect::<Vec<_>>(),
            vec![a.id, c.id]
        );
    }
}

#[tokio::test]
async fn one_tenant_never_sees_another_tenants_appeal() {
    for (name, db) in databases().await {
        let r = &db.record;
        let (ta, tb) = (tenant_id("a"), tenant_id("b"));
        r.upsert_tenant(&tenant(&ta)).await.unwrap();
        r.upsert_tenant(&tenant(&tb)).await.unwrap();
        let a = r
            .insert_appeal(&appeal(&ta, Some("x"), "текст"), "p")
            .await
            .unwrap();
        assert!(r.appeal(&tb, a.id).await.unwrap().is_none(), "{name}");
        assert!(r.audit_trail(&tb, a.id).await.unwrap().is_empty(), "{name}");
        // The same external id in another tenant is a different appeal.
        let b = r
            .insert_appeal(&appeal(&tb, Some("x"), "текст"), "p")
            .await
            .unwrap();
        assert!(b.created && b.id != a.id, "{name}");
        let err = r
            .insert_appeal(&appeal(&tenant_id("ghost"), None, "t"), "p")
            .await
            .unwrap_err();
        assert!(matches!(err, RecordError::UnknownTenant(_)), "{name}");
    }
}

#[tokio::test]
async fn audit_log_is_append_only_and_outbox_acks() {
    for (name, db) in databases().await {
        let r = &db.record;
        let t = tenant_id("audit");
        r.upsert_tenant(&tenant(&t)).await.unwrap();
        let a = r
            .insert_appeal(&appeal(&t, None, "текст"), "p")
            .await
            .unwrap();
        let upd = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE appeal_id = $1")
            .bind(a.id)
            .execute(r.pool())
            .await;
        assert!(upd.is_err(), "{name}: audit rows cannot change");
        let del = sqlx::query("DELETE FROM audit_log WHERE appeal_id = $1")
            .bind(a.id)
            .execute(r.pool())
            .await;
        assert!(del.is_err(), "{name}: audit rows cannot be deleted");
        let pending = r.pending_outbox(1_000_000).await.unwrap();
        let mine = pending.iter().find(|o| o.appeal_id == a.id).unwrap().seq;
        r.ack_outbox(&[mine]).await.unwrap();
        let after = r.pending_outbox(1_000_000).await.unwrap();
        assert!(after.iter().all(|o| o.seq != mine), "{name}");
    }
}

#[tokio::test]
async fn reopening_keeps_data_and_bad_urls_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("r.db").display());
    let r = Record::open(&url).await.unwrap();
    r.upsert_tenant(&tenant("kyiv")).await.unwrap();
    let id = r
        .insert_appeal(&appeal("kyiv", Some("e"), "t"), "p")
        .await
        .unwrap()
        .id;
    r.close().await;
    let r = Record::open(&url).await.unwrap();
    assert!(r.appeal("kyiv", id).await.unwrap().is_some());
    assert!(r.ping().await);
    let err = Record::open("mysql://x").await.err().unwrap();
    assert!(matches!(err, RecordError::UnsupportedUrl(_)));
}

/// Concurrent submissions and decisions all commit: SQLite write transactions
/// take the write lock up front instead of failing with "database is locked"
/// when a read-then-write transaction cannot be upgraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_all_commit() {
    for (name, db) in databases().await {
        let r = std::sync::Arc::new(db.record.clone());
        let t = tenant_id("concurrent");
        r.upsert_tenant(&tenant(&t)).await.unwrap();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (r, t) = (r.clone(), t.clone());
                tokio::spawn(async move {
                    let ext = format!("c-{i}");
                    let a = appeal(&t, Some(&ext), "Немає світла у під'їзді");
                    r.insert_appeal(&a, "portal").await
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            let inserted = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(inserted.created, "{name}");
            ids.push(inserted.id);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 64, "{name}");
        assert_eq!(r.count_appeals(&t).await.unwrap(), 64, "{name}");
    }
}

#[tokio::test]
async fn categories_are_stored_counted_filtered_and_seed_the_catalogue() {
    for (name, db) in databases().await {
        let r = &db.record;
        let t = tenant_id("categories");
        r.upsert_tenant(&tenant(&t)).await.unwrap();
        let with = |text: &str, category: &[&str], department: &str| AppealData {
            category: category.iter().map(|s| s.to_string()).collect(),
            status: AppealStatus::Imported,
            department: Some(department.into()),
            ..appeal(&t, None, text)
        };
        let rows = [
            with("Яма на дорозі", &["Дороги", "Ями_%"], "roads"),
            with("Ще одна яма", &["Дороги", "Ями_%"], "roads"),
            with("Немає води", &["Вода"], "water"),
            with("Без категорії", &[], "water"),
        ];
        for a in &rows {
            r.insert_appeal(a, "import").await.unwrap();
        }
        // Stored and read back as given (the JSON of the levels).
        let all = r
            .list_appeals(
                &t,
                &AppealQuery {
                    limit: 10,
                    ..AppealQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 4, "{name}");
        assert_eq!(all[0].data.category, ["Дороги", "Ями_%"], "{name}");
        assert!(all[3].data.category.is_empty(), "{name}");
        // A prefix of levels filters; a string prefix of a level does not,
        // and LIKE's wildcards in a level are literal.
        let filter = |levels: &[&str]| AppealQuery {
            limit: 10,
            category: levels.iter().map(|s| s.to_string()).collect(),
            ..AppealQuery::default()
        };
        for (levels, n) in [
            (&["Дороги"][..], 2),
            (&["Дороги", "Ями_%"][..], 2),
            (&["Дор"][..], 0),
            (&["Д_роги"][..], 0),
            (&["Вода"][..], 1),
        ] {
            let got = r.list_appeals(&t, &filter(levels)).await.unwrap();
            assert_eq!(got.len(), n, "{name}: {levels:?}");
        }
        // Routing counts confirmed cases per (department, district, category).
        let counts = r.area_counts(&t).await.unwrap();
        let roads = counts
            .iter()
            .find(|c| c.department == "roads")
            .expect("roads counted");
        assert_eq!((roads.n, roads.category.len()), (2, 2), "{name}");
        assert_eq!(counts.iter().map(|c| c.n).sum::<i64>(), 4, "{name}");
        // The catalogue is seeded once from what appeals carry.
        assert_eq!(r.seed_categories(&t, "uk").await.unwrap(), 2, "{name}");
        assert_eq!(r.seed_categories(&t, "uk").await.unwrap(), 0, "{name}");
        let cats = r.categories(&t).await.unwrap();
        let pits = cats
            .iter()
            .find(|c| c.path.len() == 2)
            .expect("the two-level path");
        assert_eq!(pits.code, code_of(&pits.path));
        assert_eq!(pits.names["uk"], "Ями_%");
        assert!(pits.active);
        // Marking a category as not a request is stored, and only it is.
        assert!(!pits.not_request && r.not_request_paths(&t).await.unwrap().is_empty());
        let mut marked = pits.clone();
        marked.not_request = true;
        r.upsert_category(&marked).await.unwrap();
        assert_eq!(
            r.not_request_paths(&t).await.unwrap(),
            vec![pits.path.clone()]
        );
        let again = r.categories(&t).await.unwrap();
        assert_eq!(again.iter().filter(|c| c.not_request).count(), 1, "{name}");
    }
}
