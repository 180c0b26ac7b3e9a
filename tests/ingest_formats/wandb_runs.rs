//! A `wandb/` folder of several offline runs (a copy of fixtures/formats/wandb_two_runs, written by
//! wandb with `mode="offline"`: lr_1e-3, then lr_3e-3, `latest-run` linking the second).
//! `analyze --run` picks a run by its folder name or its run ID, from the project folder or from
//! `wandb/`, and names the runs when it picks none; without `--run` the run `latest-run` links is
//! read and a note names the other one; a `latest-run` whose run folder was deleted is called a
//! broken link, with the runs that are there; `compare` on a project folder holding `wandb/` and
//! `mlruns/` compares the runs of both stores.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{copy_tree, fixture, json_of, refusal, report};

const FIRST: &str = "offline-run-20261130_161500-pnifc0yx";
const LATEST: &str = "offline-run-20261130_161502-vx0jak2g";

/// A project folder holding a copy of the two runs' `wandb/` folder, `latest-run` included.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        Path::new(&fixture("formats/wandb_two_runs/wandb")),
        &dir.path().join("wandb"),
    );
    assert_eq!(
        std::fs::read_link(dir.path().join("wandb/latest-run")).unwrap(),
        PathBuf::from(LATEST)
    );
    dir
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

/// What must be the same when the same run is read: its series and its rebound.
fn essentials(r: &Value) -> (Value, Value) {
    (r["series"].clone(), r["rebound"].clone())
}

#[test]
fn run_picks_a_wandb_offline_run_by_folder_name_or_run_id() {
    let project = project();
    let wandb = project.path().join("wandb");
    let inputs = [arg(project.path()), arg(&wandb)];
    let first = essentials(&report(&[&arg(&wandb.join(FIRST))]));
    let latest = essentials(&report(&[&arg(&wandb.join(LATEST))]));
    assert_ne!(first, latest, "two different runs");
    for (run, want) in [(FIRST, &first), (LATEST, &latest)] {
        let id = run.rsplit('-').next().unwrap();
        for input in &inputs {
            for pick in [run, id] {
                let got = report(&[input, &format!("--run={pick}")]);
                assert_eq!(&essentials(&got), want, "{input} --run={pick}");
                let sources = got["input"]["sources"].to_string();
                assert!(sources.contains(run), "{input} --run={pick}: {sources}");
            }
        }
    }
    // A run that is not there: exit 2, the runs named with their IDs.
    for input in &inputs {
        let err = refusal(&[input, "--run=nope"]);
        assert!(err.contains("no run 'nope'"), "{input}: {err}");
        for run in [FIRST, LATEST] {
            let id = run.rsplit('-').next().unwrap();
            assert!(err.contains(&format!("{run} ({id})")), "{input}: {err}");
        }
    }
    // A run folder given itself is the only run it can pick.
    let err = refusal(&[&arg(&wandb.join(FIRST)), &format!("--run={LATEST}")]);
    assert!(err.contains(&format!("no run '{LATEST}'")), "{err}");
}

#[test]
fn without_run_latest_run_is_read_and_a_note_names_the_other_run() {
    let project = project();
    let wandb = project.path().join("wandb");
    let latest = essentials(&report(&[&arg(&wandb.join(LATEST))]));
    for input in [arg(project.path()), arg(&wandb)] {
        let got = report(&[&input]);
        assert_eq!(essentials(&got), latest, "{input}");
        let warnings = got["input"]["warnings"].to_string();
        assert!(
            warnings.contains(&format!("read {LATEST} (where latest-run points)"))
                && warnings.contains(FIRST)
                && warnings.contains("--run"),
            "{input}: {warnings}"
        );
    }
    // The run folder given itself, or one run alone, gets no such note.
    let got = report(&[&arg(&wandb.join(LATEST))]);
    assert!(!got["input"]["warnings"].to_string().contains("latest-run"));
}

#[test]
fn a_broken_latest_run_link_is_named_with_the_runs_that_are_there() {
    // The run `latest-run` links was deleted: the one run left is read (analyze and compare),
    // and the note says the link is broken.
    let project = project();
    let wandb = project.path().join("wandb");
    std::fs::remove_dir_all(wandb.join(LATEST)).unwrap();
    let want = essentials(&report(&[&arg(&wandb.join(FIRST))]));
    for input in [arg(project.path()), arg(&wandb)] {
        let got = report(&[&input]);
        assert_eq!(essentials(&got), want, "{input}");
        let warnings = got["input"]["warnings"].to_string();
        assert!(
            warnings.contains(&format!(
                "latest-run is a broken link (to {LATEST}, which does not exist); read the one run here, {FIRST}"
            )),
            "{input}: {warnings}"
        );
    }
    let compared = json_of("compare", &[&arg(project.path())]);
    let runs = compared["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{compared}");
    assert!(runs[0]["error"].is_null(), "{compared}");
    // The link itself given: refused once, saying which folder reads the run.
    let err = refusal(&[&arg(&wandb.join("latest-run"))]);
    assert!(err.starts_with("jepa-doctor: error: "), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "latest-run is a broken link (to {LATEST}, which does not exist); the one run here is {FIRST} (pnifc0yx): `jepa-doctor analyze {}` reads it",
            arg(&wandb)
        )),
        "{err}"
    );
    // Two runs left and a broken link: which one is meant is unknown; both are listed.
    let third = "offline-run-20261130_161501-zzzz0000";
    copy_tree(&wandb.join(FIRST), &wandb.join(third));
    for input in [
        arg(project.path()),
        arg(&wandb),
        arg(&wandb.join("latest-run")),
    ] {
        let err = refusal(&[&input]);
        assert_eq!(err.matches("error:").count(), 1, "{input}: {err}");
        assert!(
            err.contains("latest-run is a broken link")
                && err.contains(&format!("{FIRST} (pnifc0yx), {third} (zzzz0000)"))
                && err.contains("--run"),
            "{input}: {err}"
        );
    }
    // Either is read with --run.
    let got = report(&[&arg(project.path()), "--run=pnifc0yx"]);
    assert_eq!(essentials(&got), want);
}

#[test]
fn compare_on_a_project_with_wandb_and_mlruns_compares_the_runs_of_both() {
    let project = project();
    copy_tree(
        Path::new(&fixture("formats/mlflow_two_runs/mlruns")),
        &project.path().join("mlruns"),
    );
    let got = json_of("compare", &[&arg(project.path())]);
    let mut names: Vec<String> = got["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["error"].is_null(), "{r}");
            r["name"].as_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["lr_1e-3", "lr_3e-3", FIRST, LATEST]);
    // `analyze` reads one store and says which, naming the other and `compare`.
    let r = json_of("analyze", &[&arg(project.path()), "--run", "lr_1e-3"]);
    let warnings = r["input"]["warnings"].to_string();
    assert!(
        warnings.contains("also found")
            && warnings.contains("wandb; analysing")
            && warnings.contains("compares the runs of both"),
        "{warnings}"
    );
}
