//! Which runs a `compare` command line names: each RUN argument becomes zero or more
//! [`NamedRun`]s, a name and where the run's data comes from.
//!
//! **Sources holding several runs.** Arguments are offered to the [`PRODUCERS`] in order; the
//! first that claims one produces its runs: a saved `analyze --json` report is one run
//! ([`saved_report`]); a TensorBoard log dir with several run folders, an MLflow store (file store
//! or `mlflow.db`), a `wandb/` folder of offline runs or a W&B CSV export with several runs is one
//! named run per run it holds ([`multi_run_source`], from
//! [`crate::ingest::sources::list_runs`]), each read with `--run` set to it; so are the runs of
//! every store one level down in a sweep or project folder holding no log of its own (`mlruns/`
//! or `mlflow.db`, and `wandb/`: both stores' runs); anything else (a run directory, a log file)
//! is one run read exactly like `analyze` reads it ([`single_run`]). Another kind of source is
//! one more producer in that list.
//! Everything after this step — analysis, ranking, table, figure — sees only named runs.

use std::io::Read;
use std::path::Path;

use crate::ingest::sources::{RunRef, list_runs, stores_below};

/// Where one compared run's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunSource {
    /// The inputs of one run (files, a run directory), read with the same ingest as `analyze`.
    Logs(Vec<String>),
    /// One run of a source holding several: the source's inputs and the run to read from them
    /// (what `analyze --run ID|NAME` selects).
    Selected { inputs: Vec<String>, run: String },
    /// A saved `analyze --json` report.
    Report(String),
}

/// One run of the comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRun {
    /// Unique within the comparison: the directory or file name, with parent folders added when
    /// two runs would otherwise share a name.
    pub name: String,
    pub source: RunSource,
}

/// A producer: claims an argument (`Some`) and returns the runs it holds.
pub type Producer = fn(&str) -> Option<Vec<NamedRun>>;

/// The producers, tried in order (see the module documentation).
pub const PRODUCERS: &[Producer] = &[saved_report, multi_run_source, single_run];

/// The named runs of the RUN arguments, in the order given, names made unique.
pub fn named_runs(args: &[String]) -> Vec<NamedRun> {
    let mut runs: Vec<NamedRun> = args
        .iter()
        .flat_map(|arg| {
            PRODUCERS
                .iter()
                .find_map(|produce| produce(arg))
                .unwrap_or_default()
        })
        .collect();
    make_names_unique(&mut runs);
    runs
}

/// A saved `analyze --json` report: a `.json` file whose first bytes are jepa-doctor's
/// `schema_version` and `tool` (a JSON *log* such as `trainer_state.json` is not claimed).
pub fn saved_report(arg: &str) -> Option<Vec<NamedRun>> {
    let path = Path::new(arg);
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json || !is_saved_report(path) {
        return None;
    }
    Some(vec![NamedRun {
        name: stem(arg),
        source: RunSource::Report(arg.to_string()),
    }])
}

/// Whether the file starts like a jepa-doctor report: `schema_version` and the tool's name in the
/// first 1 KiB (the report writes them first).
fn is_saved_report(path: &Path) -> bool {
    let mut head = Vec::with_capacity(1024);
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if file.take(1024).read_to_end(&mut head).is_err() {
        return false;
    }
    let head = String::from_utf8_lossy(&head);
    head.trim_start().starts_with('{')
        && head.contains("\"schema_version\"")
        && head.contains("\"jepa-doctor\"")
}

/// A TensorBoard log dir, MLflow store, `wandb/` folder or W&B export holding two or more runs
/// (or a folder whose stores below hold two or more together): one named run per run, named as
/// the source names it (TensorBoard run folder, MLflow `run_name`, W&B run folder or run name).
/// A source holding one run, or one that cannot be listed, is left to [`single_run`] (whose
/// reading reports the error).
pub fn multi_run_source(arg: &str) -> Option<Vec<NamedRun>> {
    let mut runs = list_runs(arg).ok()?;
    if runs.len() < 2 {
        runs = runs_below(arg)?;
    }
    if runs.len() < 2 {
        return None;
    }
    Some(
        runs.into_iter()
            .map(|r| NamedRun {
                source: match r.select {
                    Some(run) => RunSource::Selected {
                        inputs: r.inputs,
                        run,
                    },
                    None => RunSource::Logs(r.inputs),
                },
                name: r.name,
            })
            .collect(),
    )
}

