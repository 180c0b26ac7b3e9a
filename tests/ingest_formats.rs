//! End-to-end: one run written by every logging library we read (fixtures/formats/, made by
//! tools/make_format_fixtures.py with the real writers, hand copies named so) gives the same
//! series, roles, values and verdict as the same run in CSV; multi-run sources are never averaged;
//! compressed inputs read transparently and other binary formats are named.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use common::{copy_tree, doctor, fixture};
use serde_json::Value;

/// `analyze INPUT --json=-` (exit 0 or 1) as JSON.
fn report(args: &[&str]) -> Value {
    json_of("analyze", args)
}

/// `COMMAND ARGS --json=-` (exit 0 or 1) as JSON.
fn json_of(command: &str, args: &[&str]) -> Value {
    let out = doctor()
        .arg(command)
        .args(args)
        .arg("--json=-")
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// `analyze` that must exit 2; its stderr.
fn refusal(args: &[&str]) -> String {
    let out = doctor().arg("analyze").args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The cleaned series as exported (`--export=-`): name → (step, value as printed).
fn exported(input: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let out = doctor()
        .args(["analyze", input, "--export=-"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{input}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut series: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        for (name, cell) in header.iter().zip(&cells).skip(1) {
            if !cell.is_empty() {
                series
                    .entry(name.to_string())
                    .or_default()
                    .push((cells[0].to_string(), cell.to_string()));
            }
        }
    }
    series
}

/// What must agree between formats: verdict, rebound, and each series' role and extent.
fn essentials(r: &Value) -> (Value, Value, Value, BTreeMap<String, String>) {
    let series = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                format!(
                    "{} {} {} {}",
                    s["role"], s["points"], s["first_step"], s["last_step"]
                ),
            )
        })
        .collect();
    let findings: Vec<Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].clone())
        .collect();
    (
        r["verdict"].clone(),
        r["rebound"].clone(),
        Value::from(findings),
        series,
    )
}

#[path = "ingest_formats/same_run.rs"]
mod same_run;

#[path = "ingest_formats/layouts_below.rs"]
mod layouts_below;

#[path = "ingest_formats/several_runs.rs"]
mod several_runs;

#[path = "ingest_formats/wandb_runs.rs"]
mod wandb_runs;

#[test]
fn compressed_copies_read_like_the_plain_file() {
    let plain = fixture("formats/same_run/reference.csv");
    let bytes = std::fs::read(&plain).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut gz = gzip(&bytes);
    let zst = zstd_frame(&bytes);
    let copies = [
        ("reference.csv.gz", gz.clone()),
        ("reference.csv.zst", zst),
        // Compressed bytes under a plain name are recognised by their content.
        ("reference_really_gzip.csv", {
            gz.shrink_to_fit();
            gz
        }),
    ];
    let want = essentials(&report(&[&plain]));
    for (name, data) in copies {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        let path = path.display().to_string();
        assert_eq!(essentials(&report(&[&path])), want, "{name}");
        assert_eq!(exported(&path), exported(&plain), "{name}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn zstd_frame(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

#[test]
fn compressed_rank_files_keep_their_rank() {
    // `jepa_r0.csv.gz` is rank 0 of run `jepa`: the rank rule reads the name without `.gz`/`.zst`.
    let dir = tempfile::tempdir().unwrap();
    let r0 = std::fs::read(fixture("ranks/jepa_r0.csv")).unwrap();
    let r1 = std::fs::read(fixture("ranks/jepa_r1.csv")).unwrap();
    std::fs::write(dir.path().join("jepa_r0.csv.gz"), gzip(&r0)).unwrap();
    std::fs::write(dir.path().join("jepa_r1.csv.zst"), zstd_frame(&r1)).unwrap();
    let params = "params-pretrain.yaml";
    std::fs::copy(fixture(&format!("ranks/{params}")), dir.path().join(params)).unwrap();
    let plain = report(&[&fixture("ranks/jepa_r0.csv"), &fixture("ranks/jepa_r1.csv")]);
    assert_eq!(plain["input"]["ranks"], 2);
    let folder = dir.path().display().to_string();
    let files = [
        dir.path().join("jepa_r0.csv.gz").display().to_string(),
        dir.path().join("jepa_r1.csv.zst").display().to_string(),
    ];
    for got in [report(&[&folder]), report(&[&files[0], &files[1]])] {
        assert_eq!(got["input"]["ranks"], 2, "{}", got["input"]);
        assert_eq!(essentials(&got), essentials(&plain));
    }
    // `_r0.csv.gz` and `_r00.csv` still collide.
    let r00 = dir.path().join("jepa_r00.csv");
    std::fs::write(&r00, &r1).unwrap();
    let err = refusal(&[&files[0], &r00.display().to_string()]);
    assert!(err.contains("both claim rank 0"), "{err}");
}

#[test]
fn binary_formats_we_do_not_read_are_named_with_their_conversion() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "m.csv.xz",
            b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46",
            "xz-compressed",
        ),
        (
            "m.csv.bz2",
            b"BZh91AY&SY\x12\x34\x56\x78",
            "bzip2-compressed",
        ),
        (
            "m.parquet",
            b"PAR1\x15\x04\x15\x00\x00\x00",
            "pd.read_parquet",
        ),
        (
            "m.sqlite",
            b"SQLite format 3\x00\x10\x00\x01\x01",
            "SQLite database",
        ),
        ("m.npy", b"\x93NUMPY\x01\x00v\x00{'descr'", "NumPy"),
    ];
    for (name, bytes, cause) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = refusal(&[&path.display().to_string()]);
        assert!(err.contains(cause), "{name}: {err}");
        assert!(!err.contains("UTF-8"), "{name}: {err}");
    }
}

