//! Each output flag end to end, and the rule that a value-optional flag never swallows an input:
//! `--json` / `--markdown` alone or with `-` mean standard output, `--json FILE` / `--json=FILE` a
//! file, and a run directory or log after the flag stays an input; flags that always take a value (`--export`, `--plot`) refuse to write over an input or a directory.

mod common;

use common::{analyze_with_figure, doctor, fixture};
use predicates::prelude::*;
use serde_json::Value;

/// A copy of the recipe run in a temporary directory (so a wrong write would be seen).
fn run_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for f in ["jepa_r0.csv", "params-pretrain.yaml"] {
        std::fs::copy(fixture(&format!("samples/recipe/{f}")), run.join(f)).unwrap();
    }
    (dir, run)
}

fn listing(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

/// DESIGN §2's CI line, `analyze RUN --json - --fail-on warning`, and `--json FILE` with a space:
/// the report goes to standard output / the file, for `analyze` and `compare` alike.
#[test]
fn json_dash_and_json_file_written_as_the_next_word() {
    let (tmp, run) = run_copy();
    let out = doctor()
        .arg("analyze")
        .arg(&run)
        .args(["--json", "-", "--fail-on", "warning"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["input"]["rows_read"], 798);

    // Written, then rewritten by a re-run (an earlier report is an output); a JSON log after
    // --json is an input, not replaced.
    let report = tmp.path().join("report.json");
    for _ in 0..2 {
        doctor()
            .args(["analyze", "--json"])
            .arg(&report)
            .arg(&run)
            .assert()
            .code(0);
        let v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(v["input"]["rows_read"], 798);
    }
    let state = tmp.path().join("trainer_state.json");
    std::fs::copy(fixture("json/trainer_state.json"), &state).unwrap();
    let before = std::fs::read(&state).unwrap();
    let out = doctor()
        .args(["analyze", "--json"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("the report on stdout");
    assert!(
        v["input"]["sources"][0]
            .as_str()
            .unwrap()
            .ends_with("trainer_state.json")
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        before,
        "an input was overwritten"
    );

    let summary = tmp.path().join("sweep.md");
    doctor()
        .args(["compare", "--markdown"])
        .arg(&summary)
        .arg(&report)
        .arg(&run)
        .assert()
        .code(0);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("report") && md.contains("run"), "{md}");
}

#[test]
fn json_before_the_run_directory_reads_it_as_input() {
    let (_tmp, run) = run_copy();
    let before = listing(&run);
    let out = doctor()
        .args(["analyze", "--json"])
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["input"]["rows_read"], 798);
    assert_eq!(listing(&run), before, "the run directory was touched");
}

#[test]
fn json_before_a_log_file_reads_it_and_leaves_it_alone() {
    let (_tmp, run) = run_copy();
    let log = run.join("jepa_r0.csv");
    let before = std::fs::read(&log).unwrap();
    let out = doctor()
        .args(["analyze", "--json"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["input"]["format"], "vjepa-csv");
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn json_equals_file_writes_the_file_and_keeps_the_text_report() {
    let (tmp, run) = run_copy();
    let out_path = tmp.path().join("report.json");
    doctor()
        .arg("analyze")
        .arg(format!("--json={}", out_path.display()))
        .arg(&run)
        .assert()
        .success()
        .stdout(predicate::str::contains("798 read"));
    let v: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(v["schema_version"], 1);
    // `--json=-` is standard output, like `--json` alone.
    let out = doctor()
        .arg("analyze")
        .arg(&run)
        .arg("--json=-")
        .output()
        .unwrap();
    let w: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w, v);
}

#[test]
fn markdown_before_the_run_directory_reads_it_as_input() {
    let (_tmp, run) = run_copy();
    let before = listing(&run);
    doctor()
        .args(["analyze", "--markdown"])
        .arg(&run)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("## jepa-doctor: "));
    assert_eq!(listing(&run), before);
}

#[test]
fn markdown_equals_file_writes_the_file() {
    let (tmp, run) = run_copy();
    let md = tmp.path().join("summary.md");
    doctor()
        .arg("analyze")
        .arg(format!("--markdown={}", md.display()))
        .arg(&run)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&md)
            .unwrap()
            .starts_with("## jepa-doctor: ")
    );
}

