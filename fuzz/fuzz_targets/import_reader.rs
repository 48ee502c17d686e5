//! The CSV and JSON Lines import readers and the row mapping on arbitrary
//! bytes: every row is read or refused with a reason, never a panic.
#![no_main]

use appeal_triage::import::mapping::to_appeal;
use appeal_triage::import::reader::{CsvSource, JsonlSource};
use appeal_triage::import::{ColumnMap, MappingOptions, ReaderLimits, RowSource};
use libfuzzer_sys::fuzz_target;

fn drain<S: RowSource>(mut s: S) {
    let options = MappingOptions::utc("fuzz", 65_536);
    for _ in 0..100_000 {
        match s.next_row() {
            Ok(None) | Err(_) => return,
            Ok(Some(Ok(row))) => {
                let _ = to_appeal(&row, &options);
            }
            Ok(Some(Err(_))) => {}
        }
    }
    panic!("the source did not end");
}

fuzz_target!(|data: &[u8]| {
    let limits = ReaderLimits {
        max_record_bytes: 4096,
        max_fields: 32,
    };
    if let Ok(s) = CsvSource::new(data, &ColumnMap::default(), limits) {
        drain(s);
    }
    if let Ok(s) = JsonlSource::new(data, &ColumnMap::default(), limits) {
        drain(s);
    }
});
