//! What a researcher sees, end to end on the binary (the reviewer's list of the third round):
//! a validation *loss* is not a downstream accuracy, so its rise is never read as collapse; a loss
//! never finite is "no usable loss" (exit 2), not a divergence; `--rank-by=eval:NAME` naming no
//! run's metric is refused with the metrics there are; the series table of a log with thousands
//! of keys is bounded; one rank's log twice (compressed and not) is named as that; and the figure
//! tells the text's story (no minimum on a run that never descended, the rise shaded from where
//! the text says it sets in, epochs counted from 1, an assumed warmup said to be assumed).

mod common;

use std::io::Write;
use std::path::Path;

use common::{doctor, fixture, svg_of, texts};
use serde_json::Value;

/// The JSON report and exit status of `analyze PATH`; the run must have been analysed.
fn analyze_json(path: &str) -> (Value, i32) {
    let out = doctor()
        .args(["analyze", path, "--no-settings", "--json=-"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(code < 2, "{path}: {}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding: {v:#}"))
}

/// Pseudo-noise in [-1, 1) from a 64-bit LCG (Knuth's MMIX constants), reproducible by seed.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A run whose training `loss` falls from 1.0 to 0.45 by step 120 and then climbs back (a
/// quarter of its descent by step 300: a rebound), with one evaluation column every 10 steps,
/// `eval(step)`, named `eval_name` — as Keras' CSVLogger or a supervised fine-tuning script
/// writes them. Returns the CSV's path.
fn rebound_with_eval(
    dir: &Path,
    seed: u64,
    eval_columns: &[(&str, &dyn Fn(f64) -> f64)],
) -> String {
    let path = dir.join(format!("run_{seed}.csv"));
    let mut f = std::fs::File::create(&path).unwrap();
    let names: Vec<&str> = eval_columns.iter().map(|(n, _)| *n).collect();
    let header: Vec<&str> = ["step", "loss"].into_iter().chain(names).collect();
    writeln!(f, "{}", header.join(",")).unwrap();
    let mut noise = Noise(seed);
    for step in 0..=300u32 {
        let t = f64::from(step);
        let trend = if t <= 120.0 {
            0.45 + 0.55 * (-t / 30.0).exp() - 0.55 * (-4.0f64).exp() * t / 120.0
        } else {
            0.45 + 0.0008 * (t - 120.0)
        };
        let loss = trend + 0.004 * noise.next();
        let mut cells = vec![step.to_string(), format!("{loss:.5}")];
        cells.extend(eval_columns.iter().map(|(_, eval)| {
            if step % 10 == 0 {
                format!("{:.5}", eval(t))
            } else {
                String::new()
            }
        }));
        writeln!(f, "{}", cells.join(",")).unwrap();
    }
    path.display().to_string()
}

/// A validation loss of the same objective: it falls with the training loss and rises with it.
fn tracks_the_loss(t: f64) -> f64 {
    if t <= 120.0 {
        0.48 + 0.55 * (-t / 30.0).exp()
    } else {
        0.48 + 0.0009 * (t - 120.0)
    }
}

#[test]
fn a_rising_validation_loss_is_not_collapse_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, name) in [
        "val_loss",
        "eval_loss",
        "validation/loss",
        "test/nll",
        "val_perplexity",
    ]
    .into_iter()
    .enumerate()
    {
        let seed = 11 + seed as u64;
        println!("seed {seed}: {name}");
        let path = rebound_with_eval(dir.path(), seed, &[(name, &tracks_the_loss)]);
        let (v, code) = analyze_json(&path);
        let found = codes(&v);
        assert!(
            !found.contains(&"rebound-with-collapse".to_string()),
            "{name}: {found:?}"
        );
        assert_eq!(v["verdict"], "rebound", "{name}: {found:?}");
        assert_eq!(code, 0, "{name}: a rebound is a warning");
        let rebound = finding(&v, "rebound");
        let message = rebound["message"].as_str().unwrap();
        assert!(message.contains(name), "{message}");
        assert!(message.contains("not evidence of collapse"), "{message}");
        assert_eq!(rebound["evidence"]["validation_loss"]["series"], name);
        assert!(rebound["evidence"]["downstream"].is_null());
    }
}

