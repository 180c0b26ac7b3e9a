//! What a source holds when it is more than one log file: a TensorBoard log directory, an MLflow
//! store (file store or `mlflow.db`), a W&B CSV export or a `wandb/` folder of offline runs may
//! hold several runs. `analyze` reads exactly one run — the only one, or the one `--run ID|NAME`
//! picks — and refuses several with a list of them and a pointer to `compare` (a `wandb/` folder
//! reads the run its `latest-run` links, with a note naming the others); [`list_runs`] gives
//! `compare` the runs of a source and how to load each, [`stores_below`] the stores of a folder.
//!
//! The other half is the rule of DESIGN §2: several *different* runs are never averaged as ranks.
//! Files merge as ranks only when they are one run's `{tag}_r{N}` files (one tag, distinct ranks,
//! the same header, overlapping steps); [`check_one_run`] (in `one_run`) refuses anything else
//! with exit 2.

use std::path::{Path, PathBuf};

// Re-exported: readers and `watch` that name them through `sources` keep working.
pub use super::run_pick::{RunTables, pick};
use super::{IngestOptions, Source, mlflow, tensorboard, wandb};
use crate::error::IngestError;
use crate::model::Format;

mod one_run;
pub use one_run::check_one_run;

/// One run held by a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRef {
    /// The run's display name (TensorBoard run folder, MLflow `run_name`, W&B run name).
    pub name: String,
    /// The store's own ID when it has one (MLflow run UUID).
    pub id: Option<String>,
    pub format: Format,
    /// How to load it: pass `inputs` to [`super::load`] with `IngestOptions::run = select`.
    pub inputs: Vec<String>,
    pub select: Option<String>,
}

/// A directory (or file) layout that holds runs rather than being one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Container {
    /// A directory with TensorBoard event files in it or below it.
    Tensorboard(PathBuf),
    /// An MLflow file store: the `mlruns` root, an experiment folder, or one run folder.
    MlflowFiles(PathBuf),
    /// An MLflow SQLite store (`mlflow.db`).
    MlflowDb(PathBuf),
    /// A W&B offline run folder (`wandb/offline-run-*`, `wandb/run-*`, `wandb/latest-run`).
    WandbRun(PathBuf),
    /// A folder of W&B offline run folders (`wandb/`).
    WandbRuns(PathBuf),
}

/// Recognises a container at `path`, event files anywhere below a directory included (no reading
/// beyond names and first bytes).
pub fn container_at(path: &Path) -> Option<Container> {
    container_here(path).or_else(|| {
        (path.is_dir() && has_event_files(path, 0))
            .then(|| Container::Tensorboard(path.to_path_buf()))
    })
}

/// Like [`container_at`], but a TensorBoard log directory only when event files are in `path`
/// itself (a run folder whose logs sit beside a `tb/` folder stays a run folder).
pub fn container_here(path: &Path) -> Option<Container> {
    if path.is_dir() {
        if mlflow::is_file_store(path) {
            return Some(Container::MlflowFiles(path.to_path_buf()));
        }
        if wandb::is_run_dir(path) {
            return Some(Container::WandbRun(path.to_path_buf()));
        }
        if wandb::is_runs_folder(path) {
            return Some(Container::WandbRuns(path.to_path_buf()));
        }
        let direct_events = std::fs::read_dir(path).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| tensorboard::is_event_file(&e.path()) && e.path().is_file())
        });
        return direct_events.then(|| Container::Tensorboard(path.to_path_buf()));
    }
    // Only a regular file is opened to look: a FIFO or `/dev/stdin` would lose its first bytes.
    (path.is_file() && mlflow::is_mlflow_db(path)).then(|| Container::MlflowDb(path.to_path_buf()))
}

/// The tracker stores one level down in `dir`, in the order `analyze` prefers them: the MLflow
/// store (`mlruns/`, else `mlflow.db`: a script logging to both keeps the same runs twice), then
/// the `wandb/` folder of offline runs. `compare` compares the runs of all of them.
pub fn stores_below(dir: &Path) -> Vec<PathBuf> {
    let mlruns = dir.join("mlruns");
    let db = dir.join("mlflow.db");
    let mlflow = if mlruns.is_dir() && mlflow::is_file_store(&mlruns) {
        Some(mlruns)
    } else {
        (db.is_file() && mlflow::is_mlflow_db(&db)).then_some(db)
    };
    let wandb = dir.join("wandb");
    mlflow
        .into_iter()
        .chain(wandb::is_runs_folder(&wandb).then_some(wandb))
        .collect()
}

/// Where the logs of a run folder that holds none itself are, one level down, in the layouts the
/// frameworks write: the first of [`stores_below`] (`mlruns/` or `mlflow.db`, `wandb/`),
/// `lightning_logs/version_N/` and `checkpoint-N/` (the highest N), MMEngine
/// `<time>/vis_data/scalars.json` (the latest), and TensorBoard event files anywhere below; also
/// from the framework's own folder (`lightning_logs/`, MMEngine's `<time>/`).
pub fn find_below(dir: &Path) -> Option<PathBuf> {
    if let Some(store) = stores_below(dir).into_iter().next() {
        return Some(store);
    }
    // The run folder, or `lightning_logs/` itself.
    for logs in [dir.join("lightning_logs"), dir.to_path_buf()] {
        if let Some(v) = highest_numbered(&logs, "version_") {
            let metrics = v.join("metrics.csv");
            if metrics.is_file() {
                return Some(metrics);
            }
        }
    }
    if let Some(ckpt) = highest_numbered(dir, "checkpoint-") {
        let state = ckpt.join("trainer_state.json");
        if state.is_file() {
            return Some(state);
        }
    }
    // MMEngine: `<work_dir>/<time>/vis_data/`, or the `<time>/` folder itself.
    let mut scalars: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path().join("vis_data").join("scalars.json"))
        .chain([dir.join("vis_data").join("scalars.json")])
        .filter(|p| p.is_file())
        .collect();
    scalars.sort();
    if let Some(latest) = scalars.pop() {
        return Some(latest);
    }
    has_event_files(dir, 0).then(|| dir.to_path_buf())
}

