//! Backup and restore of the embedded configuration (SQLite record + embedded
//! Qdrant index, tiny real BERT): a round trip gives back the same appeals and
//! the same search results; restore refuses to overwrite without force and
//! refuses a damaged backup.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use appeal_triage::backup::{self, BackupError};
use appeal_triage::datadir::DataDir;
use appeal_triage::import::{
    self, ColumnMap, ImportOptions, MappingOptions, ReaderLimits, RejectLog,
};
use appeal_triage::index::{CaseFilter, EmbeddedIndex, Hit};
use appeal_triage::memory::CaseMemory;
use appeal_triage::record::{Jurisdiction, Record, Tenant};
use triage_models::{Embedder, EmbedderOptions, Role};
use triage_tests::tiny_embedder;

const QUERY: &str = "Не горит фонарь у дома 7";

async fn memory(data: &DataDir, embedder: &Arc<Embedder>) -> CaseMemory {
    let record = Record::open(&data.record_url()).await.unwrap();
    let index = EmbeddedIndex::open(&data.index_dir(), embedder.dim()).unwrap();
    CaseMemory::new(record, Arc::new(index), embedder.clone())
}

async fn search(m: &CaseMemory, tenant: &str) -> Vec<Hit> {
    let v = m
        .embed(vec![QUERY.into()], Role::Query)
        .await
        .unwrap()
        .remove(0);
    m.search(&v, CaseFilter::tenant(tenant), 10).await.unwrap()
}

/// Imports 150 appeals into each of two tenants.
async fn populate(data: &DataDir, embedder: &Arc<Embedder>, csv: &Path) {
    let m = memory(data, embedder).await;
    let topics = ["Мусор во дворе", "Не горит фонарь", "Яма на дороге"];
    let mut s = String::from("id,created_at,text,district,department\n");
    for i in 0..150 {
        s += &format!(
            "{i},2020-12-{:02},\"{} у дома {i}\",Невский,Отдел {}\n",
            1 + i % 28,
            topics[i % 3],
            i % 4
        );
    }
    std::fs::write(csv, s).unwrap();
    for tenant in ["spb", "kyiv"] {
        m.record()
            .upsert_tenant(&Tenant {
                id: tenant.into(),
                name: tenant.into(),
                jurisdiction: Jurisdiction::Ru,
                alpha: 0.1,
                auto_threshold: 0.9,
            })
            .await
            .unwrap();
        let (mut source, _) =
            import::open_source(csv, None, &ColumnMap::default(), ReaderLimits::default()).unwrap();
        let stats = import::run(
            &m,
            source.as_mut(),
            &ImportOptions {
                mapping: MappingOptions::utc(tenant, 4096),
                batch_size: 64,
                actor: "import".into(),
            },
            &mut RejectLog::new(None).unwrap(),
            &AtomicBool::new(false),
            &mut |_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(stats.imported, 150);
    }
    m.index().flush().await.unwrap();
}

#[tokio::test]
async fn backup_wipe_restore_gives_the_same_counts_and_search_results() {
    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(tiny_embedder(EmbedderOptions::default()));
    let data_dir = dir.path().join("data");
    let bk = dir.path().join("backup");

    let before = {
        let data = DataDir::open(&data_dir).unwrap();
        populate(&data, &embedder, &dir.path().join("a.csv")).await;
        let m = memory(&data, &embedder).await;
        let hits = search(&m, "spb").await;
        assert_eq!(hits.len(), 10);
        drop(m);
        let manifest = backup::backup(&data, &bk, &embedder).await.unwrap();
        assert_eq!(manifest.appeals["spb"], 150);
        assert_eq!(manifest.points["kyiv"], 150);
        assert_eq!(manifest.outbox_pending, 0);
        assert_eq!(
            manifest.model_fingerprint,
            embedder.fingerprint().to_string()
        );
        assert_eq!(
            backup::model_fingerprint(embedder.dir()).unwrap(),
            manifest.model_fingerprint,
            "fingerprint computed without loading the model"
        );
        assert!(manifest.files.iter().any(|f| f.path == "record.db"));
        assert!(manifest.files.iter().any(|f| f.path.starts_with("index/")));
        hits
    };
    // A second backup into the same directory is refused.
    {
        let data = DataDir::open(&data_dir).unwrap();
        let e = backup::backup(&data, &bk, &embedder).await.unwrap_err();
        assert!(matches!(e, BackupError::DestinationNotEmpty(_)), "{e}");
    }

    // Restoring over live data needs force.
    {
        let data = DataDir::open(&data_dir).unwrap();
        let e = backup::restore(&data, &bk, false).await.unwrap_err();
        assert!(matches!(e, BackupError::TargetNotEmpty(_)), "{e}");
        assert!(e.to_string().contains("--force"));
    }

    // Wipe, restore, compare.
    std::fs::remove_dir_all(&data_dir).unwrap();
    let data = DataDir::open(&data_dir).unwrap();
    let manifest = backup::restore(&data, &bk, false).await.unwrap();
    assert_eq!(manifest.total_appeals(), 300);
    let m = memory(&data, &embedder).await;
    assert_eq!(m.record().count_appeals("spb").await.unwrap(), 150);
    assert_eq!(m.record().count_appeals("kyiv").await.unwrap(), 150);
    assert_eq!(
        m.index().count(CaseFilter::tenant("kyiv")).await.unwrap(),
        150
    );
    let after = search(&m, "spb").await;
    assert_eq!(after, before, "same hits, scores and payloads");
    drop(m);

    // Forced restore over existing data works too.
    let again = backup::restore(&data, &bk, true).await.unwrap();
    assert_eq!(again.total_points(), 300);
}

#[tokio::test]
async fn a_damaged_backup_is_refused_before_the_data_directory_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(tiny_embedder(EmbedderOptions::default()));
    let bk = dir.path().join("backup");
    {
        let data = DataDir::open(&dir.path().join("data")).unwrap();
        populate(&data, &embedder, &dir.path().join("a.csv")).await;
        backup::backup(&data, &bk, &embedder).await.unwrap();
    }
    // Flip one byte of the record copy.
    let db = bk.join("record.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();

    let target = DataDir::open(&dir.path().join("fresh")).unwrap();
    let e = backup::restore(&target, &bk, false).await.unwrap_err();
    assert!(matches!(e, BackupError::Damaged { .. }), "{e}");
    assert!(e.to_string().contains("record.db"), "{e}");
    assert!(
        !target.root().join("record.db").exists(),
        "nothing restored"
    );

    // No manifest: an unfinished backup.
    std::fs::remove_file(bk.join(backup::MANIFEST)).unwrap();
    let e = backup::restore(&target, &bk, false).await.unwrap_err();
    assert!(matches!(e, BackupError::Manifest { .. }), "{e}");
}