#[test]
fn a_falling_downstream_accuracy_still_means_collapse_even_after_a_validation_loss() {
    let dir = tempfile::tempdir().unwrap();
    // Accuracy at 0.70 around the minimum, 0.55 at the end: a fifth lost.
    let falls = |t: f64| {
        if t <= 120.0 {
            0.5 + 0.2 * t / 120.0
        } else {
            0.70 - 0.15 * (t - 120.0) / 180.0
        }
    };
    let holds = |t: f64| 0.5 + 0.25 * (t / 300.0);
    for (seed, name) in ["val_accuracy", "knn_top1", "probe_acc"]
        .into_iter()
        .enumerate()
    {
        let seed = 31 + seed as u64;
        println!("seed {seed}: {name}");
        // The validation loss comes first, as Keras writes `val_loss` before `val_accuracy`
        // only by name order; the accuracy decides.
        let path = rebound_with_eval(
            dir.path(),
            seed,
            &[("val_loss", &tracks_the_loss), (name, &falls)],
        );
        let (v, code) = analyze_json(&path);
        let f = finding(&v, "rebound-with-collapse");
        assert_eq!(f["evidence"]["downstream"]["series"], name, "{f:#}");
        assert_eq!(v["verdict"], "collapse");
        assert_eq!(code, 1);
        let path = rebound_with_eval(
            dir.path(),
            seed + 100,
            &[("val_loss", &tracks_the_loss), (name, &holds)],
        );
        let (v, _) = analyze_json(&path);
        assert_eq!(v["verdict"], "rebound", "{name} held: {:?}", codes(&v));
    }
}

#[test]
fn the_keras_csvlogger_run_is_a_rebound_not_a_collapse() {
    let (v, code) = analyze_json(&fixture("formats/framework/keras_training_hand_copy.log"));
    assert_eq!(v["verdict"], "rebound", "{:?}", codes(&v));
    assert_eq!(code, 0);
    let message = finding(&v, "rebound")["message"].as_str().unwrap();
    assert!(message.contains("val_loss rose with it"), "{message}");
}

