//! The console-log reader (V-JEPA / I-JEPA stdout) on arbitrary bytes.
#![no_main]

use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{Source, console};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = Source::file(std::path::Path::new("fuzz.log"));
    if let Ok(parsed) = console::parse(data, &source, &ValuePolicy::default()) {
        let a = &parsed.table.account;
        assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
    }
});
