//! `jepa-doctor compare`, end to end with the real binary: the shipped samples, a synthetic
//! learning-rate sweep with known truth (tests/common/sweep.rs, seed printed), saved reports as
//! inputs (the map/reduce of docs/sweeps.md), a bad run among good ones, the figure, and the
//! compare JSON contract of docs/json.md (structs that reject unknown fields).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use common::sweep::{self, Truth};
use common::{Tool, fixture};
use serde::Deserialize;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

// ---- the contract (docs/json.md, "The compare report") ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CompareReport {
    schema_version: u32,
    tool: Tool,
    rank_by: String,
    rank_direction: String,
    rank_caveat: Option<String>,
    runs: Vec<RunEntry>,
    config_diff: Vec<String>,
    exit_code: u8,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RunEntry {
    name: String,
    sources: Vec<String>,
    rank: Option<usize>,
    verdict: Option<String>,
    headline: Option<String>,
    exit_code: Option<u8>,
    rebound: Option<Value>,
    min_loss: Option<f64>,
    min_step: Option<u64>,
    final_loss: Option<f64>,
    reg_trend: Option<String>,
    warmup_end_step: Option<u64>,
    last_step: Option<u64>,
    findings: Vec<FindingBrief>,
    peak_lr: Option<f64>,
    ema_start: Option<f64>,
    ema_end: Option<f64>,
    eval: Vec<Value>,
    rank_value: Option<f64>,
    config: serde_json::Map<String, Value>,
    error: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FindingBrief {
    code: String,
    severity: String,
}

impl RunEntry {
    fn has(&self, code: &str, severity: &str) -> bool {
        self.findings
            .iter()
            .any(|f| f.code == code && f.severity == severity)
    }
    fn rebound_detected(&self) -> bool {
        self.rebound
            .as_ref()
            .and_then(|r| r.get("detected"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

fn bin() -> Result<Command, Box<dyn std::error::Error>> {
    let mut cmd = Command::cargo_bin("jepa-doctor")?;
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    Ok(cmd)
}

/// Runs `compare` with `args`, returns (exit status, stdout, stderr).
fn compare(args: &[&str]) -> Result<(i32, String, String), Box<dyn std::error::Error>> {
    let out = bin()?.arg("compare").args(args).output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

fn compare_json(args: &[&str]) -> Result<(i32, CompareReport), Box<dyn std::error::Error>> {
    let mut all = args.to_vec();
    all.push("--json=-");
    let (code, stdout, stderr) = compare(&all)?;
    let report: CompareReport = serde_json::from_str(&stdout)
        .map_err(|e| format!("{e}\nstdout: {stdout}\nstderr: {stderr}"))?;
    assert_eq!(report.exit_code as i32, code);
    Ok((code, report))
}

fn run<'a>(r: &'a CompareReport, name: &str) -> &'a RunEntry {
    r.runs
        .iter()
        .find(|x| x.name == name)
        .unwrap_or_else(|| panic!("no run {name}"))
}

// ---- the shipped samples ----

#[test]
fn the_samples_side_by_side() -> TestResult {
    let (recipe, highlr) = (fixture("samples/recipe"), fixture("samples/highlr_reg"));
    let (code, r) = compare_json(&[&recipe, &highlr])?;
    assert_eq!(r.schema_version, 1);
    assert_eq!(r.tool.name, "jepa-doctor");
    assert_eq!(r.rank_by, "health");
    assert!(r.rank_caveat.is_none());
    assert_eq!(code, 0, "no error finding in either sample");
    // The recipe run has no warning; the high-LR run has spikes and a non-finite grad norm.
    let (a, b) = (run(&r, "recipe"), run(&r, "highlr_reg"));
    assert_eq!(a.rank, Some(1));
    assert_eq!(b.rank, Some(2));
    assert_eq!(r.runs[0].name, "recipe", "listed in rank order");
    assert!(b.findings.iter().any(|f| f.severity == "warning"));
    for x in [a, b] {
        assert!(x.verdict.is_some() && x.error.is_none());
        assert!(x.min_loss.is_some() && x.final_loss.is_some() && x.min_step.is_some());
        assert_eq!(x.ema_start, Some(0.998));
        assert_eq!(x.warmup_end_step, Some(400));
    }
    assert_eq!(a.peak_lr, Some(0.000625));
    assert_eq!(b.peak_lr, Some(0.001));
    // The two params files differ in lr, reg_coeff, the log folder and load_checkpoint: only
    // the hyperparameters are the diff.
    assert_eq!(r.config_diff, ["loss.reg_coeff", "optimization.lr"]);
    assert_eq!(a.config["optimization.lr"], 0.000625);
    assert_eq!(b.config["loss.reg_coeff"], 1.0);

    let (_, text, _) = compare(&[&recipe, &highlr, "--color=never"])?;
    println!("{text}");
    for needle in [
        "ranked by health",
        "min loss @ step",
        "findings ≥ warning",
        "reg_coeff",
        "config diff: loss.reg_coeff, optimization.lr",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let line_of = |name: &str| text.lines().position(|l| l.contains(name));
    assert!(line_of("recipe") < line_of("highlr_reg"), "{text}");

    let (_, md, _) = compare(&[&recipe, &highlr, "--markdown=-"])?;
    assert!(
        md.starts_with("## jepa-doctor compare: 2 of 2 runs analysed"),
        "{md}"
    );
    assert!(md.contains("| # | run | verdict |"), "{md}");
    assert!(md.contains("`optimization.lr`"), "{md}");
    Ok(())
}

#[test]
fn ranking_by_a_downstream_metric() -> TestResult {
    let probe = fixture("synthetic/rebound_probe_falls");
    let mixed = fixture("json/train_eval_mixed.jsonl");
    let recipe = fixture("samples/recipe");
    let args = [&probe, &mixed, &recipe, "--rank-by=eval:eval/knn_top1"];
    let (_, r) = compare_json(&args)?;
    assert_eq!(r.rank_by, "eval:eval/knn_top1");
    assert!(
        r.rank_direction.starts_with("higher"),
        "{}",
        r.rank_direction
    );
    assert!(r.rank_caveat.is_none());
    let order: Vec<(&str, Option<usize>)> =
        r.runs.iter().map(|x| (x.name.as_str(), x.rank)).collect();
    assert_eq!(
        order,
        [
            ("train_eval_mixed", Some(1)),
            ("rebound_probe_falls", Some(2)),
            ("recipe", None)
        ]
    );
    assert_eq!(r.runs[0].rank_value, Some(0.88));
    let probe_row = run(&r, "rebound_probe_falls");
    assert_eq!(probe_row.eval[0]["best"], 0.5797);
    assert_eq!(probe_row.eval[0]["best_step"], 1400);
    let (_, text, _) = compare(&[&probe, &mixed, &recipe, "--color=never"])?;
    assert!(text.contains("best eval/knn_top1"), "{text}");
    assert!(text.contains("0.5797 @ 1400"), "{text}");
    Ok(())
}

// ---- a synthetic LR sweep with known truth ----

/// A written run: its directory, peak LR and truth.
type SweepRun = (String, f64, Truth);

/// Writes a sweep of the given LRs (seed printed), returns the run directories and truths.
fn sweep_of(
    root: &Path,
    lrs: &[f64],
    seed: u64,
) -> Result<Vec<SweepRun>, Box<dyn std::error::Error>> {
    println!("sweep seed {seed}");
    lrs.iter()
        .enumerate()
        .map(|(i, lr)| {
            let dir = root.join(format!("lr_{lr:.0e}"));
            let truth = sweep::write_run(&dir, *lr, seed + i as u64)?;
            Ok((dir.display().to_string(), *lr, truth))
        })
        .collect()
}

#[test]
fn an_lr_sweep_stall_rebound_collapse() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runs = sweep_of(tmp.path(), &[1e-5, 1e-3, 1e-2], 1500)?;
    let dirs: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    let (code, r) = compare_json(&dirs)?;
    let (low, mid, high) = (run(&r, "lr_1e-5"), run(&r, "lr_1e-3"), run(&r, "lr_1e-2"));

    // Lowest LR: stalls — too low an LR, the loss barely moves.
    assert!(low.has("lr-too-low", "warning"), "{low:?}");
    assert!(!low.rebound_detected());
    assert!(low.final_loss.ok_or("final")? > 0.7, "{low:?}");
    // Middle: a benign rebound — significant rise after the minimum while reg-loss keeps falling.
    assert_eq!(mid.verdict.as_deref(), Some("rebound"), "{mid:?}");
    assert!(mid.rebound_detected());
    assert_eq!(mid.reg_trend.as_deref(), Some("falling"));
    assert!(
        !mid.findings.iter().any(|f| f.severity == "error"),
        "{mid:?}"
    );
    // Highest: collapse — loss to ~3% of its start with reg-loss pinned near 1.
    assert_eq!(high.verdict.as_deref(), Some("collapse"), "{high:?}");
    assert!(high.has("collapse", "error"), "{high:?}");
    assert!(high.final_loss.ok_or("final")? < 0.05);

    // Exit status follows --fail-on over all runs: the collapse is an error.
    assert_eq!(code, 1);
    assert_eq!(high.exit_code, Some(1));
    assert_eq!(mid.exit_code, Some(0));
    let (never, _) = compare_json(&[dirs[0], dirs[1], dirs[2], "--fail-on=never"])?;
    assert_eq!(never, 0);
    let (warning, _) = compare_json(&[dirs[0], dirs[1], "--fail-on=warning"])?;
    assert_eq!(warning, 1, "the rebound and lr-too-low are warnings");

    // Health: the collapse is last; the benign rebound (lower final loss) before the stall.
    let order: Vec<&str> = r.runs.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(order, ["lr_1e-3", "lr_1e-5", "lr_1e-2"]);
    // By minimum loss the collapsed run "wins" — which is why the ranking carries a caveat.
    let (_, by_loss) = compare_json(&[dirs[0], dirs[1], dirs[2], "--rank-by=min-loss"])?;
    assert_eq!(by_loss.runs[0].name, "lr_1e-2");
    assert_eq!(by_loss.runs[0].rank_value, by_loss.runs[0].min_loss);
    assert!(
        by_loss
            .rank_caveat
            .as_deref()
            .is_some_and(|c| c.contains("proxy"))
    );
    assert!(by_loss.rank_direction.contains("lower"));
    let (_, text, _) = compare(&[dirs[0], dirs[1], dirs[2], "--rank-by=final-loss"])?;
    assert!(text.contains("note: the JEPA loss is a proxy"), "{text}");

    // Only the LR differs between the runs' configs.
    assert_eq!(r.config_diff, ["optimization.lr"]);
    Ok(())
}

#[test]
fn a_twenty_run_sweep_matches_its_truth() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let seed = 15;
    println!("sweep seed {seed}");
    let runs = sweep::write_sweep(tmp.path(), 20, seed)?;
    let dirs: Vec<String> = runs.iter().map(|r| r.0.display().to_string()).collect();
    let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    let plot = tmp.path().join("sweep.svg");
    let plot_arg = format!("--plot={}", plot.display());
    args.push(&plot_arg);
    let (_, r) = compare_json(&args)?;
    assert_eq!(r.runs.len(), 20);
    // Confusion table: truth (rows) × verdict (columns).
    let mut table: BTreeMap<(Truth, String), usize> = BTreeMap::new();
    for (dir, lr, truth) in &runs {
        let name = dir
            .file_name()
            .ok_or("name")?
            .to_string_lossy()
            .into_owned();
        let x = run(&r, &name);
        let verdict = x.verdict.clone().unwrap_or_default();
        *table.entry((*truth, verdict.clone())).or_default() += 1;
        match truth {
            Truth::Stall => assert!(x.has("lr-too-low", "warning") && !x.rebound_detected()),
            Truth::Healthy => assert!(
                !x.rebound_detected() && !x.findings.iter().any(|f| f.severity == "error"),
                "lr {lr}: {x:?}"
            ),
            Truth::Rebound => assert!(
                x.rebound_detected()
                    && x.reg_trend.as_deref() == Some("falling")
                    && !x.findings.iter().any(|f| f.severity == "error"),
                "lr {lr}: {x:?}"
            ),
            Truth::Collapse => assert!(x.has("collapse", "error"), "lr {lr}: {x:?}"),
        }
    }
    println!("{:<10} verdict → count", "truth");
    for ((truth, verdict), n) in &table {
        println!("{:<10} {verdict:<18} {n}", truth.label());
    }
    // Every collapse ranks after every run without an error.
    let last_clean = r
        .runs
        .iter()
        .rposition(|x| !x.findings.iter().any(|f| f.severity == "error"));
    let first_error = r
        .runs
        .iter()
        .position(|x| x.findings.iter().any(|f| f.severity == "error"));
    assert!(last_clean < first_error);
    // The figure names every run, with its rank and verdict, in its legend.
    let texts = svg_texts(&std::fs::read_to_string(&plot)?)?;
    for x in &r.runs {
        let entry = format!(
            "{}. {} · {}",
            x.rank.ok_or("rank")?,
            x.name,
            x.verdict.as_deref().unwrap_or_default()
        );
        assert!(texts.contains(&entry), "{entry} not in the legend");
    }
    Ok(())
}

// ---- saved reports: the reduce step of a sweep ----

#[test]
fn saved_reports_compare_like_the_runs_themselves() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runs = sweep_of(tmp.path(), &[1e-5, 1e-3, 1e-2], 2600)?;
    let mut reports = Vec::new();
    for (dir, _, _) in &runs {
        let report = format!("{dir}.json");
        let status = bin()?
            .args([
                "analyze",
                dir,
                &format!("--json={report}"),
                "--fail-on=never",
            ])
            .output()?
            .status;
        assert_eq!(status.code(), Some(0));
        reports.push(report);
    }
    let dirs: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    let saved: Vec<&str> = reports.iter().map(String::as_str).collect();
    let (_, live, _) = compare(&[&dirs[..], &["--json=-"]].concat())?;
    let (_, reduced, _) = compare(&[&saved[..], &["--json=-"]].concat())?;
    // Same names (the report's file stem), same rows, same ranking, same diff, byte for byte.
    assert_eq!(live, reduced);
    // Runs and reports mixed also work.
    let (code, mixed) = compare_json(&[dirs[0], saved[1], saved[2]])?;
    assert_eq!(code, 1);
    assert_eq!(mixed.runs.len(), 3);
    Ok(())
}

/// The Slurm array script of docs/sweeps.md, run as Slurm would run its tasks (one process per
/// `SLURM_ARRAY_TASK_ID`; `#SBATCH` lines are comments to bash), then the reduce step.
#[test]
fn the_slurm_map_script_feeds_compare() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runs = sweep_of(&tmp.path().join("runs"), &[1e-5, 1e-3, 1e-2], 3700)?;
    let list: String = runs.iter().map(|r| format!("{}/\n", r.0)).collect();
    std::fs::write(tmp.path().join("runs.txt"), list)?;
    let bin_dir = assert_cmd::cargo::cargo_bin("jepa-doctor")
        .parent()
        .ok_or("bin dir")?
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/sweep/map.sbatch");
    for task in 0..runs.len() {
        let status = std::process::Command::new("bash")
            .arg(&script)
            .current_dir(tmp.path())
            .env("PATH", &path)
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .status()?;
        assert!(status.success(), "task {task}");
    }
    let reports: Vec<String> = runs
        .iter()
        .map(|r| {
            let name = Path::new(&r.0)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            tmp.path()
                .join("reports")
                .join(format!("{name}.json"))
                .display()
                .to_string()
        })
        .collect();
    let args: Vec<&str> = reports.iter().map(String::as_str).collect();
    let (code, r) = compare_json(&args)?;
    assert_eq!(code, 1, "the collapsed run");
    let names: Vec<&str> = r.runs.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["lr_1e-3", "lr_1e-5", "lr_1e-2"]);
    Ok(())
}

