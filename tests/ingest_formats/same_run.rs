//! The same run from every format (fixtures/formats/same_run/): CSV is the reference; every
//! other format must give the same series, roles, values and verdict (by role where a framework
//! names its series its own way; to float32 rounding for the console log's running means).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{doctor, essentials, exported, fixture, refusal, report};

const SAME_RUN: &[(&str, &str)] = &[
    ("same_run/tensorboard", "tensorboard"),
    ("same_run/tensorboard_tensor", "tensorboard"),
    ("same_run/mlruns", "mlflow"),
    ("same_run/mlflow.db", "mlflow"),
    ("same_run/wandb", "wandb"),
    ("same_run/wandb/latest-run", "wandb"),
    ("same_run/wandb_export_hand_copy.csv", "wandb-csv"),
    ("same_run/metrics.jsonl", "jsonl"),
];

#[test]
fn the_same_run_reads_alike_from_every_format() {
    let reference_path = fixture("formats/same_run/reference.csv");
    let reference = report(&[&reference_path]);
    assert_eq!(reference["verdict"], "rebound", "the fixture is a rebound");
    let want = essentials(&reference);
    let want_values = exported(&reference_path);
    assert_eq!(want_values.len(), 4);
    for (rel, format) in SAME_RUN {
        let path = fixture(&format!("formats/{rel}"));
        let got = report(&[&path]);
        assert_eq!(got["input"]["format"], *format, "{rel}");
        assert_eq!(got["input"]["rows_skipped"], 0, "{rel}");
        assert_eq!(essentials(&got), want, "{rel}");
        assert_eq!(exported(&path), want_values, "{rel}: values differ");
    }
}

