//! End-to-end: the real binary on fixtures — exit status, stdout, stderr.

mod common;

use std::io::{Read, Write};
use std::process::{Command as StdCommand, Stdio};

use common::{doctor, fixture};
use predicates::prelude::*;
use serde_json::Value;

fn json_of(args: &[&str]) -> Value {
    let out = doctor().args(args).arg("--json=-").output().unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn analyze_a_run_directory_prints_what_was_read() {
    doctor()
        .args(["analyze", &fixture("samples/recipe")])
        .assert()
        .success()
        .stderr("")
        .stdout(predicate::str::contains("vjepa-csv, 1 rank, 1 restart"))
        .stdout(predicate::str::contains(
            "798 read = 753 used + 0 skipped + 45 replaced",
        ))
        .stdout(predicate::str::contains(
            "100 iterations per epoch (config)",
        ))
        .stdout(predicate::str::contains("loss-jepa"));
}

#[test]
fn json_input_and_series_sections_follow_the_contract() {
    let v = json_of(&["analyze", &fixture("samples/recipe")]);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["tool"]["name"], "jepa-doctor");
    let input = &v["input"];
    assert_eq!(input["format"], "vjepa-csv");
    assert_eq!(input["rows_read"], 798);
    assert_eq!(input["rows_used"], 753);
    assert_eq!(input["rows_skipped"], 0);
    assert_eq!(input["duplicates_replaced"], 45);
    assert_eq!(input["restarts"], 1);
    assert_eq!(input["ranks"], 1);
    let series = v["series"].as_array().unwrap();
    let jepa = series.iter().find(|s| s["name"] == "loss-jepa").unwrap();
    assert_eq!(jepa["role"], "jepa");
    assert_eq!(jepa["points"], 753);
    assert_eq!(jepa["non_finite"], 0);
    assert_eq!(jepa["first_step"], 0);
    assert_eq!(jepa["last_step"], 752);
    let grad = series
        .iter()
        .find(|s| s["name"] == "enc-grad-norm")
        .unwrap();
    assert_eq!(grad["first_step"], 500);
    // Deterministic: no absolute path the user did not type.
    let text = v.to_string();
    assert!(!text.contains("/home/") && !text.contains("/root/"));
}

#[test]
fn json_to_a_file_keeps_the_text_report_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    doctor()
        .args(["analyze", &fixture("samples/recipe")])
        .arg(format!("--json={}", out.display()))
        .assert()
        .success()
        .stdout(predicate::str::contains("series"));
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["input"]["restarts"], 1);
}