// ---- bad input ----

#[test]
fn one_bad_run_does_not_stop_the_others() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let broken = tmp.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"schema_version": 1, "tool": {"name": "jepa-doctor"}, "verdict": 3}"#,
    )?;
    let missing = tmp.path().join("missing_run");
    let recipe = fixture("samples/recipe");
    let (broken, missing) = (broken.display().to_string(), missing.display().to_string());
    let (code, stdout, stderr) = compare(&[&recipe, &broken, &missing, "--color=never"])?;
    assert_eq!(code, 0, "the recipe run was analysed: {stderr}");
    assert!(stdout.contains("1 of 3 runs analysed"), "{stdout}");
    assert!(stdout.contains("not analysed broken: "), "{stdout}");
    assert!(stdout.contains("not analysed missing_run: "), "{stdout}");
    assert!(
        stderr.contains("jepa-doctor: warning: run missing_run:"),
        "{stderr}"
    );

    // (-q would silence --json=- too: nothing goes to standard output with -q.)
    let (_, r) = compare_json(&[&recipe, &broken, &missing])?;
    let bad = run(&r, "broken");
    assert!(bad.verdict.is_none() && bad.rank.is_none() && bad.exit_code.is_none());
    assert!(
        bad.error
            .as_deref()
            .is_some_and(|e| e.contains("not a jepa-doctor analyze report"))
    );
    assert_eq!(r.runs[0].name, "recipe", "analysed runs first");

    // No run analysable: exit 2.
    let (code, _, _) = compare(&[&broken, &missing])?;
    assert_eq!(code, 2);
    Ok(())
}

