//! History import into a real case memory (SQLite record, embedded Qdrant
//! engine, tiny real BERT): row validation and the rejection report, resuming,
//! duplicates, bad files, and streaming past records far larger than the limit.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use appeal_triage::datadir::DataDir;
use appeal_triage::import::{
    self, ColumnMap, Format, ImportError, ImportOptions, ImportStats, MappingOptions, ReaderLimits,
    RejectLog, SourceError,
};
use appeal_triage::index::{CaseFilter, EmbeddedIndex};
use appeal_triage::memory::CaseMemory;
use appeal_triage::record::{AppealStatus, Jurisdiction, Record, Tenant};
use triage_models::EmbedderOptions;
use triage_tests::tiny_embedder;

const TENANT: &str = "spb";
const HEADER: &str =
    "id,created_at,text,district,municipality,lat,lon,category,reason,department,final_status\n";

struct Memory {
    memory: CaseMemory,
    _data: DataDir,
}

async fn open_memory(dir: &Path) -> Memory {
    let data = DataDir::open(dir).unwrap();
    let record = Record::open(&data.record_url()).await.unwrap();
    record
        .upsert_tenant(&Tenant {
            id: TENANT.into(),
            name: "St Petersburg".into(),
            jurisdiction: Jurisdiction::Ru,
            alpha: 0.1,
            auto_threshold: 0.9,
        })
        .await
        .unwrap();
    let embedder = Arc::new(tiny_embedder(EmbedderOptions::default()));
    let index = EmbeddedIndex::open(&data.index_dir(), embedder.dim()).unwrap();
    Memory {
        memory: CaseMemory::new(record, Arc::new(index), embedder),
        _data: data,
    }
}

fn options(max_text_bytes: usize) -> ImportOptions {
    ImportOptions {
        mapping: MappingOptions::utc(TENANT, max_text_bytes),
        batch_size: 16,
        actor: "import".into(),
    }
}

async fn import_file(
    m: &Memory,
    path: &Path,
    opts: &ImportOptions,
    limits: ReaderLimits,
    rejects: Option<&Path>,
) -> ImportStats {
    let (mut source, _) = import::open_source(path, None, &ColumnMap::default(), limits).unwrap();
    let mut log = RejectLog::new(rejects).unwrap();
    import::run(
        &m.memory,
        source.as_mut(),
        opts,
        &mut log,
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
    .await
    .unwrap()
}

fn row(id: &str, date: &str, text: &str, district: &str, department: &str) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    format!(
        "{id},{date},{},{},МО,59.9,30.3,cat,reason,{},done\n",
        q(text),
        q(district),
        q(department)
    )
}

async fn index_count(m: &Memory) -> u64 {
    m.memory
        .index()
        .count(CaseFilter::tenant(TENANT))
        .await
        .unwrap()
}

