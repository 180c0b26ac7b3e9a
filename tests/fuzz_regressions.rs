//! Inputs the fuzzers (`fuzz/run.sh`) found crashing, kept after the fix: each file under
//! `fixtures/fuzz-regressions/` goes through every parser as the fuzz targets feed them (debug
//! assertions on), and through the binary, which must exit 0, 1 or 2 — never panic.

mod common;

use std::io::Write;
use std::time::Duration;

use assert_cmd::Command;
use jepa_doctor::ingest::csv::{self, CsvOptions};
use jepa_doctor::ingest::progress::Progress;
use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{Parsed, Source, console, framework, json, sniff, tensorboard, wandb};
use jepa_doctor::model::Format;

fn accounted(parsed: &Parsed) -> bool {
    let a = &parsed.table.account;
    a.rows_read == a.rows_used + a.rows_skipped + a.rows_replaced
}

#[test]
fn crashing_inputs_found_by_fuzzing_stay_fixed() {
    let dir = common::fixture("fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {dir}");
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let source = Source::file(path);
        for format in [Format::VjepaCsv, Format::Csv] {
            let opts = CsvOptions {
                format,
                delimiter: sniff::delimiter(&data),
                step_col: None,
                values: ValuePolicy::default(),
            };
            let general = csv::parse(data.as_slice(), &source, &opts);
            assert!(general.as_ref().map_or(true, accounted), "{path:?}");
            let mut file = tempfile::NamedTempFile::new().unwrap();
            file.write_all(&data).unwrap();
            let fast = csv::parse_file_fast(file.path(), &source, &opts, 64, &Progress::hidden());
            if let (Ok(Some(fast)), Ok(general)) = (&fast, &general) {
                assert_eq!(fast.table.account, general.table.account, "{path:?}");
            }
        }
        let jopts = json::JsonOptions {
            step_col: None,
            values: ValuePolicy::default(),
        };
        let lines = json::parse_lines(data.as_slice(), &source, &jopts);
        assert!(lines.as_ref().map_or(true, accounted), "{path:?}");
        let document = json::parse_document(data.as_slice(), &source, &jopts);
        assert!(document.as_ref().map_or(true, accounted), "{path:?}");
        let log = console::parse(data.as_slice(), &source, &ValuePolicy::default());
        assert!(log.as_ref().map_or(true, accounted), "{path:?}");
        // The tracker and framework readers (fuzz targets tensorboard, wandb_records,
        // framework_logs).
        let values = ValuePolicy::default();
        let events = tensorboard::parse(data.as_slice(), &source, &values);
        assert!(events.as_ref().map_or(true, accounted), "{path:?}");
        let history = wandb::parse_transaction_log(data.as_slice(), &source.name, &values);
        assert!(history.as_ref().map_or(true, accounted), "{path:?}");
        let export = wandb::parse_export(data.as_slice(), &source, None, &values);
        assert!(export.as_ref().map_or(true, accounted), "{path:?}");
        let fairseq = framework::parse_fairseq(std::io::Cursor::new(data.clone()), &source, &jopts);
        assert!(fairseq.as_ref().map_or(true, accounted), "{path:?}");

        let out = Command::cargo_bin("jepa-doctor")
            .unwrap()
            .timeout(Duration::from_secs(30))
            .args(["analyze", "-q"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{path:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