#[test]
fn json_and_markdown_alone_both_want_stdout() {
    doctor()
        .args([
            "analyze",
            "--json",
            "--markdown",
            &fixture("samples/recipe"),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--json and --markdown both write to standard output; send one of them to a file",
        ));
}

#[test]
fn an_empty_output_value_is_a_usage_error_before_anything_is_read() {
    for command in ["analyze", "compare"] {
        for flag in ["--json=", "--markdown=", "--export=", "--plot="] {
            if command == "compare" && flag == "--export=" {
                continue;
            }
            let out = doctor()
                .args([command, flag, &fixture("samples/recipe")])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {flag}: {err}");
            // Printed once, as every error: `jepa-doctor: error: …` naming the flag.
            assert!(
                err.starts_with("jepa-doctor: error: "),
                "{command} {flag}: {err}"
            );
            assert_eq!(err.matches("error:").count(), 1, "{err}");
            assert!(
                err.contains(flag.trim_end_matches('=')),
                "{command} {flag}: {err}"
            );
            assert!(out.stdout.is_empty(), "{command} {flag}");
        }
    }
    // Any other argument error has the same prefix (clap's own wording and tip after it).
    let out = doctor().args(["analyze", "--bogus", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("jepa-doctor: error: unexpected argument '--bogus'"),
        "{err}"
    );
}

#[test]
fn a_missing_output_folder_is_named_as_the_user_wrote_it() {
    let out = doctor()
        .args([
            "analyze",
            &fixture("samples/recipe"),
            "--json=./no/such/dir/r.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("./no/such/dir/r.json"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    // Not the random temporary file it would have been written through.
    assert!(
        !err.contains(".jepa-doctor-") && !err.contains(".tmp"),
        "{err}"
    );
}

#[test]
fn export_and_plot_refuse_a_directory_or_an_input() {
    let (tmp, run) = run_copy();
    let log = run.join("jepa_r0.csv");
    let before = listing(&run);
    // `--export RUN_DIR` with no input: clap says the input is missing; nothing is written.
    doctor()
        .args(["analyze", "--export"])
        .arg(&run)
        .assert()
        .code(2);
    doctor()
        .arg("analyze")
        .arg(&log)
        .arg("--export")
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("would overwrite the input"));
    doctor()
        .arg("analyze")
        .arg(&run)
        .arg("--export")
        .arg(&run)
        .assert()
        .code(2);
    assert_eq!(listing(&run), before);
    // The legitimate forms work.
    let csv = tmp.path().join("series.csv");
    let png = tmp.path().join("fig.png");
    doctor()
        .arg("analyze")
        .arg(&run)
        .arg("--export")
        .arg(&csv)
        .arg("--plot")
        .arg(&png)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&csv).unwrap().starts_with("step,"));
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
}

#[test]
fn github_adds_annotations_to_the_text_report() {
    let out = doctor()
        .args(["analyze", "--github", &fixture("synthetic/collapse")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let first_report_line = text.find("\ncollapse:").expect("text report present");
    let annotation = text.find("::error ").expect("annotation present");
    assert!(annotation < first_report_line, "{text}");
}

#[test]
fn quiet_silences_github_too() {
    doctor()
        .args(["analyze", "-q", "--github", &fixture("synthetic/collapse")])
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
}

#[test]
fn markdown_draws_the_curve_and_links_a_published_figure() {
    let (_dir, png, md) = analyze_with_figure("synthetic/rebound_reg_falling", |png| {
        vec![
            "--markdown".into(),
            format!("--plot={}", png.display()),
            "--figure-url=https://example.org/artifacts/42".into(),
        ]
    });
    // The curve stands on its own: a Mermaid chart and a sparkline, no local image.
    assert!(md.contains("```mermaid\nxychart-beta\n"), "{md}");
    let line = md
        .lines()
        .find(|l| l.trim_start().starts_with("line ["))
        .expect("a line series");
    let values = line.matches(',').count() + 1;
    assert!((2..=48).contains(&values), "{values} points");
    assert!(md.lines().any(|l| l.starts_with("`loss-jepa`, smoothed: ")
        && l.chars().filter(|c| ('▁'..='█').contains(c)).count() >= 10));
    assert!(md.contains("**Figure:** [the full loss report](https://example.org/artifacts/42)"));
    assert!(!md.contains(&format!("]({})", png.display())), "{md}");
}
