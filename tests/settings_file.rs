//! The settings file end to end: found from the run directory upward (`jepa-doctor.toml`,
//! `.jepa-doctor.toml`, `pyproject.toml` `[tool.jepa-doctor]`), flags win over it, `--settings`
//! and `--no-settings`, `--print-config`, and its mistakes reported with file and line.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::fixture;
use predicates::prelude::*;
use serde_json::Value;

fn doctor() -> Command {
    Command::cargo_bin("jepa-doctor").unwrap()
}

/// `<tmp>/project/runs/rebound` holding the rebound fixture (a warning, so the default gate
/// exits 0 and `fail-on = "warning"` exits 1).
fn project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("project/runs/rebound");
    std::fs::create_dir_all(&run).unwrap();
    for f in ["jepa_r0.csv", "params-pretrain.yaml"] {
        std::fs::copy(
            fixture(&format!("synthetic/rebound_reg_falling/{f}")),
            run.join(f),
        )
        .unwrap();
    }
    (tmp, run)
}

fn status(run: &Path, extra: &[&str]) -> i32 {
    let out = doctor()
        .arg("analyze")
        .arg(run)
        .args(extra)
        .arg("-q")
        .output()
        .unwrap();
    out.status.code().unwrap()
}

#[test]
fn a_file_above_the_run_sets_the_gate_and_flags_win() {
    let (tmp, run) = project();
    assert_eq!(status(&run, &[]), 0, "the default gate is error");
    std::fs::write(
        tmp.path().join("project/jepa-doctor.toml"),
        "fail-on = \"warning\"\n",
    )
    .unwrap();
    assert_eq!(status(&run, &[]), 1, "the file's gate applies");
    // The file applies to a file input too (its directory is where the search starts).
    assert_eq!(status(&run.join("jepa_r0.csv"), &[]), 1);
    assert_eq!(status(&run, &["--fail-on", "error"]), 0, "the flag wins");
    assert_eq!(status(&run, &["--no-settings"]), 0);
}

#[test]
fn the_nearest_file_wins_and_pyproject_needs_its_table() {
    let (tmp, run) = project();
    let project = tmp.path().join("project");
    std::fs::write(project.join("jepa-doctor.toml"), "fail-on = \"never\"\n").unwrap();
    // A pyproject.toml without [tool.jepa-doctor] is passed over ...
    std::fs::write(
        project.join("runs/pyproject.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    assert_eq!(status(&run, &["--fail-on", "warning"]), 1);
    assert_eq!(status(&run, &[]), 0, "project/jepa-doctor.toml: never");
    // ... one with the table is used, being nearer.
    std::fs::write(
        project.join("runs/pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.jepa-doctor]\nfail-on = \"warning\"\n",
    )
    .unwrap();
    assert_eq!(status(&run, &[]), 1);
    // A dot-file in the run directory is nearer still.
    std::fs::write(run.join(".jepa-doctor.toml"), "fail-on = \"never\"\n").unwrap();
    assert_eq!(status(&run, &[]), 0);
    // --settings names the file and skips the search.
    assert_eq!(
        status(
            &run,
            &[
                "--settings",
                project.join("runs/pyproject.toml").to_str().unwrap()
            ]
        ),
        1
    );
}

#[test]
fn thresholds_and_columns_from_the_file_reach_the_analysis() {
    let (tmp, run) = project();
    std::fs::write(
        tmp.path().join("project/jepa-doctor.toml"),
        "jepa-col = \"loss\"\nmin-rebound = 0.99\nmax-blocks = 200\n",
    )
    .unwrap();
    let out = doctor()
        .arg("analyze")
        .arg(&run)
        .arg("--json")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rebound"]["series"], "loss", "jepa-col from the file");
    assert_eq!(
        v["rebound"]["detected"], false,
        "a 99% min-rebound rejects this rebound"
    );
    let flags = doctor()
        .arg("analyze")
        .arg(&run)
        .args(["--json", "--min-rebound", "0.05"])
        .output()
        .unwrap();
    let w: Value = serde_json::from_slice(&flags.stdout).unwrap();
    assert_eq!(w["rebound"]["detected"], true, "the flag wins");
}

#[test]
fn print_config_says_where_each_value_came_from() {
    let (tmp, run) = project();
    std::fs::write(
        tmp.path().join("project/pyproject.toml"),
        "[tool.jepa-doctor]\nfail-on = \"warning\"\nalpha = 0.001\n",
    )
    .unwrap();
    let out = doctor()
        .arg("analyze")
        .arg(&run)
        .args(["--print-config", "--alpha", "0.02"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} =")) || l.starts_with(&format!("# {key} =")))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
            .to_owned()
    };
    assert!(text.starts_with("# settings file: "), "{text}");
    assert!(text.lines().next().unwrap().ends_with("pyproject.toml"));
    assert!(line("fail-on").starts_with("fail-on = \"warning\""));
    assert!(line("fail-on").ends_with("# pyproject.toml"));
    assert!(line("alpha").starts_with("alpha = 0.02"));
    assert!(line("alpha").ends_with("# command line"));
    assert!(line("min-rebound").ends_with("# default"));
    assert!(line("smoothing").starts_with("# smoothing ="));
    // What it prints is itself a valid settings file.
    let saved = tmp.path().join("project/runs/jepa-doctor.toml");
    std::fs::write(&saved, &text).unwrap();
    doctor()
        .arg("analyze")
        .arg(&run)
        .arg("--print-config")
        .assert()
        .success()
        .stdout(predicate::str::contains("alpha = 0.02"));
}

#[test]
fn mistakes_name_the_file_and_the_key() {
    let (tmp, run) = project();
    let file = tmp.path().join("project/jepa-doctor.toml");
    let cases = [
        ("alfa = 0.1\n", "unknown setting `alfa`"),
        ("alpha = 2\n", "alpha = 2: must be between 0 and 1"),
        (
            "fail-on = \"sometimes\"\n",
            "possible values: never, rebound, warning, error",
        ),
        ("alpha = [1]\n", "must be a string, a number or true/false"),
        ("\nalpha = \n", "jepa-doctor.toml:2:9: not valid TOML"),
    ];
    for (content, message) in cases {
        std::fs::write(&file, content).unwrap();
        doctor()
            .arg("analyze")
            .arg(&run)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message))
            .stderr(predicate::str::starts_with("jepa-doctor: error: "));
    }
}
