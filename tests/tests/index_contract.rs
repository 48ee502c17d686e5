//! The contract every [`VectorIndex`] implementation must keep. It runs against
//! the embedded Qdrant engine here; the server adapter (later) runs the same
//! `contract` function.

use appeal_triage::index::*;

const DIM: usize = 16;

/// Deterministic unit vector number `i`.
fn vector(i: u64) -> Vec<f32> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

fn point(id: u64, tenant: &str) -> CasePoint {
    CasePoint {
        id,
        vector: vector(id),
        payload: CasePayload {
            tenant: tenant.into(),
            department: Some(format!("dept-{}", id % 3)),
            district: Some(format!("district-{}", id % 2)),
            status: if id.is_multiple_of(5) {
                "needs_review"
            } else {
                "decided"
            }
            .into(),
            received_at: 1_000 * id as i64,
            model: "test-model".into(),
        },
    }
}

/// The contract, for any implementation.
async fn contract(index: &dyn VectorIndex) {
    let v0 = index.version();
    let points: Vec<CasePoint> = (1..=60)
        .map(|i| point(i, if i <= 40 { "a" } else { "b" }))
        .collect();
    index.upsert(points).await.unwrap();
    assert!(index.version() > v0, "writes bump the version");
    assert_eq!(index.count(CaseFilter::tenant("a")).await.unwrap(), 40);
    assert_eq!(index.count(CaseFilter::tenant("b")).await.unwrap(), 20);
    assert_eq!(index.count(CaseFilter::tenant("nobody")).await.unwrap(), 0);

    // Nearest neighbour of a stored vector is itself, and results stay in the tenant.
    let hits = index
        .search(vector(7), CaseFilter::tenant("a"), 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 10);
    assert_eq!(hits[0].id, 7);
    assert!((hits[0].score - 1.0).abs() < 1e-4, "{}", hits[0].score);
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    assert!(hits.iter().all(|h| h.payload.tenant == "a" && h.id <= 40));
    assert_eq!(
        hits[0].payload,
        point(7, "a").payload,
        "payload round-trips"
    );
    let other = index
        .search(vector(7), CaseFilter::tenant("b"), 5)
        .await
        .unwrap();
    assert!(
        other.iter().all(|h| h.id > 40),
        "tenant b never sees tenant a"
    );

    // Every filter field.
    let f = CaseFilter {
        department: Some("dept-1".into()),
        district: Some("district-0".into()),
        ..CaseFilter::tenant("a")
    };
    let want = (1..=40).filter(|i| i % 3 == 1 && i % 2 == 0).count() as u64;
    assert_eq!(index.count(f.clone()).await.unwrap(), want);
    for h in index.search(vector(3), f, 40).await.unwrap() {
        assert_eq!(h.id % 6, 4, "dept-1 and district-0: {}", h.id);
    }
    let f = CaseFilter {
        statuses: vec!["needs_review".into()],
        ..CaseFilter::tenant("a")
    };
    assert_eq!(index.count(f).await.unwrap(), 8);
    let f = CaseFilter {
        statuses: vec!["needs_review".into(), "decided".into()],
        ..CaseFilter::tenant("a")
    };
    assert_eq!(index.count(f).await.unwrap(), 40);
    let f = CaseFilter {
        received_from: Some(10_000),
        received_before: Some(20_000),
        ..CaseFilter::tenant("a")
    };
    assert_eq!(index.count(f.clone()).await.unwrap(), 10, "ids 10..=19");
    for h in index.search(vector(1), f, 40).await.unwrap() {
        assert!((10..20).contains(&h.id));
    }

    // Upsert replaces; delete removes; absent ids are fine.
    let mut moved = point(7, "a");
    moved.payload.department = Some("dept-new".into());
    index.upsert(vec![moved]).await.unwrap();
    let f = CaseFilter {
        department: Some("dept-new".into()),
        ..CaseFilter::tenant("a")
    };
    assert_eq!(index.count(f).await.unwrap(), 1);
    assert_eq!(index.count(CaseFilter::tenant("a")).await.unwrap(), 40);
    index.delete(vec![7, 8, 9999]).await.unwrap();
    assert_eq!(index.count(CaseFilter::tenant("a")).await.unwrap(), 38);
    let hits = index
        .search(vector(7), CaseFilter::tenant("a"), 3)
        .await
        .unwrap();
    assert!(hits.iter().all(|h| h.id != 7 && h.id != 8));

    // Bad input is a typed error and changes nothing.
    let mut bad = point(500, "a");
    bad.vector.pop();
    let err = index.upsert(vec![point(501, "a"), bad]).await.unwrap_err();
    assert!(
        matches!(err, IndexError::Dimension { got: 15, want: 16 }),
        "{err:?}"
    );
    assert_eq!(index.count(CaseFilter::tenant("a")).await.unwrap(), 38);
    assert!(index
        .search(vec![0.0; 3], CaseFilter::tenant("a"), 3)
        .await
        .is_err());
    assert!(index
        .search(vector(1), CaseFilter::tenant("a"), 0)
        .await
        .unwrap()
        .is_empty());

    index.flush().await.unwrap();
    index.optimize().await.unwrap();
    assert_eq!(index.count(CaseFilter::tenant("a")).await.unwrap(), 38);
}

#[tokio::test]
async fn embedded_index_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let index = EmbeddedIndex::open(&dir.path().join("index"), DIM).unwrap();
    contract(&index).await;
}

#[tokio::test]
async fn embedded_index_persists_across_reopen_and_refuses_a_second_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let index = EmbeddedIndex::open(&path, DIM).unwrap();
        index
            .upsert((1..=25).map(|i| point(i, "a")).collect())
            .await
            .unwrap();
        let err = EmbeddedIndex::open(&path, DIM).err().unwrap();
        assert!(matches!(err, IndexError::InUse(_)), "{err:?}");
        assert!(err.to_string().contains("already in use"));
    }
    let index = EmbeddedIndex::open(&path, DIM).unwrap();
    assert_eq!(index.count(CaseFilter::tenant("a")).await.unwrap(), 25);
    let hits = index
        .search(vector(3), CaseFilter::tenant("a"), 1)
        .await
        .unwrap();
    assert_eq!(hits[0].id, 3);
}