/// Role → (points, first step, last step) and the values, for formats whose series names differ.
fn by_role(r: &Value, values: &BTreeMap<String, Vec<(String, String)>>) -> BTreeMap<String, Value> {
    r["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] != "other" && s["role"] != "timing")
        .map(|s| {
            let name = s["name"].as_str().unwrap();
            let points: Vec<f64> = values[name]
                .iter()
                .map(|(_, v)| v.parse().unwrap())
                .collect();
            (
                s["role"].as_str().unwrap().to_string(),
                serde_json::json!([s["points"], s["first_step"], s["last_step"], points]),
            )
        })
        .collect()
}

/// The rebound without the names of the series it was found on.
fn rebound_of(r: &Value) -> Value {
    let mut rebound = r["rebound"].clone();
    rebound["series"] = Value::Null;
    if rebound["reg"].is_object() {
        rebound["reg"]["series"] = Value::Null;
    }
    rebound
}

#[test]
fn the_same_run_from_framework_logs_and_the_console_log_gives_the_same_roles_and_verdict() {
    let reference_path = fixture("formats/same_run/reference.csv");
    let reference = report(&[&reference_path]);
    let want = by_role(&reference, &exported(&reference_path));
    // Frameworks name the series their way (Lightning `loss_step`) and add bookkeeping series
    // (MMEngine `data_time`, `memory`; DINOv2 `iter_time`): the same values by role.
    for (rel, format) in [
        ("lightning_logs/version_0/metrics.csv", "csv"),
        ("mmengine_work_dir", "jsonl"),
        ("training_metrics.json", "jsonl"),
        ("hf_output_dir", "json"),
    ] {
        let path = fixture(&format!("formats/same_run/framework/{rel}"));
        let got = report(&[&path]);
        assert_eq!(got["input"]["format"], format, "{rel}");
        assert_eq!(got["input"]["rows_skipped"], 0, "{rel}");
        assert_eq!(got["verdict"], reference["verdict"], "{rel}");
        assert_eq!(rebound_of(&got), rebound_of(&reference), "{rel}");
        assert_eq!(by_role(&got, &exported(&path)), want, "{rel}");
    }
    // The console log prints running means; the window means recovered from its 10 decimals
    // are the logged values to float32 rounding.
    let console = fixture("formats/same_run/console_hand_copy.log");
    let got = report(&[&console]);
    assert_eq!(got["input"]["format"], "console-log");
    assert_eq!(got["verdict"], reference["verdict"]);
    // It also prints input_var (a second reg-role monitor), wd, masks and times: the reference's
    // series are compared by name.
    let (want_series, got_series) = (essentials(&reference).3, essentials(&got).3);
    let (want_values, got_values) = (exported(&reference_path), exported(&console));
    for (name, want) in &want_series {
        assert_eq!(
            got_series.get(name),
            Some(want),
            "console {name}: role and steps"
        );
        for ((_, a), (_, b)) in got_values[name].iter().zip(&want_values[name]) {
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                "console {name}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn an_unreadable_wandb_log_falls_back_to_the_console_output_with_a_note() {
    let wandb_log =
        fixture("formats/same_run/wandb/offline-run-20261130_062823-47n8utuj/run-47n8utuj.wandb");
    let bytes = std::fs::read(wandb_log).unwrap();
    let mut newer = bytes.clone();
    newer[6] = 9; // a log version jepa-doctor does not read
    let mut damaged = bytes.clone();
    for b in &mut damaged[7..] {
        *b ^= 0x5a; // every record's checksum fails
    }
    let reference = report(&[&fixture("formats/same_run/reference.csv")]);
    for (case, log, why) in [
        ("newer", newer, "version 9"),
        ("damaged", damaged, "no history"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("offline-run-20261130_062823-47n8utuj");
        std::fs::create_dir_all(run.join("files")).unwrap();
        std::fs::write(run.join("run-47n8utuj.wandb"), &log).unwrap();
        let folder = run.display().to_string();
        // Without the console copy: refused, naming the way out.
        let err = refusal(&[&folder]);
        assert!(
            err.contains(why) && err.contains("wandb sync"),
            "{case}: {err}"
        );
        std::fs::copy(
            fixture("formats/same_run/console_hand_copy.log"),
            run.join("files/output.log"),
        )
        .unwrap();
        let got = report(&[&folder]);
        assert_eq!(got["input"]["format"], "console-log", "{case}");
        assert_eq!(got["verdict"], reference["verdict"], "{case}");
        let warnings = got["input"]["warnings"].to_string();
        assert!(
            warnings.contains(why)
                && warnings.contains("files/output.log")
                && warnings.contains("missing"),
            "{case}: {warnings}"
        );
    }
}

#[test]
fn mlflow_params_reach_compare_config_diff_and_the_setup() {
    // Written by mlflow with a Hugging Face-style script's names: learning_rate 1e-3 and 3e-3.
    for store in [
        "formats/mlflow_two_runs/mlruns",
        "formats/mlflow_two_runs/mlflow.db",
    ] {
        let out = doctor()
            .args(["compare", &fixture(store), "--json=-"])
            .output()
            .unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let diff = got["config_diff"].to_string();
        assert!(diff.contains("optimization.lr"), "{store}: {diff}");
        assert!(
            !diff.contains("weight_decay"),
            "{store}: same in both: {diff}"
        );
        for lr in ["1e-3", "3e-3"] {
            let run = report(&[&fixture(store), &format!("--run=lr_{lr}")]);
            assert_eq!(run["setup"]["peak_lr_source"], "config", "{store}");
            assert_eq!(
                run["setup"]["peak_lr"],
                lr.parse::<f64>().unwrap(),
                "{store}"
            );
            let params = &run["setup"]["params"];
            assert_eq!(params["optimization.weight_decay"], 0.04, "{store}");
            assert_eq!(params["optimization.warmup_steps"], 50, "{store}");
        }
    }
}

#[test]
fn fairseq_lines_read_as_the_same_run_with_their_extra_counters() {
    let path = fixture("formats/same_run/hydra_train_hand_copy.log");
    let got = report(&[&path]);
    assert_eq!(got["input"]["format"], "fairseq-log");
    let reference = report(&[&fixture("formats/same_run/reference.csv")]);
    assert_eq!(got["verdict"], reference["verdict"]);
    assert_eq!(got["rebound"], reference["rebound"]);
    let values = exported(&path);
    let want = exported(&fixture("formats/same_run/reference.csv"));
    for (name, points) in &want {
        assert_eq!(values.get(name), Some(points), "{name}");
    }
}