#[tokio::test]
async fn good_rows_are_imported_and_each_bad_row_is_reported_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("appeals.csv");
    let mut s = String::from(HEADER);
    s += &row(
        "1",
        "2020-10-18T14:50:40.817676",
        "Мусор во дворе",
        "Приморский",
        "ЖА Приморского района",
    );
    s += &row(
        "2",
        "2020-10-18",
        "Не работает фонарь, звонить +7 921 555-12-34",
        "Колпинский",
        "Администрация Колпинского района",
    );
    s += &row("3", "2020-10-19T08:00:00Z", "", "Приморский", "x"); // missing text (row 3)
    s += &row(
        "4",
        "2020-10-19",
        &"Очень длинное ".repeat(40),
        "Приморский",
        "x",
    ); // > 300 bytes (row 4)
    s += &row("5", "19.10.2020", "Дата не та", "Приморский", "x"); // unparseable date (row 5)
    s += &row("", "2020-10-19", "Без номера", "Приморский", "x"); // missing id (row 6)
    s += "7,2020-10-19,too,few,fields\n"; // malformed row (row 7)
    s += &row(
        "1",
        "2020-10-18T14:50:40.817676",
        "Мусор во дворе",
        "Приморский",
        "ЖА Приморского района",
    ); // exact duplicate (row 8)
    s += &row("2", "2020-10-18", "Совсем другой текст", "Колпинский", "x"); // same id, other text (row 9)
    s += &row(
        "10",
        "2020-10-20",
        "Яма на дороге",
        "Невский",
        "Комитет по благоустройству",
    );
    s += "11,2020-10-20,\"quote never closed,Невский,МО,1,2,c,r,d,s\n12,2020-10-21,swallowed,Невский,МО,1,2,c,r,d,s\n"; // broken quote (row 11)
    std::fs::write(&csv, s).unwrap();
    let rejects = dir.path().join("rejects.csv");

    let m = open_memory(&dir.path().join("data")).await;
    let stats = import_file(
        &m,
        &csv,
        &options(300),
        ReaderLimits::default(),
        Some(&rejects),
    )
    .await;

    assert_eq!(stats.read, 11, "{stats}");
    assert_eq!(stats.imported, 3, "{stats}");
    assert_eq!(stats.duplicates, 1, "{stats}");
    assert_eq!(stats.rejected, 7, "{stats}");
    let report = std::fs::read_to_string(&rejects).unwrap();
    let codes: Vec<(String, String)> = report
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[3].to_string())
        })
        .collect();
    let expected = [
        ("3", "missing_text"),
        ("4", "text_too_large"),
        ("5", "bad_date"),
        ("6", "missing_id"),
        ("7", "malformed_row"),
        ("9", "conflicting_duplicate"),
        ("11", "malformed_row"),
    ];
    for (r, code) in expected {
        assert!(
            codes.contains(&(r.to_string(), code.to_string())),
            "row {r} should be rejected as {code}; report:\n{report}"
        );
    }

    // Exactly the good rows are in the record and in the index, with the right payload.
    let record = m.memory.record();
    assert_eq!(record.count_appeals(TENANT).await.unwrap(), 3);
    assert_eq!(index_count(&m).await, 3);
    let known = record
        .known_external_ids(TENANT, &["1", "2", "10"])
        .await
        .unwrap();
    let ids: Vec<u64> = ["1", "2", "10"]
        .iter()
        .map(|e| known[*e].id as u64)
        .collect();
    let points = m.memory.index().retrieve(ids.clone()).await.unwrap();
    assert_eq!(points.len(), 3);
    for p in &points {
        let a = record.appeal(TENANT, p.id as i64).await.unwrap().unwrap();
        assert_eq!(a.data.status, AppealStatus::Imported);
        assert_eq!(p.payload, m.memory.payload_of(&a), "index payload = record");
        assert_eq!(p.payload.status, "imported");
    }
    let two = record.appeal(TENANT, ids[1] as i64).await.unwrap().unwrap();
    assert!(
        two.data.text.contains("555-12-34"),
        "original kept in the record"
    );
    assert!(
        !two.data.redacted_text.contains("555"),
        "phone masked in what is embedded: {}",
        two.data.redacted_text
    );
    assert_eq!(two.data.place.district.as_deref(), Some("Колпинский"));
    assert_eq!(
        two.data.department.as_deref(),
        Some("Администрация Колпинского района")
    );
    assert_eq!(
        two.data.received_at, 1_602_979_200_000,
        "2020-10-18 UTC midnight"
    );
}

#[tokio::test]
async fn a_rerun_skips_stored_rows_before_embedding_and_imports_only_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("appeals.csv");
    let mut s = String::from(HEADER);
    for i in 0..40 {
        s += &row(
            &i.to_string(),
            "2020-11-01",
            &format!("Обращение номер {i} про двор"),
            "Невский",
            "ЖА",
        );
    }
    std::fs::write(&csv, &s).unwrap();
    let m = open_memory(&dir.path().join("data")).await;
    let first = import_file(&m, &csv, &options(4096), ReaderLimits::default(), None).await;
    assert_eq!((first.imported, first.already_present), (40, 0));
    let writes = m.memory.index().version();

    let second = import_file(&m, &csv, &options(4096), ReaderLimits::default(), None).await;
    assert_eq!(
        (second.imported, second.already_present, second.rejected),
        (0, 40, 0)
    );
    assert_eq!(
        m.memory.index().version(),
        writes,
        "nothing re-embedded or re-written"
    );

    // The file grows (an interrupted import resumed, or a newer export): only the tail is new.
    for i in 40..50 {
        s += &row(
            &i.to_string(),
            "2020-11-02",
            &format!("Новое обращение {i}"),
            "Невский",
            "ЖА",
        );
    }
    std::fs::write(&csv, &s).unwrap();
    let third = import_file(&m, &csv, &options(4096), ReaderLimits::default(), None).await;
    assert_eq!((third.imported, third.already_present), (10, 40));
    assert_eq!(m.memory.record().count_appeals(TENANT).await.unwrap(), 50);
    assert_eq!(index_count(&m).await, 50);
}