#[test]
fn a_loss_never_finite_is_no_usable_loss_exit_2() {
    let out = doctor()
        .args(["analyze", &fixture("too_few/loss_never_finite.csv")])
        .args(["--no-settings", "--json=-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "no report for an unusable input");
    assert!(stderr.starts_with("jepa-doctor: error: "), "{stderr}");
    assert!(stderr.contains("no usable loss"), "{stderr}");
    assert!(stderr.contains("loss is nan at all"), "{stderr}");
    assert!(stderr.contains("did not diverge"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_jepa_loss_never_finite_beside_a_finite_total_is_a_logging_fault_not_a_divergence() {
    let (v, _) = analyze_json(&fixture("too_few/jepa_never_finite_total_finite.csv"));
    assert_ne!(v["verdict"], "diverged");
    assert_eq!(
        v["rebound"]["series"], "loss",
        "the finite loss is analysed"
    );
    let f = finding(&v, "non-finite");
    assert_eq!(f["severity"], "warning", "{f:#}");
    assert_eq!(f["evidence"]["never_finite"], true);
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("loss-jepa") && message.contains("not a divergence"),
        "{message}"
    );
    // A loss that was finite and then became nan still diverged.
    let (v, _) = analyze_json(&fixture("csv/vjepa_nan_loss_last_row.csv"));
    assert_eq!(v["verdict"], "diverged");
}

#[test]
fn compare_gives_a_run_without_a_usable_loss_its_reason() {
    let out = doctor()
        .args(["compare", "--json=-"])
        .arg(fixture("too_few/loss_never_finite.csv"))
        .arg(fixture("samples/recipe"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| !r["error"].is_null())
        .unwrap_or_else(|| panic!("the never-finite run has an error: {v:#}"));
    assert!(bad["verdict"].is_null());
    assert!(
        bad["error"].as_str().unwrap().contains("no usable loss"),
        "{bad:#}"
    );
}

#[test]
fn rank_by_an_eval_metric_no_run_has_is_refused_naming_those_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let a = rebound_with_eval(dir.path(), 51, &[("val_loss", &tracks_the_loss)]);
    let b = rebound_with_eval(dir.path(), 52, &[("val_loss", &tracks_the_loss)]);
    let out = doctor()
        .args(["compare", &a, &b, "--rank-by=eval:probe_acc"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no run has an eval series named probe_acc"),
        "{stderr}"
    );
    assert!(stderr.contains("val_loss (2 of 2 runs)"), "{stderr}");
    assert!(out.stdout.is_empty());
    // The metric that exists ranks.
    let out = doctor()
        .args(["compare", &a, &b, "--rank-by=eval:val_loss"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    // Runs without any downstream metric: said so.
    let out = doctor()
        .args([
            "compare",
            &fixture("samples/recipe"),
            &fixture("samples/highlr_reg"),
        ])
        .arg("--rank-by=eval:probe_acc")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("none of the runs has a downstream metric"),
        "{stderr}"
    );
}

#[test]
fn the_series_table_of_thousands_of_keys_is_bounded_with_the_roles_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many_keys.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    let keys = 3000;
    for step in 0..30u32 {
        let mut record = serde_json::Map::new();
        record.insert("step".into(), step.into());
        for k in 0..keys {
            // Short keys: a line stays under the 64 KiB the format is recognised from.
            record.insert(format!("m{k}"), k.into());
        }
        // A role beyond the first rows of keys, and a key with a non-finite value at the end.
        record.insert("lr".into(), 1e-3.into());
        let last = if step == 29 {
            "NaN".to_string()
        } else {
            "0.5".to_string()
        };
        let mut line = serde_json::to_string(&record).unwrap();
        line.pop();
        let loss = 1.0 / (1.0 + f64::from(step));
        writeln!(f, "{line},\"zz_probe_stat\":{last},\"loss\":{loss}}}").unwrap();
    }
    drop(f);
    let out = doctor()
        .args([
            "analyze",
            path.to_str().unwrap(),
            "--no-settings",
            "--no-chart",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("series "))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        table.len() <= 27,
        "{} lines:\n{}",
        table.len(),
        table.join("\n")
    );
    let row = |name: &str| {
        table
            .iter()
            .any(|l| l.split_whitespace().next() == Some(name))
    };
    assert!(
        row("loss") && row("lr") && row("zz_probe_stat"),
        "{}",
        table.join("\n")
    );
    let more = table.last().unwrap();
    assert!(
        more.starts_with("… and ") && more.contains("--json lists all 3003"),
        "{more}"
    );
    // The JSON report lists them all.
    let (v, _) = analyze_json(path.to_str().unwrap());
    assert_eq!(v["series"].as_array().unwrap().len(), 3003);
}

#[test]
fn one_rank_log_twice_compressed_and_not_is_named_as_that() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(fixture("ranks/jepa_r0.csv")).unwrap();
    std::fs::write(dir.path().join("jepa_r0.csv"), &plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    std::fs::write(dir.path().join("jepa_r0.csv.gz"), gz.finish().unwrap()).unwrap();
    let out = doctor()
        .args(["analyze", dir.path().to_str().unwrap(), "--no-settings"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("one log twice"), "{stderr}");
    assert!(stderr.contains("one compressed and one not"), "{stderr}");
    assert!(stderr.contains("keep one"), "{stderr}");
    assert!(
        !stderr.contains("compare"),
        "not a comparison of runs: {stderr}"
    );
}

// ---- the figure (SVG, whose text is readable) ----

#[test]
fn a_run_that_never_descended_has_no_minimum_marked_but_its_uniform_level() {
    let labels = texts(&svg_of(
        &["analyze", &fixture("cases/uniform-collapse-dino/log.txt")],
        &[],
    ));
    assert!(
        !labels.iter().any(|t| t.starts_with("min ")),
        "no minimum on a flat line: {labels:?}"
    );
    assert!(
        labels
            .iter()
            .any(|t| t.contains("ln 65536") && t.contains("uniform outputs")),
        "{labels:?}"
    );
}

#[test]
fn the_rebound_is_shaded_from_where_the_text_says_the_rise_sets_in() {
    let path = fixture("cases/jump-rebound-data2vec/train_inner.jsonl");
    let (v, _) = analyze_json(&path);
    let onset = v["rebound"]["onset_step"].as_u64().expect("an onset");
    assert_ne!(Some(onset), v["rebound"]["min_step"].as_u64());
    let labels = texts(&svg_of(&["analyze", &path], &[]));
    let needle = format!("rises from step {onset}");
    assert!(
        labels.iter().any(|t| t.contains(&needle)),
        "{needle}: {labels:?}"
    );
}

#[test]
fn the_warmup_band_says_where_it_comes_from() {
    // No LR column, no config: the first 5% is an assumption, and the legend says so.
    let dir = tempfile::tempdir().unwrap();
    let path = rebound_with_eval(dir.path(), 61, &[]);
    let labels = texts(&svg_of(&["analyze", &path], &[]));
    assert!(
        labels
            .iter()
            .any(|t| t == "warmup (assumed: first 5%, not logged)"),
        "{labels:?}"
    );
    let labels = texts(&svg_of(&["analyze", &fixture("samples/recipe")], &[]));
    assert!(labels.iter().any(|t| t == "warmup (config)"), "{labels:?}");
}

#[test]
fn compare_counts_epochs_from_1_as_analyze_does() {
    let svg = svg_of(
        &[
            "compare",
            &fixture("samples/recipe"),
            &fixture("samples/highlr_reg"),
        ],
        &["--x=epoch"],
    );
    // The x-axis tick labels: centred under the axis (the y labels are right-aligned).
    let ticks: Vec<f64> = svg
        .split("<text")
        .skip(1)
        .filter(|t| t.contains("text-anchor=\"middle\"") && t.contains("dy=\"0.76em\""))
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            body[..body.find("</text>")?].trim().parse().ok()
        })
        .collect();
    assert!(!ticks.is_empty(), "{svg}");
    let first = ticks.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(
        first, 1.0,
        "the axis starts at epoch 1, as analyze says: {ticks:?}"
    );
}

#[test]
fn the_figure_marks_the_drops_and_the_fall_the_text_reports() {
    let path = fixture("cases/periodic-crashes-vjepa2");
    let (v, _) = analyze_json(&path);
    let count = finding(&v, "sudden-drop")["evidence"]["count"]
        .as_u64()
        .unwrap();
    let labels = texts(&svg_of(&["analyze", &path], &[]));
    let needle = format!("sudden drops ({count}, every ~");
    assert!(
        labels.iter().any(|t| t.starts_with(&needle)),
        "{needle}: {labels:?}"
    );
    let path = fixture("cases/slow-collapse-cooldown");
    let (v, _) = analyze_json(&path);
    let e = &finding(&v, "collapse")["evidence"];
    let needle = format!(
        "steps {}–{}",
        e["fall_start_step"].as_u64().unwrap(),
        e["fall_end_step"].as_u64().unwrap()
    );
    let labels = texts(&svg_of(&["analyze", &path], &[]));
    assert!(
        labels
            .iter()
            .any(|t| t.starts_with("collapse: fell to ") && t.ends_with(&needle)),
        "{needle}: {labels:?}"
    );
}
