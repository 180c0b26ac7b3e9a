//! Issue 11 end to end: the field-shaped cases (copied into `fixtures/cases/`) and generated runs
//! written as logs, through the real binary — collapse by level, slow collapse, transient
//! collapse, never descended, several loss terms, periodic crashes, one set of numbers, the gate
//! following the verdict, and the schedules upstream configs really have.

mod common;

use std::io::Write;

use common::failures::{Class, generate};
use common::{doctor, fixture, stdout_of};
use serde_json::Value;

/// The JSON report and exit status of `analyze <path> [args]`.
fn report(path: &str, args: &[&str]) -> (Value, i32) {
    let out = doctor()
        .arg("analyze")
        .arg(path)
        .args(args)
        .arg("--json=-")
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(code < 2, "{path}: {}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

fn exit_of(path: &str, args: &[&str]) -> i32 {
    doctor()
        .arg("analyze")
        .arg(path)
        .args(args)
        .arg("-q")
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

fn findings<'a>(v: &'a Value, code: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

fn role_of<'a>(v: &'a Value, series: &str) -> &'a str {
    v["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == series)
        .and_then(|s| s["role"].as_str())
        .unwrap_or("missing")
}

/// Writes a generated run as a generic CSV (`step`, then one column per series) in `dir`.
fn write_csv(dir: &std::path::Path, class: Class, seed: u64) -> String {
    let i = generate(class, seed);
    let path = dir.join(format!(
        "{}_{seed}.csv",
        class.label().replace([' ', ','], "_")
    ));
    let mut f = std::fs::File::create(&path).unwrap();
    let names: Vec<&str> = i.run.series.iter().map(|s| s.name.as_str()).collect();
    writeln!(f, "step,{}", names.join(",")).unwrap();
    for (k, step) in i.run.steps.iter().enumerate() {
        let row: Vec<String> = i
            .run
            .series
            .iter()
            .map(|s| format!("{}", s.values[k]))
            .collect();
        writeln!(f, "{step},{}", row.join(",")).unwrap();
    }
    path.display().to_string()
}

#[test]
fn slow_collapse_in_a_cooldown_run_is_collapse_without_a_no_warmup() {
    let path = fixture("cases/slow-collapse-cooldown");
    let (v, code) = report(&path, &[]);
    assert_eq!(v["verdict"], "collapse");
    assert_eq!(code, 1, "collapse trips the default gate");
    let f = findings(&v, "collapse");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["evidence"]["kind"], "loss-level");
    let share = f[0]["evidence"]["share_of_pre_fall"].as_f64().unwrap();
    assert!((0.03..0.05).contains(&share), "{share}");
    let fall = f[0]["evidence"]["fall_start_step"].as_u64().unwrap();
    assert!((14_000..15_500).contains(&fall), "{fall}");
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.contains("inferred from the loss alone"),
        "{message}"
    );
    assert!(
        findings(&v, "no-warmup").is_empty(),
        "a cooldown has no warmup"
    );
    assert!(findings(&v, "no-decay").is_empty());
    let advice = f[0]["recommendations"].to_string();
    assert!(
        advice.contains("linear decay from 5.25e-4 to 1e-6"),
        "{advice}"
    );
    // One set of numbers: the report never shows an end below its minimum.
    let (min, end) = (
        v["rebound"]["min_value"].as_f64().unwrap(),
        v["rebound"]["end_value"].as_f64().unwrap(),
    );
    assert!(end >= min, "end {end} below the minimum {min}");
}

#[test]
fn a_loss_pinned_at_ln_k_never_descended_uniform_output_collapse() {
    let path = fixture("cases/uniform-collapse-dino/log.txt");
    let (v, code) = report(&path, &[]);
    assert_eq!(v["verdict"], "stalled");
    assert_eq!(code, 1, "uniform-output collapse is an error");
    let f = findings(&v, "no-descent");
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["evidence"]["uniform_classes"], 65536);
    assert!(f[0]["message"].as_str().unwrap().contains("ln 65536"));
    let text = stdout_of(&["analyze", &path, "--no-chart"]);
    assert!(!text.contains("descended from"), "{text}");
    assert!(findings(&v, "plateau").is_empty());
    assert_eq!(role_of(&v, "train_lr"), "lr");
    assert_eq!(role_of(&v, "train_wd"), "wd");
}

#[test]
fn periodic_crashes_are_all_counted_with_their_period_and_no_plateau() {
    let path = fixture("cases/periodic-crashes-vjepa2");
    let (v, code) = report(&path, &[]);
    assert_eq!(v["verdict"], "unstable");
    assert_eq!(code, 0, "a warning does not trip the default gate");
    let f = findings(&v, "sudden-drop");
    let after_first = f[0]["evidence"]["count_after_first"].as_u64().unwrap();
    assert!((10..=12).contains(&after_first), "{after_first}");
    let period = f[0]["evidence"]["period_steps"].as_f64().unwrap();
    assert!((3_000.0..=5_000.0).contains(&period), "{period}");
    assert_eq!(f[0]["step_start"], 40500);
    assert!(
        findings(&v, "plateau").is_empty(),
        "no plateau over crashes"
    );
    assert!(
        findings(&v, "no-decay").is_empty(),
        "a warmup-then-constant config is the stable phase of a WSD schedule"
    );
    assert_eq!(exit_of(&path, &["--fail-on=warning"]), 1);
    assert_eq!(exit_of(&path, &["--fail-on=rebound"]), 1);
}