#[test]
fn stdin_reads_the_same_as_the_file() {
    let csv = std::fs::read(fixture("samples/highlr_reg/jepa_r0.csv")).unwrap();
    let out = doctor()
        .args(["analyze", "-", "--json=-"])
        .write_stdin(csv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    let from_file = json_of(&["analyze", &fixture("samples/highlr_reg/jepa_r0.csv")]);
    assert_eq!(from_stdin["input"]["sources"][0], "<stdin>");
    assert_eq!(from_stdin["series"], from_file["series"]);
    assert_eq!(
        from_stdin["input"]["rows_used"],
        from_file["input"]["rows_used"]
    );
}

#[test]
fn export_writes_step_then_series_with_empty_cells_and_round_trips() {
    let out = doctor()
        .args(["analyze", &fixture("samples/recipe"), "--export", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)"
    );
    let first = lines.next().unwrap();
    assert_eq!(first, "0,0.82586,0.82586,0.88281,,,1758,6365");
    assert_eq!(text.lines().count(), 754);

    // The export is itself a log jepa-doctor reads back to the same series.
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("clean.csv");
    std::fs::write(&exported, &text).unwrap();
    let again = json_of(&["analyze", exported.to_str().unwrap()]);
    let original = json_of(&["analyze", &fixture("samples/recipe")]);
    assert_eq!(again["series"], original["series"]);
}

#[test]
fn bad_input_exits_2_with_one_line_naming_file_and_line() {
    for (file, needle) in [
        (
            "broken/ragged_row.csv",
            "ragged_row.csv:6: row has 4 fields",
        ),
        ("broken/empty.csv", "empty.csv: the file is empty"),
        ("broken/non_utf8_value.csv", "non_utf8_value.csv:3:"),
        ("broken/no_step_column.csv", "no step-like column"),
    ] {
        let out = doctor().args(["analyze", &fixture(file)]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("jepa-doctor: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{file}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn missing_file_and_empty_directory_exit_2() {
    doctor()
        .args(["analyze", "no/such/file.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "jepa-doctor: error: no/such/file.csv:",
        ));
    let dir = tempfile::tempdir().unwrap();
    doctor()
        .arg("analyze")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no training log"));
}

#[test]
fn usage_errors_exit_2() {
    doctor().arg("analyze").assert().code(2);
    doctor().args(["analyze", "--bogus", "x"]).assert().code(2);
    doctor()
        .args([
            "analyze",
            &fixture("samples/recipe"),
            "--json=-",
            "--export",
            "-",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("standard output"));
}

#[test]
fn an_output_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jepa_r0.csv");
    std::fs::copy(fixture("csv/vjepa_restart_replay.csv"), &log).unwrap();
    let before = std::fs::read(&log).unwrap();
    doctor()
        .arg("analyze")
        .arg(&log)
        .arg(format!("--json={}", log.display()))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("would overwrite the input"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "step,loss").unwrap();
    for i in 0..60_000 {
        writeln!(f, "{i},{}", 1.0 / f64::from(i + 1)).unwrap();
    }
    drop(f);
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("jepa-doctor"))
        .arg("analyze")
        .arg(&path)
        .args(["--export", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_and_version_exit_0() {
    doctor()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("analyze"));
    // The version names the program as it is installed, whichever command asks.
    let version = format!("jepa-doctor {}\n", env!("CARGO_PKG_VERSION"));
    for command in [&[][..], &["analyze"], &["compare"], &["watch"], &["man"]] {
        doctor()
            .args(command)
            .arg("--version")
            .assert()
            .success()
            .stdout(version.clone());
    }
}

#[test]
fn an_empty_path_is_refused_as_such() {
    for command in ["analyze", "compare", "watch"] {
        doctor()
            .args([command, ""])
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with(
                "jepa-doctor: error: invalid value '' for",
            ))
            .stderr(predicate::str::contains("an empty path names no file"));
    }
}

#[test]
fn an_unrecognised_loss_column_is_a_usage_error_naming_the_columns() {
    doctor()
        .args(["analyze", &fixture("csv/generic_custom_names.tsv")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no loss column recognised; columns are pred_l2, std_penalty, learning_rate; name one with --jepa-col / --loss-col",
        ));
    let v = json_of(&[
        "analyze",
        &fixture("csv/generic_custom_names.tsv"),
        "--jepa-col",
        "pred_l2",
    ]);
    assert_eq!(v["input"]["format"], "csv");
    assert_eq!(v["rebound"]["series"], "pred_l2");
}

#[test]
fn every_format_reports_its_input_and_series() {
    let cases = [
        ("samples/recipe/jepa_r0.csv", "vjepa-csv", "loss-jepa"),
        ("csv/vjepa2_log_r0.csv", "vjepa2-csv", "loss"),
        ("csv/ijepa.csv", "ijepa-csv", "time (ms)"),
        ("json/train_eval_mixed.jsonl", "jsonl", "eval/knn_top1"),
        ("json/trainer_state.json", "json", "eval_loss"),
        ("samples/recipe/stdout.log", "console-log", "reg-loss"),
        ("console/ijepa_prefixed.log", "console-log", "mask-A"),
    ];
    for (file, format, a_series) in cases {
        let v = json_of(&["analyze", &fixture(file)]);
        assert_eq!(v["input"]["format"], format, "{file}");
        let read = v["input"]["rows_read"].as_u64().unwrap();
        let parts = ["rows_used", "rows_skipped", "duplicates_replaced"]
            .map(|k| v["input"][k].as_u64().unwrap());
        assert_eq!(
            read,
            parts.iter().sum::<u64>(),
            "{file}: rows do not add up"
        );
        let names: Vec<&str> = v["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&a_series), "{file}: {names:?}");
        // Analysed: 0, or 1 when a finding trips the gate (train_eval_mixed has a NaN loss).
        doctor()
            .args(["analyze", &fixture(file)])
            .assert()
            .code(predicate::in_iter([0, 1]))
            .stdout(predicate::str::contains(format!("({format}, ")));
    }
}

#[test]
fn json_rebound_and_changepoints_sections() {
    let v = json_of(&["analyze", &fixture("synthetic/rebound_reg_falling")]);
    let r = &v["rebound"];
    for field in [
        "detected",
        "series",
        "min_step",
        "min_value",
        "onset_step",
        "end_value",
        "magnitude",
        "p_value",
        "slope_per_1k_steps",
        "reg_trend_after_min",
    ] {
        assert!(r.get(field).is_some(), "rebound.{field} missing: {r}");
    }
    assert_eq!(r["detected"], true);
    assert_eq!(r["series"], "loss-jepa");
    assert_eq!(r["reg_trend_after_min"], "falling");
    let cps = v["changepoints"].as_array().unwrap();
    assert!(!cps.is_empty());
    assert!(
        cps.iter()
            .all(|c| c["series"].is_string() && c["step"].is_u64())
    );

    // Always present, with the minimum, when nothing is detected.
    let v = json_of(&["analyze", &fixture("samples/recipe")]);
    assert_eq!(v["rebound"]["detected"], false);
    assert!(v["rebound"]["min_step"].is_u64());
}

#[test]
fn text_report_states_the_rebound_decision() {
    doctor()
        .args(["analyze", &fixture("synthetic/rebound_reg_falling")])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "rebound  YES: the loss fell to its minimum at step",
        ))
        .stdout(predicate::str::contains(
            "reg-loss after the minimum: falling",
        ))
        .stdout(predicate::str::contains("changes  loss-jepa at steps"));
    doctor()
        .args(["analyze", &fixture("samples/recipe")])
        .assert()
        .success()
        .stdout(predicate::str::contains("rebound  no:"));
}

#[test]
fn analysis_flags_are_validated() {
    for bad in [
        ["--alpha", "0"],
        ["--alpha", "1.5"],
        ["--smoothing", "1"],
        ["--min-rebound", "x"],
    ] {
        doctor()
            .args(["analyze", &fixture("samples/recipe")])
            .args(bad)
            .assert()
            .code(2);
    }
    let v = json_of(&[
        "analyze",
        &fixture("synthetic/rebound_reg_falling"),
        "--min-rebound",
        "0.6",
    ]);
    assert_eq!(v["rebound"]["detected"], false);
}
