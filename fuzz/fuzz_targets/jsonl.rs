//! The JSON-lines reader on arbitrary bytes: no panic, every line accounted for.
#![no_main]

use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{Source, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = Source::file(std::path::Path::new("fuzz.jsonl"));
    let opts = json::JsonOptions {
        step_col: None,
        values: ValuePolicy::default(),
    };
    if let Ok(parsed) = json::parse_lines(data, &source, &opts) {
        let a = &parsed.table.account;
        assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
    }
});