/// The sub-directory `{prefix}{N}` of `dir` with the highest N.
fn highest_numbered(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u64 = name.strip_prefix(prefix)?.parse().ok()?;
            e.path().is_dir().then(|| (n, e.path()))
        })
        .max()
        .map(|(_, p)| p)
}

/// Whether `dir` or a directory below it (8 levels) holds a TensorBoard event file.
fn has_event_files(dir: &Path, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if tensorboard::is_event_file(&path) && path.is_file() {
            return true;
        }
        if depth < 8 && entry.file_type().is_ok_and(|t| t.is_dir()) {
            subdirs.push(path);
        }
    }
    subdirs.iter().any(|d| has_event_files(d, depth + 1))
}

/// The runs a source holds: several for a multi-run container, else one (the input itself).
///
/// `input` is what a user would pass to `analyze`: a file, a directory, or `-`. Errors are those
/// of listing the container (an unreadable directory, a damaged `mlflow.db`). A directory that is
/// not a container is one run. Each [`RunRef`] loads with `load(&r.inputs, &IngestOptions { run:
/// r.select.clone(), .. })`.
pub fn list_runs(input: &str) -> Result<Vec<RunRef>, IngestError> {
    let path = Path::new(input);
    let container = if input == "-" {
        None
    } else {
        container_at(path)
    };
    let one = |format| RunRef {
        name: input.to_string(),
        id: None,
        format,
        inputs: vec![input.to_string()],
        select: None,
    };
    let in_container = |name: String, id: Option<String>, format| RunRef {
        select: Some(id.clone().unwrap_or_else(|| name.clone())),
        name,
        id,
        format,
        inputs: vec![input.to_string()],
    };
    Ok(match container {
        Some(Container::Tensorboard(dir)) => tensorboard::runs_in(&dir)?
            .into_iter()
            .map(|r| in_container(r.name, None, Format::Tensorboard))
            .collect(),
        Some(Container::MlflowFiles(_) | Container::MlflowDb(_)) => mlflow::list(path)?
            .into_iter()
            .map(|r| in_container(r.name, Some(r.id), Format::Mlflow))
            .collect(),
        Some(Container::WandbRun(_)) => vec![one(Format::Wandb)],
        Some(Container::WandbRuns(dir)) => wandb::run_dirs_in(&dir)
            .into_iter()
            .map(|r| in_container(r.name, r.id, Format::Wandb))
            .collect(),
        None if path.is_file() && wandb::is_export(path) => wandb::export_runs(path)?
            .into_iter()
            .map(|name| in_container(name, None, Format::WandbCsv))
            .collect(),
        None => vec![one(Format::Csv)],
    })
}

/// Reads a container source (as recognised by [`container_at`]) into one run's tables, with the
/// run's config when the store keeps one (MLflow params).
pub fn read_container(
    source: &Source,
    container: &Container,
    opts: &IngestOptions,
) -> Result<RunTables, IngestError> {
    let wanted = opts.run.as_deref();
    match container {
        Container::Tensorboard(dir) => {
            let runs = tensorboard::runs_in(dir)?;
            let run = pick(&source.name, &runs, |r| (r.name.as_str(), None), wanted)?;
            Ok(RunTables {
                parsed: tensorboard::read_run(run, &opts.values)?,
                params: None,
            })
        }
        Container::MlflowFiles(path) | Container::MlflowDb(path) => {
            mlflow::read(path, source, wanted, &opts.values)
        }
        Container::WandbRun(dir) | Container::WandbRuns(dir) => {
            let (run, note) = wandb::pick_run(dir, &source.name, wanted)?;
            let mut parsed = wandb::read_run_dir(&run.path, source, &opts.values)?;
            if let (Some(note), Some((_, first))) = (note, parsed.first_mut()) {
                first.table.warnings.push(note);
            }
            Ok(RunTables {
                parsed,
                params: None,
            })
        }
    }
}

/// Whether `analyze` could pick a run from the container at `path` (named `source`) with
/// `wanted` (`--run`), without reading it: the error it would give, else `Ok`.
pub fn check_pick(path: &Path, source: &str, wanted: Option<&str>) -> Result<(), IngestError> {
    if let Some(Container::WandbRun(dir) | Container::WandbRuns(dir)) = container_at(path) {
        return wandb::pick_run(&dir, source, wanted).map(drop);
    }
    let runs = list_runs(&path.display().to_string())?;
    if runs.len() > 1 || (wanted.is_some() && !runs.is_empty()) {
        pick(
            source,
            &runs,
            |r| (r.name.as_str(), r.id.as_deref()),
            wanted,
        )?;
    }
    Ok(())
}