#[test]
fn add_scalars_sub_writers_become_series_named_after_their_folder() {
    let got = report(&[&fixture("formats/tensorboard/add_scalars")]);
    let roles: BTreeMap<&str, &str> = got["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        BTreeMap::from([
            ("loss/jepa", "jepa"),
            ("loss/reg", "reg"),
            ("train/lr", "lr")
        ])
    );
    assert_eq!(got["verdict"], "rebound");
    assert_eq!(got["input"]["ranks"], 1);
}

#[test]
fn a_truncated_last_record_is_skipped_and_counted() {
    let got = report(&[&fixture("formats/tensorboard/truncated_last_record")]);
    assert_eq!(got["input"]["rows_skipped"], 1);
    let text = doctor()
        .args([
            "analyze",
            &fixture("formats/tensorboard/truncated_last_record"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("last record truncated"), "{stdout}");
}

#[test]
fn a_bad_checksum_mid_file_skips_that_record_with_its_offset() {
    let dir = fixture("formats/tensorboard/bad_crc_mid_file");
    let got = report(&[&dir]);
    assert_eq!(got["input"]["rows_skipped"], 1);
    assert_eq!(got["input"]["rows_used"], 300, "the other records are read");
    let out = doctor().args(["analyze", &dir]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("checksum"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // The offset named is inside the file, past its first record.
    let offset: u64 = line
        .split("byte ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        offset > 0 && offset < std::fs::metadata(file).unwrap().len(),
        "{line}"
    );
}

#[test]
fn a_source_holding_several_runs_lists_them_and_takes_run() {
    for (rel, ids) in [
        ("formats/tensorboard/two_runs", false),
        ("formats/mlflow_two_runs/mlruns", true),
        ("formats/mlflow_two_runs/mlflow.db", true),
        ("formats/wandb_export_two_runs_hand_copy.csv", false),
    ] {
        let path = fixture(rel);
        let err = refusal(&[&path]);
        assert!(
            err.contains("lr_1e-3") && err.contains("lr_3e-3"),
            "{rel}: {err}"
        );
        assert!(
            err.contains("--run") && err.contains("compare"),
            "{rel}: {err}"
        );
        let one = report(&[&path, "--run=lr_3e-3"]);
        assert_eq!(one["input"]["ranks"], 1, "{rel}");
        let other = report(&[&path, "--run=lr_1e-3"]);
        assert_ne!(
            one["rebound"]["min_value"], other["rebound"]["min_value"],
            "{rel}: --run picks a different run"
        );
        if ids {
            // The run's ID works as well as its name.
            let id = err
                .split("lr_3e-3 (")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .unwrap();
            assert_eq!(
                report(&[&path, &format!("--run={id}")])["rebound"],
                one["rebound"]
            );
        }
        let missing = refusal(&[&path, "--run=nope"]);
        assert!(missing.contains("no run 'nope'"), "{rel}: {missing}");
    }
}

#[test]
fn mlflow_params_become_the_run_config() {
    for (rel, config) in [
        ("formats/same_run/mlruns", "/params"),
        ("formats/same_run/mlflow.db", "(run jepa-vitl16"),
    ] {
        let got = report(&[&fixture(rel)]);
        let shown = got["input"]["config"].as_str().unwrap_or_default();
        assert!(shown.contains(config), "{rel}: config {shown:?}");
    }
    // A run without config params has none.
    let got = report(&[&fixture("formats/tensorboard/two_runs"), "--run=lr_1e-3"]);
    assert!(got["input"]["config"].is_null());
}

#[test]
fn two_run_folders_are_refused_not_averaged() {
    let err = refusal(&[&fixture("samples/recipe"), &fixture("samples/highlr_reg")]);
    assert!(err.contains("different runs"), "{err}");
    assert!(err.contains("compare"), "{err}");
    assert!(
        err.contains("recipe") && err.contains("highlr_reg"),
        "{err}"
    );
}

#[test]
fn two_plain_logs_that_start_at_the_same_step_are_two_runs_not_ranks() {
    // Two runs' CSVs copied into one folder (no `_rN` names): both start at step 0.
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("samples/recipe/jepa_r0.csv", "run_a.csv"),
        ("samples/highlr_reg/jepa_r0.csv", "run_b.csv"),
    ] {
        std::fs::copy(fixture(from), dir.path().join(to)).unwrap();
    }
    let err = refusal(&[&dir.path().display().to_string()]);
    assert!(err.contains("different runs"), "{err}");
    assert!(
        err.contains("run_a.csv") && err.contains("run_b.csv"),
        "{err}"
    );
}

#[test]
fn rank_files_must_be_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let r0 = std::fs::read(fixture("ranks/jepa_r0.csv")).unwrap();
    let r1 = std::fs::read(fixture("ranks/jepa_r1.csv")).unwrap();
    let put = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    // `_r0` and `_r00` both claim rank 0.
    let a = put("jepa_r0.csv", &r0);
    let b = put("jepa_r00.csv", &r1);
    let err = refusal(&[&a, &b]);
    assert!(err.contains("both claim rank 0"), "{err}");
    // Two tags are two runs.
    let c = put("other_r1.csv", &r1);
    let err = refusal(&[&a, &c]);
    assert!(err.contains("different runs"), "{err}");
    // Same tag, but a different header: not ranks of one run.
    let text = String::from_utf8(r1.clone()).unwrap();
    let renamed = text.replacen("reg-loss", "vc_loss", 1);
    let d = put("jepa_r1.csv", renamed.as_bytes());
    let err = refusal(&[&a, &d]);
    assert!(err.contains("different columns"), "{err}");
    // The real ranks still merge.
    let ok = report(&[&fixture("ranks/jepa_r0.csv"), &fixture("ranks/jepa_r1.csv")]);
    assert_eq!(ok["input"]["ranks"], 2);
}

#[test]
fn framework_layouts_are_found_from_the_run_folder() {
    let cases = [
        (
            "formats/framework/lightning_run",
            "csv",
            "loss_step",
            "metrics.csv",
        ),
        (
            "formats/framework/hf_output_dir",
            "json",
            "loss",
            "checkpoint-600",
        ),
        (
            "formats/framework/mmengine_work_dir",
            "jsonl",
            "loss",
            "scalars.json",
        ),
        (
            "formats/framework/dinov2_training_metrics_hand_copy.json",
            "jsonl",
            "total_loss",
            "dinov2",
        ),
        (
            "formats/framework/keras_training_hand_copy.log",
            "csv",
            "loss",
            "keras",
        ),
    ];
    for (rel, format, total, source) in cases {
        let got = report(&[&fixture(rel)]);
        assert_eq!(got["input"]["format"], format, "{rel}");
        let sources = got["input"]["sources"].to_string();
        assert!(sources.contains(source), "{rel}: {sources}");
        let totals: Vec<&str> = got["series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["role"] == "total")
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(totals, [total], "{rel}");
    }
    // Lightning: the epoch means are kept beside the per-step series, which carries the role.
    let got = report(&[&fixture("formats/framework/lightning_run")]);
    let epoch = got["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "loss_epoch")
        .expect("loss_epoch kept");
    assert_eq!(epoch["role"], "other");
    assert_eq!(epoch["points"], 5);
}

#[test]
fn the_hydra_log_is_read_with_num_updates_as_the_step() {
    let got = report(&[&fixture("formats/cases/data2vec_hydra_train.log")]);
    assert_eq!(got["input"]["format"], "fairseq-log");
    assert_eq!(got["input"]["rows_used"], 250);
    let loss = got["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "loss")
        .unwrap()
        .clone();
    assert_eq!(loss["first_step"], 200);
    assert_eq!(loss["last_step"], 50_000);
    let min = got["rebound"]["min_step"].as_u64().unwrap();
    assert!((8_000..=15_000).contains(&min), "minimum at {min}");
}

#[test]
fn dino_log_txt_is_stepped_by_epoch_with_lr_and_wd_roles() {
    let got = report(&[&fixture("formats/cases/dino_log.txt")]);
    let roles: BTreeMap<&str, &str> = got["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles.get("train_lr"), Some(&"lr"));
    assert_eq!(roles.get("train_wd"), Some(&"wd"));
    assert_eq!(roles.get("train_loss"), Some(&"total"));
    let warnings = got["input"].to_string();
    assert!(!warnings.contains("record order"), "{warnings}");
    let loss = got["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "train_loss")
        .unwrap()
        .clone();
    assert_eq!(
        (loss["first_step"].clone(), loss["last_step"].clone()),
        (0.into(), 230.into())
    );
}

#[test]
fn list_runs_names_each_run_and_how_to_load_it() {
    use jepa_doctor::ingest::sources::list_runs;
    let runs = list_runs(&fixture("formats/mlflow_two_runs/mlflow.db")).unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"lr_1e-3") && names.contains(&"lr_3e-3"));
    for r in &runs {
        let opts = jepa_doctor::ingest::IngestOptions {
            run: r.select.clone(),
            ..Default::default()
        };
        let loaded = jepa_doctor::ingest::load(&r.inputs, &opts).unwrap();
        assert_eq!(loaded.parsed.len(), 1);
        assert!(loaded.parsed[0].0.name.contains(&r.name));
    }
    let tb = list_runs(&fixture("formats/tensorboard/two_runs")).unwrap();
    assert_eq!(
        tb.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["lr_1e-3", "lr_3e-3"]
    );
    let single = list_runs(&fixture("formats/same_run/reference.csv")).unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].select, None);
    assert!(Path::new(&single[0].inputs[0]).is_file());
}
