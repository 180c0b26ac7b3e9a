//! The JSON contract (docs/json.md) as structs that reject unknown fields: a report that gains,
//! loses or renames a field fails here, so every change to the contract is deliberate (update
//! docs/json.md and these structs together).

mod common;

use common::Tool;

use assert_cmd::Command;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Report {
    schema_version: u32,
    tool: Tool,
    input: Input,
    series: Vec<SeriesEntry>,
    verdict: String,
    headline: String,
    rebound: Rebound,
    changepoints: Vec<Changepoint>,
    findings: Vec<Finding>,
    setup: Setup,
    exit_code: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Setup {
    peak_lr: Option<f64>,
    peak_lr_source: Option<String>,
    ema_start: Option<f64>,
    ema_end: Option<f64>,
    eval: Vec<EvalBest>,
    params: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EvalBest {
    series: String,
    higher_is_better: bool,
    best: f64,
    best_step: u64,
    last: f64,
    last_step: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Input {
    sources: Vec<String>,
    format: String,
    rows_read: u64,
    rows_used: u64,
    rows_skipped: u64,
    rows_replaced: u64,
    duplicates_replaced: u64,
    restarts: u64,
    ranks: u64,
    config: Option<String>,
    ipe: Option<Ipe>,
    rank_spread: Option<RankSpread>,
    lines_ignored: u64,
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Ipe {
    value: u64,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RankSpread {
    series: String,
    steps_compared: u64,
    median_range: f64,
    max_range: f64,
    max_range_step: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Skipped {
    source: String,
    line: Option<u64>,
    record: Option<u64>,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SeriesEntry {
    name: String,
    role: String,
    points: u64,
    non_finite: u64,
    first_step: Option<u64>,
    last_step: Option<u64>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Rebound {
    detected: bool,
    series: Option<String>,
    min_step: Option<u64>,
    min_value: Option<f64>,
    onset_step: Option<u64>,
    end_value: Option<f64>,
    magnitude: Option<f64>,
    p_value: Option<f64>,
    slope_per_1k_steps: Option<f64>,
    reg_trend_after_min: String,
    start_value: Option<f64>,
    z: Option<f64>,
    points_after_min: u64,
    power: String,
    min_attainable_p: Option<f64>,
    last_step: Option<u64>,
    warmup: Option<Warmup>,
    reg: Option<RegDetail>,
    block_size: u64,
    summary: String,
    min_step_range: Option<[u64; 2]>,
    probe_steps: Vec<u64>,
    plateau_value: Option<f64>,
    plateau_wander: Option<f64>,
    jump_step: Option<u64>,
    test: Option<RiseTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RiseTest {
    start_step: u64,
    points: u64,
    ar1_upper: f64,
    correlation_length: f64,
    p_trend: f64,
    p_shift: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Warmup {
    end_step: u64,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RegDetail {
    series: String,
    p_value: f64,
    change: f64,
    change_threshold: f64,
    points: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Changepoint {
    series: String,
    step: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Finding {
    code: String,
    severity: String,
    series: Option<String>,
    step_start: Option<u64>,
    step_end: Option<u64>,
    message: String,
    evidence: serde_json::Map<String, Value>,
    recommendations: Vec<String>,
    reasoning: Vec<String>,
}

fn json_of(dir: &str) -> String {
    let out = Command::cargo_bin("jepa-doctor")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["analyze", dir, "--json=-"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn reports_match_the_documented_contract() {
    const VERDICTS: &[&str] = &[
        "healthy",
        "rebound",
        "collapse",
        "unstable",
        "diverged",
        "stalled",
        "insufficient-data",
    ];
    const CODES: &[&str] = &[
        "rebound",
        "rebound-with-collapse",
        "collapse",
        "sudden-drop",
        "spikes",
        "non-finite",
        "plateau",
        "slow-descent",
        "lr-too-low",
        "no-warmup",
        "no-decay",
        "config-smell",
        "insufficient-data",
    ];
    for dir in [
        "fixtures/samples/recipe",
        "fixtures/samples/highlr_reg",
        "fixtures/ranks",
        "fixtures/synthetic/rebound_reg_falling",
        "fixtures/synthetic/collapse",
        "fixtures/synthetic/diverged",
        "fixtures/synthetic/few_epochs",
        "fixtures/json/trainer_state.json",
        "fixtures/csv/vjepa_truncated_last_line.csv",
    ] {
        let text = json_of(dir);
        let report: Report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(report.schema_version, 1);
        assert!(
            VERDICTS.contains(&report.verdict.as_str()),
            "{dir}: {}",
            report.verdict
        );
        for f in &report.findings {
            assert!(CODES.contains(&f.code.as_str()), "{dir}: {}", f.code);
            assert!(["info", "warning", "error"].contains(&f.severity.as_str()));
        }
        assert_eq!(
            report.input.rows_read,
            report.input.rows_used + report.input.rows_skipped + report.input.rows_replaced
        );
    }
}

#[test]
fn the_report_is_deterministic() {
    let a = json_of("fixtures/samples/highlr_reg");
    let b = json_of("fixtures/samples/highlr_reg");
    assert_eq!(a, b);
    assert!(
        !a.contains(env!("CARGO_MANIFEST_DIR")),
        "no absolute path the user did not type"
    );
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(
        "json_rebound_reg_falling",
        json_of("fixtures/synthetic/rebound_reg_falling")
    );
}
