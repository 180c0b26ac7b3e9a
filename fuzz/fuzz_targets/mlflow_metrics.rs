//! The MLflow file-store reader on arbitrary metric-file lines (`timestamp value step`) and
//! param values: the bytes become `metrics/loss` and `params/lr` of a one-run store, read as
//! `analyze mlruns/` would.
#![no_main]

use std::fs;

use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{Source, mlflow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("mlruns");
    let run = store.join("1").join("0123456789abcdef");
    fs::create_dir_all(run.join("metrics")).expect("store");
    fs::create_dir_all(run.join("params")).expect("store");
    fs::write(store.join("1").join("meta.yaml"), "experiment_id: '1'\nname: fuzz\n").expect("meta");
    fs::write(
        run.join("meta.yaml"),
        "run_id: 0123456789abcdef\nrun_name: fuzz\nlifecycle_stage: active\n",
    )
    .expect("meta");
    fs::write(run.join("metrics").join("loss"), data).expect("metric");
    fs::write(run.join("params").join("lr"), data).expect("param");
    let source = Source::file(&store);
    if let Ok(read) = mlflow::read(&store, &source, None, &ValuePolicy::default()) {
        for (_, parsed) in &read.parsed {
            let a = &parsed.table.account;
            assert_eq!(a.rows_read, a.rows_used + a.rows_skipped + a.rows_replaced);
        }
    }
});
