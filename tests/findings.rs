//! The diagnosis end to end: each finding on a fixture made to show it, the verdict, the CI gate
//! and the CI-facing outputs (--github, --markdown, --quiet, --color, --explain).

mod common;

use common::{doctor, fixture};
use predicates::prelude::*;
use serde_json::Value;

/// The JSON report and the exit status of `analyze <fixture> [args]`.
fn report(rel: &str, args: &[&str]) -> (Value, i32) {
    let out = doctor()
        .arg("analyze")
        .arg(fixture(rel))
        .args(args)
        .arg("--json=-")
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(code < 2, "{rel}: {}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

fn codes(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(v: &Value, code: &str, severity: &str) -> bool {
    codes(v).iter().any(|(c, s)| c == code && s == severity)
}

#[test]
fn highlr_sample_reports_spikes_and_a_non_finite_grad_norm_but_no_divergence() {
    let (v, code) = report("samples/highlr_reg", &[]);
    assert_eq!(v["verdict"], "unstable");
    assert!(has(&v, "spikes", "warning"), "{:?}", codes(&v));
    assert!(has(&v, "non-finite", "warning"), "{:?}", codes(&v));
    assert!(
        !has(&v, "non-finite", "error"),
        "the loss never went non-finite"
    );
    let nf = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "non-finite")
        .unwrap();
    assert_eq!(nf["evidence"]["series"][0]["series"], "enc-grad-norm");
    assert_eq!(nf["evidence"]["series"][0]["count"], 8);
    let spikes = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "spikes")
        .unwrap();
    assert_eq!(spikes["evidence"]["worst_step"], 700);
    assert_eq!(code, 0, "warnings do not trip the default gate");
    let (_, code) = report("samples/highlr_reg", &["--fail-on", "warning"]);
    assert_eq!(code, 1);
}

#[test]
fn the_recipe_sample_is_healthy() {
    let (v, code) = report("samples/recipe", &[]);
    assert_eq!(v["verdict"], "healthy");
    assert_eq!(code, 0);
    assert!(
        codes(&v).iter().all(|(_, s)| s == "info"),
        "{:?}",
        codes(&v)
    );
}

#[test]
fn a_run_at_lr_1e5_gets_lr_too_low_and_stalls() {
    let (v, _) = report("synthetic/lr_too_low", &[]);
    assert!(has(&v, "lr-too-low", "warning"));
    assert_eq!(v["verdict"], "stalled");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "lr-too-low")
        .unwrap();
    assert!(f["message"].as_str().unwrap().contains("1e-5"), "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("100× below the 1e-3 class"),
        "{f}"
    );
    let rec = f["recommendations"][0].as_str().unwrap();
    assert!(
        rec.contains("peak LR 1e-5 (config") && rec.contains("warmup 2 epochs (200 steps)"),
        "{rec}"
    );
}

#[test]
fn a_warmup_rise_that_then_falls_is_not_a_finding() {
    let (v, code) = report("synthetic/warmup_rise_then_fall", &[]);
    assert_eq!(v["verdict"], "healthy");
    assert_eq!(code, 0);
    assert!(
        codes(&v)
            .iter()
            .all(|(c, s)| s == "info" && c != "rebound" && c != "spikes"),
        "{:?}",
        codes(&v)
    );
    assert_eq!(v["rebound"]["detected"], false);
}

#[test]
fn collapse_exits_1_under_the_default_gate() {
    let (v, code) = report("synthetic/collapse", &[]);
    assert_eq!(v["verdict"], "collapse");
    assert!(has(&v, "collapse", "error"));
    assert_eq!(code, 1);
    assert_eq!(v["exit_code"], 1);
    let (_, code) = report("synthetic/collapse", &["--fail-on", "never"]);
    assert_eq!(code, 0);
}

#[test]
fn rebound_joint_readings() {
    let (v, code) = report("synthetic/rebound_reg_falling", &[]);
    assert_eq!(v["verdict"], "rebound");
    assert!(has(&v, "rebound", "warning"));
    let f = &v["findings"][0];
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("shifting EMA targets, the model is still learning")
    );
    assert!(
        f["recommendations"][0]
            .as_str()
            .unwrap()
            .starts_with("Validate downstream")
    );
    assert!(f["evidence"]["epoch_at_min"].is_number());
    assert!(f["evidence"]["lr_at_min"].is_number());
    assert_eq!(code, 0);
    let (_, code) = report("synthetic/rebound_reg_falling", &["--fail-on", "rebound"]);
    assert_eq!(code, 1);

    let (v, code) = report("synthetic/rebound_reg_rising", &[]);
    assert_eq!(v["verdict"], "collapse");
    assert!(has(&v, "rebound-with-collapse", "error"));
    assert_eq!(code, 1);

    let (v, _) = report("synthetic/rebound_probe_falls", &[]);
    assert!(has(&v, "rebound-with-collapse", "error"), "{:?}", codes(&v));
    let f = &v["findings"][0];
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("eval/knn_top1 got worse")
    );
}