#[test]
fn the_highlr_sample_is_a_transient_collapse_and_the_gate_follows_its_verdict() {
    let path = fixture("samples/highlr_reg");
    let (v, code) = report(&path, &[]);
    assert_eq!(v["verdict"], "unstable");
    assert_eq!(code, 0);
    let f = findings(&v, "collapse");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["evidence"]["kind"], "transient");
    let message = f[0]["message"].as_str().unwrap();
    assert!(
        message.contains("transient collapse, recovered at step"),
        "{message}"
    );
    let peak = f[0]["evidence"]["peak"].as_f64().unwrap();
    assert!((peak - 0.957).abs() < 0.002, "{peak}");
    let recovered = f[0]["evidence"]["recovered_step"].as_u64().unwrap();
    assert!((787..=800).contains(&recovered), "{recovered}");
    let first = f[0]["step_start"].as_u64().unwrap();
    assert!((660..=700).contains(&first), "{first}");
    assert_eq!(v["rebound"]["reg_trend_after_min"], "burst", "never flat");
    for gate in ["--fail-on=rebound", "--fail-on=warning"] {
        assert_eq!(exit_of(&path, &[gate]), 1, "{gate}");
    }
    assert_eq!(exit_of(&path, &["--fail-on=never"]), 0);
}

#[test]
fn healthy_runs_with_a_high_monitor_or_variance_monitors_are_not_collapse() {
    // The recipe logs reg-loss ≈ 0.87 with reg_coeff 0 (a healthy level for that setting).
    let (v, code) = report(&fixture("samples/recipe"), &[]);
    assert_eq!(v["verdict"], "healthy");
    assert_eq!(code, 0);
    // data2vec: target_var / pred_var stay high — spread monitors, no collapse.
    let (v, _) = report(
        &fixture("cases/jump-rebound-data2vec/train_inner.jsonl"),
        &[],
    );
    assert!(findings(&v, "collapse").is_empty());
    assert_eq!(role_of(&v, "target_var"), "reg");
    assert_eq!(role_of(&v, "pred_var"), "reg");
    assert_eq!(role_of(&v, "gnorm"), "grad_norm");
    // Its plateau sits half the descent above the minimum: not "converged", and the test's
    // p-value is named.
    for f in findings(&v, "plateau") {
        let text = f.to_string();
        assert!(!text.contains("has converged"), "{text}");
        assert!(text.contains("above its minimum"), "{text}");
    }
}

#[test]
fn the_healthy_headline_quotes_the_numbers_of_the_body() {
    let path = fixture("samples/recipe");
    let (v, _) = report(&path, &[]);
    let text = stdout_of(&["analyze", &path, "--no-chart"]);
    let headline = text.lines().next().unwrap();
    let body = text
        .lines()
        .find(|l| l.contains("→ minimum"))
        .unwrap_or_default();
    let min_step = v["rebound"]["min_step"].as_u64().unwrap();
    assert!(headline.contains(&format!("minimum at step {min_step}")));
    assert!(headline.contains("smoothed"));
    // Start, minimum and end of the headline all appear in the body's rebound line.
    for word in ["0.7143", "0.2222", "0.2418"] {
        assert!(
            headline.contains(word) && body.contains(word),
            "{word}: {headline} / {body}"
        );
    }
}

#[test]
fn generated_pinned_collapse_and_component_divergence_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [11, 12, 13] {
        let path = write_csv(dir.path(), Class::PinnedCollapse, seed);
        let (v, code) = report(&path, &[]);
        assert_eq!(v["verdict"], "collapse", "seed {seed}");
        assert_eq!(code, 1);
        let f = findings(&v, "collapse");
        let message = f[0]["message"].as_str().unwrap();
        assert!(
            message.contains("prediction std ≈ 0.0") || message.contains("of its early"),
            "{message}"
        );
        assert_eq!(f[0]["evidence"]["kind"], "pinned");
    }
    for seed in [21, 22] {
        let path = write_csv(dir.path(), Class::ComponentDivergence, seed);
        let (v, _) = report(&path, &[]);
        for term in ["a2a", "v2v", "a2v", "v2a"] {
            assert_eq!(role_of(&v, term), "jepa", "{term}");
        }
        assert_eq!(v["rebound"]["series"], "loss", "the total is analysed");
        let f = findings(&v, "component-divergence");
        assert_eq!(f.len(), 1, "seed {seed}");
        assert_eq!(f[0]["severity"], "warning");
    }
}
