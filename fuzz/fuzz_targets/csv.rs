//! The CSV readers on arbitrary bytes: the general parser must not panic and must account for
//! every row; the fast path (which reads a file) must agree with it or give up.
#![no_main]

use std::io::Write;

use jepa_doctor::ingest::csv::{self, CsvOptions};
use jepa_doctor::ingest::progress::Progress;
use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{Source, sniff};
use jepa_doctor::model::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = Source::file(std::path::Path::new("fuzz.csv"));
    for format in [Format::VjepaCsv, Format::Csv] {
        let opts = CsvOptions {
            format,
            delimiter: sniff::delimiter(data),
            step_col: None,
            values: ValuePolicy::default(),
        };
        let general = csv::parse(data, &source, &opts);
        if let Ok(parsed) = &general {
            let a = &parsed.table.account;
            assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
        }
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(data).expect("write");
        match (
            csv::parse_file_fast(file.path(), &source, &opts, 64, &Progress::hidden()),
            &general,
        ) {
            (Ok(Some(fast)), Ok(general)) => {
                assert_eq!(fast.table.account, general.table.account);
                assert_eq!(fast.table.keys, general.table.keys);
                assert_eq!(fast.table.skipped, general.table.skipped);
            }
            (Ok(Some(_)), Err(e)) => panic!("fast path read what the general parser refused: {e}"),
            (Err(e), Ok(_)) => panic!("fast path failed where the general parser read: {e}"),
            _ => {}
        }
    }
});
