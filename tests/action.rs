//! The composite GitHub Action (`action.yml`) run step by step on this machine, as the Actions
//! runner would: each `run` step through `bash --noprofile --norc -eo pipefail` with its `env`
//! expressions filled from the inputs and the earlier steps' outputs, `GITHUB_OUTPUT`,
//! `GITHUB_STEP_SUMMARY`, `GITHUB_PATH` and `RUNNER_TEMP` as files and folders of a temporary
//! directory, `if:` conditions of the form `X != ''`, and the `actions/upload-artifact` step
//! replaced by a copy (its `artifact-url` output set to a fixed address). `install: path` uses the
//! binary cargo built.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture;
use yaml_serde::Value;

const ARTIFACT_URL: &str = "https://github.invalid/run/1/artifacts/7";

struct StepResult {
    name: String,
    status: Option<i32>,
    stdout: String,
}

struct ActionRun {
    steps: Vec<StepResult>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    summary: String,
    artifacts: Vec<PathBuf>,
    _tmp: tempfile::TempDir,
}

impl ActionRun {
    fn step(&self, name_start: &str) -> &StepResult {
        self.steps
            .iter()
            .find(|s| s.name.starts_with(name_start))
            .unwrap_or_else(|| panic!("no step {name_start}"))
    }
    fn output(&self, step: &str, key: &str) -> Option<&str> {
        self.outputs.get(step)?.get(key).map(String::as_str)
    }
}

fn action() -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml");
    yaml_serde::from_str(&text).expect("action.yml is YAML")
}

/// Replaces `${{ ... }}` expressions: inputs, github.action_path, steps.<id>.outputs.<key>.
fn expand(
    text: &str,
    inputs: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let expr = rest[start + 3..end].trim();
        let value = if let Some(name) = expr.strip_prefix("inputs.") {
            inputs.get(name).cloned().unwrap_or_default()
        } else if expr == "github.action_path" {
            env!("CARGO_MANIFEST_DIR").to_owned()
        } else if let Some(path) = expr.strip_prefix("steps.") {
            let (id, key) = path.split_once(".outputs.").expect("steps.ID.outputs.KEY");
            outputs
                .get(id)
                .and_then(|o| o.get(key))
                .cloned()
                .unwrap_or_default()
        } else {
            panic!("expression not simulated: {expr}");
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn read_outputs(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn run_action(given: &[(&str, &str)]) -> ActionRun {
    let action = action();
    assert_eq!(action["runs"]["using"], "composite");
    let mut inputs = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().expect("inputs") {
        let name = name.as_str().unwrap().to_owned();
        let default = spec["default"].as_str().unwrap_or_default().to_owned();
        inputs.insert(name, default);
    }
    for (k, v) in given {
        assert!(inputs.contains_key(*k), "unknown input {k}");
        inputs.insert((*k).to_owned(), (*v).to_owned());
    }
    let tmp = tempfile::tempdir().unwrap();
    let runner_temp = tmp.path().join("runner_temp");
    let artifacts_dir = tmp.path().join("artifacts");
    std::fs::create_dir_all(&runner_temp).unwrap();
    std::fs::create_dir_all(&artifacts_dir).unwrap();
    let summary = tmp.path().join("step_summary.md");
    let github_path = tmp.path().join("github_path");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_jepa-doctor"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path_env = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut outputs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut results = Vec::new();
    let mut artifacts = Vec::new();
    for (i, step) in action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = step["name"].as_str().unwrap_or("step").to_owned();
        let id = step["id"]
            .as_str()
            .map_or_else(|| format!("step{i}"), str::to_owned);
        if let Some(cond) = step["if"].as_str() {
            let (lhs, rhs) = cond
                .split_once("!=")
                .unwrap_or_else(|| panic!("if not simulated: {cond}"));
            assert_eq!(rhs.trim(), "''", "if not simulated: {cond}");
            let lhs = expand(&format!("${{{{ {} }}}}", lhs.trim()), &inputs, &outputs);
            if lhs.is_empty() {
                results.push(StepResult {
                    name,
                    status: None,
                    stdout: String::new(),
                });
                continue;
            }
        }
        if let Some(uses) = step["uses"].as_str() {
            assert!(uses.starts_with("actions/upload-artifact@"), "{uses}");
            let from = expand(step["with"]["path"].as_str().unwrap(), &inputs, &outputs);
            let to = artifacts_dir.join(Path::new(&from).file_name().unwrap());
            std::fs::copy(&from, &to).expect("artifact exists");
            artifacts.push(to);
            outputs
                .entry(id)
                .or_default()
                .insert("artifact-url".into(), ARTIFACT_URL.into());
            results.push(StepResult {
                name,
                status: Some(0),
                stdout: String::new(),
            });
            continue;
        }
        let script = step["run"].as_str().expect("run step");
        assert!(
            !script.contains("${{"),
            "{name}: expressions belong in env, not in the script"
        );
        assert_eq!(step["shell"], "bash");
        let output_file = tmp.path().join(format!("output_{i}"));
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .env("PATH", &path_env)
            .env("RUNNER_TEMP", &runner_temp)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_PATH", &github_path)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if let Some(env) = step["env"].as_mapping() {
            for (k, v) in env {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => yaml_serde::to_string(other).unwrap().trim().to_owned(),
                };
                cmd.env(k.as_str().unwrap(), expand(&v, &inputs, &outputs));
            }
        }
        let out = cmd.output().unwrap();
        outputs.insert(id, read_outputs(&output_file));
        results.push(StepResult {
            name: name.clone(),
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        });
        if !out.status.success() {
            break; // the runner stops at a failed step
        }
    }
    ActionRun {
        steps: results,
        outputs,
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
        artifacts,
        _tmp: tmp,
    }
}

