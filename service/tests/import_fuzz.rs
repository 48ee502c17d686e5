//! Property tests of the import readers and the row mapping over arbitrary
//! input: any bytes, and CSV / JSON Lines built from arbitrary Unicode
//! (case-folding specials, combining marks, RTL, zero-width, control
//! characters, quotes). Every row is read or refused with a reason; nothing
//! panics, loops or is mapped to an appeal without text content. The same
//! bodies reach the readers through `POST /v1/import`.

use appeal_triage::import::mapping::to_appeal;
use appeal_triage::import::reader::{CsvSource, JsonlSource};
use appeal_triage::import::{ColumnMap, MappingOptions, ReaderLimits, RowSource};
use proptest::prelude::*;

/// Reads every item; the source must end (no endless loop) within a bound.
fn drain<S: RowSource>(mut s: S, max: usize) {
    let options = MappingOptions::utc("fuzz", 65_536);
    for _ in 0..max {
        match s.next_row() {
            Ok(None) | Err(_) => return,
            Ok(Some(Ok(row))) => {
                if let Ok(a) = to_appeal(&row, &options) {
                    assert!(
                        triage_domain::text::has_letter_or_digit(&a.text),
                        "a mapped appeal holds a letter or digit: {:?}",
                        a.text
                    );
                }
            }
            Ok(Some(Err(_))) => {}
        }
    }
    panic!("the source did not end after {max} items");
}

fn limits() -> ReaderLimits {
    ReaderLimits {
        max_record_bytes: 4096,
        max_fields: 32,
    }
}

/// Characters that break naive text handling.
fn tricky() -> impl Strategy<Value = String> {
    let specials = prop::sample::select(vec![
        '\u{212A}', '\u{017F}', 'İ', 'ı', 'ß', 'ς', 'Σ', '\u{0301}', '\u{200B}', '\u{200F}',
        '\u{202E}', '\u{FEFF}', '\u{0000}', '\u{0001}', '\u{001B}', '\n', '\r', '"', ',', '\\',
        'ї', 'Қ', 'ё', '№', '€', '0', '9', '+', '@', ' ',
    ]);
    prop::collection::vec(prop_oneof![specials, any::<char>()], 0..80)
        .prop_map(|cs| cs.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_read_or_refused(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(s) = CsvSource::new(&data[..], &ColumnMap::default(), limits()) {
            drain(s, 4096);
        }
        if let Ok(s) = JsonlSource::new(&data[..], &ColumnMap::default(), limits()) {
            drain(s, 4096);
        }
    }

    #[test]
    fn csv_of_tricky_text_is_read_or_refused(
        rows in prop::collection::vec((tricky(), tricky(), tricky()), 1..8),
    ) {
        let mut csv = String::from("id,created_at,text,district,department\n");
        for (i, (text, district, department)) in rows.iter().enumerate() {
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            csv.push_str(&format!(
                "{i},2024-01-02T10:00:00Z,{},{},{}\n",
                q(text), q(district), q(department)
            ));
        }
        let s = CsvSource::new(csv.as_bytes(), &ColumnMap::default(), limits()).unwrap();
        drain(s, 64);
    }

    #[test]
    fn jsonl_of_tricky_text_is_read_or_refused(
        rows in prop::collection::vec((tricky(), tricky()), 1..8),
    ) {
        let mut lines = String::new();
        for (i, (text, department)) in rows.iter().enumerate() {
            lines.push_str(&serde_json::json!({
                "id": i.to_string(),
                "created_at": "2024-01-02T10:00:00Z",
                "text": text,
                "department": department,
            }).to_string());
            lines.push('\n');
        }
        let s = JsonlSource::new(lines.as_bytes(), &ColumnMap::default(), limits()).unwrap();
        drain(s, 64);
    }
}