#[test]
fn a_nan_loss_is_a_divergence() {
    let (v, code) = report("synthetic/diverged", &[]);
    assert_eq!(v["verdict"], "diverged");
    assert!(has(&v, "non-finite", "error"));
    assert_eq!(code, 1);
    assert!(
        v["headline"]
            .as_str()
            .unwrap()
            .contains("became nan at step 1997")
    );
}

#[test]
fn periodic_crashes() {
    let (v, _) = report("synthetic/periodic_crashes", &[]);
    assert_eq!(v["verdict"], "unstable");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "sudden-drop")
        .unwrap();
    assert_eq!(
        f["evidence"]["period_steps"].as_f64().map(|p| p.round()),
        Some(300.0)
    );
    assert!(f["evidence"]["count"].as_u64().unwrap() >= 4);
}

#[test]
fn spikes_on_a_healthy_descent() {
    let (v, _) = report("synthetic/spiky", &[]);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "spikes")
        .unwrap();
    assert_eq!(f["evidence"]["count"], 4);
    assert_eq!(f["evidence"]["worst_step"], 900);
    assert_eq!(v["rebound"]["detected"], false);
}

#[test]
fn schedule_and_config_lint() {
    let (v, _) = report("synthetic/no_warmup_no_decay", &[]);
    assert!(has(&v, "no-warmup", "warning"));
    assert!(has(&v, "no-decay", "info"));
    let smells: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "config-smell")
        .map(|f| f["evidence"]["smell"].as_str().unwrap())
        .collect();
    assert!(smells.contains(&"constant-ema-constant-lr"), "{smells:?}");
    let (v, _) = report("synthetic/warmup_longer_than_run", &[]);
    assert!(has(&v, "config-smell", "warning"));
    let (v, _) = report("samples/recipe", &[]);
    assert!(
        has(&v, "config-smell", "info"),
        "reg_coeff 0 with reg-loss logged"
    );
}

#[test]
fn a_few_epoch_averages_are_insufficient_data() {
    let (v, _) = report("synthetic/few_epochs", &[]);
    assert_eq!(v["verdict"], "insufficient-data");
    let f = &v["findings"][0];
    assert_eq!(f["code"], "insufficient-data");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("cannot establish a trend"),
        "{f}"
    );
}

#[test]
fn findings_are_sorted_by_severity() {
    let (v, _) = report("synthetic/diverged", &[]);
    let rank = |s: &str| match s {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    };
    let order: Vec<i32> = codes(&v).iter().map(|(_, s)| rank(s)).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
}

#[test]
fn github_annotations() {
    doctor()
        .arg("analyze")
        .arg(fixture("synthetic/collapse"))
        .arg("--github")
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(r"(?m)^::error file=.*jepa_r0\.csv,title=jepa-doctor%3A collapse::reg-loss ended at").unwrap())
        .stdout(predicate::str::contains("::notice "))
        // The annotations are added to the report, not instead of it.
        .stdout(predicate::str::contains("\ncollapse:"));
    // With the JSON on standard output the annotations go to standard error (the Actions runner
    // reads workflow commands from both), so the JSON stays parseable.
    let out = doctor()
        .args([
            "analyze",
            &fixture("synthetic/collapse"),
            "--github",
            "--json=-",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "collapse");
    assert!(String::from_utf8_lossy(&out.stderr).contains("::error file="));
}

#[test]
fn markdown_summary_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    doctor()
        .arg("analyze")
        .arg(fixture("synthetic/rebound_reg_falling"))
        .arg(format!("--markdown={}", md.display()))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("rebound:"));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("## jepa-doctor: rebound\n"));
    assert!(
        text.contains("| ⚠️ warning | `rebound` | 711–1999 |"),
        "{text}"
    );
    assert!(text.contains("<details><summary>What to try</summary>"));
}

#[test]
fn quiet_prints_nothing_and_keeps_the_status() {
    doctor()
        .args(["analyze", &fixture("synthetic/collapse"), "--quiet"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("");
}

#[test]
fn color_and_explain() {
    doctor()
        .args([
            "analyze",
            &fixture("synthetic/collapse"),
            "--color",
            "always",
        ])
        .assert()
        .stdout(predicate::str::contains("\u{1b}["));
    doctor()
        .args(["analyze", &fixture("synthetic/collapse")])
        .env("NO_COLOR", "1")
        .assert()
        .stdout(predicate::str::contains("\u{1b}[").not());
    doctor()
        .args([
            "analyze",
            &fixture("synthetic/rebound_reg_falling"),
            "--explain",
        ])
        .assert()
        .stdout(
            predicate::str::contains("variances inflated for that persistence")
                .and(predicate::str::contains(
                    "so the points right after it are low by that choice",
                ))
                .and(predicate::str::contains("probe checkpoints at steps")),
        );
}