/// The runs of every store one level down in a folder holding no log of its own (`sweep/mlruns/`
/// or `sweep/mlflow.db`, and `project/wandb/`; [`crate::ingest::sources::stores_below`]), so that
/// a sweep or project folder compares the runs its stores hold instead of being one run that
/// `analyze` refuses as several (or reads only one store of).
fn runs_below(arg: &str) -> Option<Vec<RunRef>> {
    let dir = Path::new(arg);
    if !dir.is_dir() {
        return None;
    }
    // `layout_source` is `dir` itself when it is a store, `None` when it has logs of its own.
    if crate::ingest::discover::layout_source(dir)? == dir {
        return None;
    }
    let mut runs = Vec::new();
    for store in stores_below(dir) {
        runs.extend(list_runs(store.to_str()?).ok()?);
    }
    Some(runs)
}

/// Anything else: one run, read like `analyze` reads its inputs.
pub fn single_run(arg: &str) -> Option<Vec<NamedRun>> {
    Some(vec![NamedRun {
        name: stem(arg),
        source: RunSource::Logs(vec![arg.to_string()]),
    }])
}

/// A run's name from its path: the directory name, or the file name without its extension.
fn stem(arg: &str) -> String {
    let path = Path::new(arg.trim_end_matches(['/', '\\']));
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .unwrap_or_else(|| arg.to_string())
}

/// Adds parent folders to names that collide (`a/run`, `b/run`), then a `#N` suffix if the paths
/// themselves are the same.
fn make_names_unique(runs: &mut [NamedRun]) {
    let paths: Vec<String> = runs
        .iter()
        .map(|r| match &r.source {
            RunSource::Logs(p) => p.first().cloned().unwrap_or_default(),
            RunSource::Selected { inputs, run } => {
                format!("{}/{run}", inputs.first().map_or("", String::as_str))
            }
            RunSource::Report(p) => p.clone(),
        })
        .collect();
    for depth in 1..=4 {
        let clashing: Vec<usize> = (0..runs.len())
            .filter(|&i| runs.iter().filter(|r| r.name == runs[i].name).count() > 1)
            .collect();
        if clashing.is_empty() {
            return;
        }
        for i in clashing {
            let parts: Vec<&str> = paths[i]
                .trim_end_matches(['/', '\\'])
                .split(['/', '\\'])
                .filter(|p| !p.is_empty() && *p != ".")
                .collect();
            let keep = parts.len().saturating_sub(depth + 1);
            let mut name: Vec<String> = parts[keep..parts.len().saturating_sub(1)]
                .iter()
                .map(|s| s.to_string())
                .collect();
            name.push(stem(&paths[i]));
            runs[i].name = name.join("/");
        }
    }
    let mut seen: Vec<String> = Vec::new();
    for r in runs.iter_mut() {
        let n = seen.iter().filter(|s| **s == r.name).count();
        seen.push(r.name.clone());
        if n > 0 {
            r.name = format!("{}#{}", r.name, n + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(path: &str) -> NamedRun {
        NamedRun {
            name: stem(path),
            source: RunSource::Logs(vec![path.to_string()]),
        }
    }

    #[test]
    fn clashing_names_get_their_parent_folder() {
        let mut runs = vec![
            logs("sweep/a/jepa_r0.csv"),
            logs("sweep/b/jepa_r0.csv"),
            logs("other.csv"),
        ];
        make_names_unique(&mut runs);
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a/jepa_r0", "b/jepa_r0", "other"]);
    }

    #[test]
    fn the_same_path_twice_is_numbered() {
        let mut runs = vec![logs("x/run.csv"), logs("x/run.csv")];
        make_names_unique(&mut runs);
        assert_eq!(runs[0].name, "x/run");
        assert_eq!(runs[1].name, "x/run#2");
    }
}