#[test]
fn usage_errors_exit_2() -> TestResult {
    let recipe = fixture("samples/recipe");
    for args in [
        vec![recipe.as_str(), "--json=-", "--markdown=-"],
        vec![recipe.as_str(), "--rank-by=loss"],
        vec![recipe.as_str(), "--plot=out.jpg"],
    ] {
        let (code, _, stderr) = compare(&args)?;
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    Ok(())
}

// ---- the figure ----

/// The text elements of an SVG, trimmed.
fn svg_texts(svg: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let doc = roxmltree::Document::parse(svg)?;
    Ok(doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect())
}

#[test]
fn the_figure_is_written_for_each_x_axis() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let (recipe, highlr) = (fixture("samples/recipe"), fixture("samples/highlr_reg"));
    let png = tmp.path().join("two.png");
    let (code, _, stderr) =
        compare(&[&recipe, &highlr, &format!("--plot={}", png.display()), "-q"])?;
    assert_eq!(code, 0, "{stderr}");
    let bytes = std::fs::read(&png)?;
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Width and height from the IHDR chunk: the default size.
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into()?), 1600);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into()?), 1000);
    for (axis, label) in [
        ("step", "step"),
        ("epoch", "epoch"),
        ("progress", "progress through the run"),
    ] {
        let svg = tmp.path().join(format!("{axis}.svg"));
        let (code, _, stderr) = compare(&[
            &recipe,
            &highlr,
            &format!("--plot={}", svg.display()),
            &format!("--x={axis}"),
            "-q",
        ])?;
        assert_eq!(code, 0, "{stderr}");
        let texts = svg_texts(&std::fs::read_to_string(&svg)?)?;
        assert!(texts.iter().any(|t| t == label), "{axis}: no {label}");
        assert!(
            texts.iter().any(|t| t == "1. recipe · healthy"),
            "{axis}: {texts:?}"
        );
    }
    // Nothing is left behind but the figures.
    let left: Vec<_> = std::fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty());
    Ok(())
}