#[tokio::test]
async fn bad_files_fail_before_any_row_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str, content: &str, format: Option<Format>| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        import::open_source(&p, format, &ColumnMap::default(), ReaderLimits::default())
            .err()
            .expect("refused")
    };
    let e = open("no-text.csv", "id,created_at,body\n1,2020-10-18,x\n", None);
    assert!(
        matches!(e, ImportError::Source(SourceError::MissingColumn { .. })),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("\"text\"") && msg.contains("--text-col") && msg.contains("body"),
        "{msg}"
    );

    let e = open("empty.csv", "", None);
    assert!(matches!(e, ImportError::Source(SourceError::Empty)), "{e}");
    let e = open("empty.jsonl", "", None);
    assert!(matches!(e, ImportError::Source(SourceError::Empty)), "{e}");
    let e = open("appeals.txt", "id\n", None);
    assert!(e.to_string().contains("--format"), "{e}");
}

#[tokio::test]
async fn records_far_over_the_limit_are_streamed_past_and_the_import_continues() {
    // ~48 MB file: three 16 MB records (one of them a quoted field that runs
    // over many lines) between ordinary rows. The reader holds at most the
    // 256 KiB record limit, so memory stays flat; the giants are rejected.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    f.write_all(HEADER.as_bytes()).unwrap();
    let giant = "ы".repeat(8 << 20); // 16 MB of UTF-8
    let mut n_good = 0;
    for block in 0..3 {
        for i in 0..30 {
            let id = format!("{block}-{i}");
            f.write_all(
                row(
                    &id,
                    "2020-12-01",
                    &format!("Жалоба {id}"),
                    "Адмиралтейский",
                    "ЖА",
                )
                .as_bytes(),
            )
            .unwrap();
            n_good += 1;
        }
        let text = if block == 1 {
            giant.replace("ыыыыыыыы", "ыыыыыыы\n") // many lines inside quotes
        } else {
            giant.clone()
        };
        f.write_all(
            row(
                &format!("giant-{block}"),
                "2020-12-01",
                &text,
                "Адмиралтейский",
                "ЖА",
            )
            .as_bytes(),
        )
        .unwrap();
    }
    f.flush().unwrap();
    drop(f);
    assert!(std::fs::metadata(&csv).unwrap().len() > 48_000_000);

    let m = open_memory(&dir.path().join("data")).await;
    let limits = ReaderLimits {
        max_record_bytes: 256 << 10,
        ..ReaderLimits::default()
    };
    let rejects = dir.path().join("rejects.csv");
    let stats = import_file(&m, &csv, &options(65_536), limits, Some(&rejects)).await;
    assert_eq!(stats.imported, n_good, "{stats}");
    assert_eq!(stats.rejected, 3, "{stats}");
    let report = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(report.matches("record_too_large").count(), 3, "{report}");
    assert_eq!(index_count(&m).await, n_good);
}

#[tokio::test]
async fn json_lines_import_maps_keys_like_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appeals.jsonl");
    std::fs::write(
        &path,
        "{\"id\": 101, \"created_at\": \"2021-01-05T10:00:00+03:00\", \"text\": \"Сосульки на крыше\", \"district\": \"Центральный\", \"lat\": 59.93, \"department\": \"ЖА Центрального района\"}\n\
         {\"id\": 102, \"created_at\": \"2021-01-05\", \"text\": \"Не убран снег\", \"lat\": \"north\"}\n\
         {\"id\": 103, \"created_at\": \"2021-01-06\"\n\
         {\"id\": 104, \"created_at\": \"2021-01-06\", \"text\": \"Снег во дворе\", \"district\": null}\n",
    )
    .unwrap();
    let m = open_memory(&dir.path().join("data")).await;
    let stats = import_file(&m, &path, &options(4096), ReaderLimits::default(), None).await;
    assert_eq!(
        (stats.read, stats.imported, stats.rejected),
        (4, 2, 2),
        "{stats}"
    );
    let known = m
        .memory
        .record()
        .known_external_ids(TENANT, &["101", "104"])
        .await
        .unwrap();
    let a = m
        .memory
        .record()
        .appeal(TENANT, known["101"].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.data.received_at, 1_609_830_000_000, "offset honoured");
    assert_eq!(a.data.place.lat, Some(59.93));
    assert_eq!(a.data.department.as_deref(), Some("ЖА Центрального района"));
    assert_eq!(index_count(&m).await, 2);
}
