//! The W&B readers on arbitrary bytes: the offline transaction log (`run-*.wandb`: LevelDB-log
//! blocks, CRC-32, FULL/FIRST/MIDDLE/LAST records, `HistoryRecord` protobufs) and the UI's CSV
//! export. Bytes that do not start with the log header get it prepended, so the fuzzer spends its
//! time in the record framing rather than on the 7-byte header.
#![no_main]

use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{Parsed, Source, wandb};
use libfuzzer_sys::fuzz_target;

fn accounted(parsed: &Parsed) {
    let a = &parsed.table.account;
    assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
}

fuzz_target!(|data: &[u8]| {
    let values = ValuePolicy::default();
    let mut log = Vec::with_capacity(data.len() + 7);
    if !data.starts_with(b":W&B") {
        log.extend_from_slice(b":W&B\xe1\xbe\x00");
    }
    log.extend_from_slice(data);
    if let Ok(parsed) = wandb::parse_transaction_log(log.as_slice(), "run-fuzz.wandb", &values) {
        accounted(&parsed);
    }
    let source = Source::file(std::path::Path::new("wandb_export.csv"));
    if let Ok(parsed) = wandb::parse_export(data, &source, None, &values) {
        accounted(&parsed);
    }
});