#[test]
fn a_rebound_fails_a_warning_gate_with_annotations_summary_and_figure() {
    let paths = fixture("synthetic/rebound_reg_falling");
    let run = run_action(&[
        ("paths", &paths),
        ("fail-on", "warning"),
        ("install", "path"),
    ]);
    let analyse = run.step("Analyse");
    assert_eq!(analyse.status, Some(0), "{}", analyse.stdout);
    assert!(
        analyse.stdout.contains("::warning file="),
        "annotations in the log:\n{}",
        analyse.stdout
    );
    assert!(analyse.stdout.contains("rebound:"), "the text report too");
    assert_eq!(run.output("analyze", "verdict"), Some("rebound"));
    assert_eq!(run.output("analyze", "exit-code"), Some("1"));
    // The figure was uploaded, and the summary links it and draws the curve itself.
    assert_eq!(run.artifacts.len(), 1);
    assert_eq!(&std::fs::read(&run.artifacts[0]).unwrap()[..4], b"\x89PNG");
    assert!(
        run.summary.starts_with("## jepa-doctor: rebound\n"),
        "{}",
        run.summary
    );
    assert!(run.summary.contains("```mermaid\nxychart-beta\n"));
    assert!(run.summary.contains(&format!("]({ARTIFACT_URL})")));
    assert!(!run.summary.contains("![loss report]("), "no local image");
    let gate = run.step("Apply the gate");
    assert_eq!(gate.status, Some(1), "{}", gate.stdout);
    assert!(
        gate.stdout
            .contains("::error title=jepa-doctor::verdict rebound")
    );
}

#[test]
fn a_healthy_run_passes_the_default_gate() {
    let paths = fixture("samples/recipe");
    let run = run_action(&[("paths", &paths), ("install", "path"), ("figure", "false")]);
    assert!(
        run.steps
            .iter()
            .all(|s| s.status != Some(1) && s.status != Some(2)),
        "{:?}",
        run.steps
            .iter()
            .map(|s| (&s.name, s.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(run.output("analyze", "verdict"), Some("healthy"));
    assert!(run.artifacts.is_empty());
    assert_eq!(run.step("Upload the figure").status, None, "skipped");
    assert!(run.summary.contains("## jepa-doctor: healthy"));
    assert_eq!(run.step("Apply the gate").status, Some(0));
}

#[test]
fn ranks_and_extra_args_reach_the_tool() {
    let ranks = format!(
        "{}\n{}",
        fixture("ranks/jepa_r0.csv"),
        fixture("ranks/jepa_r1.csv")
    );
    let run = run_action(&[
        ("paths", &ranks),
        ("install", "path"),
        ("args", "--jepa-col=loss --no-settings"),
    ]);
    let report = run.output("analyze", "report").expect("a JSON report");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    assert_eq!(v["input"]["ranks"], 2);
    assert_eq!(v["rebound"]["series"], "loss");
}

#[test]
fn an_unusable_input_fails_with_exit_2_and_no_summary() {
    let run = run_action(&[("paths", "/nonexistent/run"), ("install", "path")]);
    assert_eq!(run.output("analyze", "exit-code"), Some("2"));
    assert_eq!(run.step("Write the job summary").status, None, "skipped");
    assert!(run.summary.is_empty());
    let gate = run.step("Apply the gate");
    assert_eq!(gate.status, Some(2));
    assert!(gate.stdout.contains("could not be analysed"));
}
