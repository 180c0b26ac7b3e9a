//! Runs found one level down, as the frameworks and trackers lay them out.
//!
//! `compare` on a sweep folder whose runs live in an MLflow store one level down (`mlruns/` or
//! `mlflow.db`, as scripts that call `mlflow.start_run()` in the sweep's working directory leave
//! them; fixtures written by real mlflow): the store's runs are the compared runs, named as the
//! store names them, exactly as `analyze --run` reads each. `analyze` on the same folder refuses
//! the several runs and points to `compare`. A project folder whose `wandb/` holds several offline
//! runs compares each. And a framework's own folder given instead of the run folder
//! (`lightning_logs/`, MMEngine's `<time>/`) is read like the run folder.

use serde_json::Value;

use super::{fixture, json_of, refusal, report};

/// `compare ARGS --json=-` (exit 0 or 1) as JSON.
fn compared(args: &[&str]) -> Value {
    json_of("compare", args)
}

/// name → (verdict, min_value of the rebound) of each compared run; no run may have failed.
fn runs_of(report: &Value) -> Vec<(String, Value, Value)> {
    let mut runs: Vec<(String, Value, Value)> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["error"].is_null(), "{r}");
            (
                r["name"].as_str().unwrap().to_string(),
                r["verdict"].clone(),
                r["rebound"]["min_value"].clone(),
            )
        })
        .collect();
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    runs
}

#[test]
fn a_sweep_folder_holding_an_mlflow_store_compares_the_stores_runs() {
    let store = fixture("formats/mlflow_two_runs/mlflow.db");
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("sweep");
    std::fs::create_dir(&sweep).unwrap();
    std::fs::copy(&store, sweep.join("mlflow.db")).unwrap();
    let sweep = sweep.to_str().unwrap();
    // Each run as `analyze --run NAME` reads it from the store itself.
    let want: Vec<(String, Value, Value)> = ["lr_1e-3", "lr_3e-3"]
        .iter()
        .map(|name| {
            let one = report(&[&store, &format!("--run={name}")]);
            (
                name.to_string(),
                one["verdict"].clone(),
                one["rebound"]["min_value"].clone(),
            )
        })
        .collect();
    assert_ne!(want[0].2, want[1].2, "two different runs");
    for input in [sweep.to_string(), format!("{sweep}/")] {
        let got = compared(&[&input]);
        assert_eq!(runs_of(&got), want, "{input}");
        // The store's params are each run's config: the sweep's learning rates differ.
        let diff = got["config_diff"].to_string();
        assert!(diff.contains("optimization.lr"), "{input}: {diff}");
    }
    // `analyze` on the same folder: several runs, refused with the way to compare them.
    let err = refusal(&[sweep]);
    assert!(
        err.contains("lr_1e-3") && err.contains("lr_3e-3") && err.contains("compare"),
        "{err}"
    );
}

#[test]
fn a_file_store_one_level_down_is_expanded_too_and_a_one_run_store_stays_one_run() {
    // fixtures/formats/mlflow_two_runs holds mlruns/ and mlflow.db (the same two runs); as in
    // `analyze`, the file store is the one found first.
    let got = compared(&[&fixture("formats/mlflow_two_runs")]);
    let names: Vec<String> = runs_of(&got).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["lr_1e-3", "lr_3e-3"]);
    // A folder whose store holds one run is that one run, named after the folder.
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("only_run");
    std::fs::create_dir(&one).unwrap();
    std::fs::copy(fixture("formats/same_run/mlflow.db"), one.join("mlflow.db")).unwrap();
    let got = compared(&[
        one.to_str().unwrap(),
        &fixture("formats/same_run/reference.csv"),
    ]);
    let names: Vec<String> = runs_of(&got).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["only_run", "reference"]);
}

#[test]
fn a_project_folder_with_several_wandb_offline_runs_compares_each_run() {
    // Two runs written by wandb (`mode="offline"`): lr_1e-3, then lr_3e-3 (values × 1.2);
    // `latest-run` links the second.
    let project = fixture("formats/wandb_two_runs");
    let wandb = fixture("formats/wandb_two_runs/wandb");
    let mut run_dirs: Vec<std::path::PathBuf> = std::fs::read_dir(&wandb)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "latest-run")
        .collect();
    run_dirs.sort();
    assert_eq!(run_dirs.len(), 2, "{run_dirs:?}");
    // Each run as `analyze wandb/offline-run-…` reads it, named by its folder.
    let want: Vec<(String, Value, Value)> = run_dirs
        .iter()
        .map(|dir| {
            let one = report(&[dir.to_str().unwrap()]);
            (
                dir.file_name().unwrap().to_string_lossy().into_owned(),
                one["verdict"].clone(),
                one["rebound"]["min_value"].clone(),
            )
        })
        .collect();
    assert_ne!(want[0].2, want[1].2, "two different runs");
    for input in [&project, &wandb] {
        assert_eq!(runs_of(&compared(&[input])), want, "{input}");
    }
    // `analyze` on the project folder reads where `latest-run` points: the second run.
    assert_eq!(report(&[&project])["rebound"]["min_value"], want[1].2);
}

#[test]
fn a_frameworks_own_folder_reads_like_the_run_folder() {
    for (run_folder, own_folder) in [
        (
            "formats/framework/lightning_run",
            "formats/framework/lightning_run/lightning_logs",
        ),
        (
            "formats/framework/mmengine_work_dir",
            "formats/framework/mmengine_work_dir/20240101_000000",
        ),
    ] {
        let want = report(&[&fixture(run_folder)]);
        let got = report(&[&fixture(own_folder)]);
        assert_eq!(
            got["input"]["sources"], want["input"]["sources"],
            "{own_folder}"
        );
        assert_eq!(got["series"], want["series"], "{own_folder}");
        assert_eq!(got["verdict"], want["verdict"], "{own_folder}");
    }
}
