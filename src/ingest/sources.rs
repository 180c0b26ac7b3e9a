//! What a source holds when it is more than one log file: a TensorBoard log directory, an MLflow
//! store (file store or `mlflow.db`), a W&B CSV export or offline run folder may hold several
//! runs. `analyze` reads exactly one run — the only one, or the one `--run ID|NAME` picks — and
//! refuses several with a list of them and a pointer to `compare`; [`list_runs`] gives `compare`
//! the runs of a source and how to load each.
//!
//! The other half is the rule of DESIGN §2: several *different* runs are never averaged as ranks.
//! Files merge as ranks only when they are one run's `{tag}_r{N}` files (one tag, distinct ranks,
//! the same header, overlapping steps); [`check_one_run`] refuses anything else with exit 2.

use std::path::{Path, PathBuf};

// Re-exported: readers and `watch` that name them through `sources` keep working.
pub use super::run_pick::{RunTables, pick};
use super::table::{KeyKind, split_epoch_itr};
use super::{IngestOptions, Loaded, Parsed, Source, mlflow, tensorboard, wandb};
use crate::error::IngestError;
use crate::model::Format;

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

/// Where the logs of a run folder that holds none itself are, one level down, in the layouts the
/// frameworks write: `mlruns/` or `mlflow.db`, `wandb/latest-run/`, `lightning_logs/version_N/`
/// and `checkpoint-N/` (the highest N), MMEngine `<time>/vis_data/scalars.json` (the latest), and
/// TensorBoard event files anywhere below; also from the framework's own folder (`wandb/`,
/// `lightning_logs/`, MMEngine's `<time>/`).
pub fn find_below(dir: &Path) -> Option<PathBuf> {
    let mlruns = dir.join("mlruns");
    if mlruns.is_dir() && mlflow::is_file_store(&mlruns) {
        return Some(mlruns);
    }
    let db = dir.join("mlflow.db");
    if db.is_file() && mlflow::is_mlflow_db(&db) {
        return Some(db);
    }
    for latest in [dir.join("wandb").join("latest-run"), dir.join("latest-run")] {
        if wandb::is_run_dir(&latest) {
            return Some(latest);
        }
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
        Container::WandbRun(dir) => Ok(RunTables {
            parsed: wandb::read_run_dir(dir, source, &opts.values)?,
            params: None,
        }),
    }
}

/// Refuses inputs that are several runs rather than one run's parts or ranks: several container
/// sources or run directories, rank files of different tags, a rank claimed twice (`_r0` and
/// `_r00`), rank files with different headers or steps that never overlap, and same-named logs
/// from different folders.
pub fn check_one_run(inputs: &[String], loaded: &Loaded) -> Result<(), IngestError> {
    let dirs: Vec<&String> = inputs.iter().filter(|i| Path::new(i).is_dir()).collect();
    let mut distinct_dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| PathBuf::from(d)))
        .collect();
    distinct_dirs.sort();
    distinct_dirs.dedup();
    if distinct_dirs.len() > 1 {
        return Err(several_runs(
            &dirs.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        ));
    }
    let files: Vec<&(Source, Parsed)> = loaded
        .parsed
        .iter()
        .filter(|(s, _)| s.path.as_deref().is_some_and(Path::is_file))
        .collect();
    let ranked: Vec<&(Source, Parsed)> = files
        .iter()
        .copied()
        .filter(|(s, _)| s.rank.is_some())
        .collect();
    if ranked.len() > 1 {
        check_ranks(&ranked)?;
    }
    // Parts of one run continue each other (a restart resumes from a checkpoint, after the first
    // step of the part before it); two logs that start at the same step are two runs, or two
    // copies of one, and are never averaged. The rank files count as one log (their earliest
    // start), and a log keyed by (epoch, itr) starting in the first epoch starts at step `itr`
    // whatever the iterations per epoch, so it meets a log keyed by global steps.
    let mut starts: Vec<(u64, &Source)> = files
        .iter()
        .filter(|(s, _)| s.rank.is_none())
        .chain(ranked.iter().min_by_key(|(_, p)| p.table.keys.first()))
        .filter_map(|(s, p)| Some((comparable_start(p)?, s)))
        .collect();
    starts.sort_unstable_by_key(|(start, _)| *start);
    for pair in starts.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(same_start(pair[0].1, pair[1].1));
        }
    }
    // Logs of the same name in different folders are different runs' logs.
    let mut names: Vec<(String, String)> = files
        .iter()
        .filter(|(s, _)| s.rank.is_none())
        .filter_map(|(s, _)| {
            let p = s.path.as_deref()?;
            Some((
                p.file_name()?.to_string_lossy().into_owned(),
                s.name.clone(),
            ))
        })
        .collect();
    names.sort();
    for pair in names.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(several_runs(&[pair[0].1.as_str(), pair[1].1.as_str()]));
        }
    }
    Ok(())
}

fn check_ranks(ranked: &[&(Source, Parsed)]) -> Result<(), IngestError> {
    let tag = |s: &Source| {
        s.path
            .as_deref()
            .and_then(super::compressed::log_stem)
            .and_then(|n| n.rsplit_once("_r"))
            .map(|(t, digits)| (t.to_string(), digits.to_string()))
    };
    let (first_source, first) = ranked[0];
    let (first_tag, _) = tag(first_source).unwrap_or_default();
    let mut seen: Vec<(u32, &Source, String, u64)> = Vec::new();
    for (source, parsed) in ranked {
        let (t, digits) = tag(source).unwrap_or_default();
        if t != first_tag {
            return Err(several_runs(&[&first_source.name, &source.name]));
        }
        let rank = source.rank.unwrap_or(0);
        let rows = parsed.table.account.rows_read;
        if let Some((other_source, other_digits, other_rows)) = seen
            .iter()
            .find(|(r, ..)| *r == rank)
            .map(|(_, o, d, n)| (*o, d, *n))
        {
            if let Some(twice) = given_twice(other_source, source) {
                return Err(twice);
            }
            let other = &other_source.name;
            // One log name twice (`jepa_r0.csv` and `jepa_r0.csv.gz`): a copy or an archive of
            // the same rank left beside it, not another run.
            if *other_digits == digits {
                let compressed = |n: &str| {
                    std::path::Path::new(n).extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("zst")
                    })
                };
                let how = if compressed(other) == compressed(&source.name) {
                    "under two names"
                } else {
                    "one compressed and one not (an archived copy beside the log)"
                };
                return Err(IngestError::usage(format!(
                    "{other} ({other_rows} rows) and {} ({rows} rows) are one log twice, rank {rank} of {t}, {how}: ranks are averaged, so a copy would count twice; keep one — pass it alone (`jepa-doctor analyze {other}`), or move the other out of the folder",
                    source.name
                )));
            }
            return Err(IngestError::usage(format!(
                "{other} and {} both claim rank {rank} (`_r{other_digits}` and `_r{digits}`): one run writes one file per rank; pass one of them, or compare them with `jepa-doctor compare`",
                source.name
            )));
        }
        seen.push((rank, source, digits, rows));
        if parsed.table.names != first.table.names {
            return Err(IngestError::usage(format!(
                "{} and {} have different columns, so they are not ranks of one run; analyse each on its own, or compare them with `jepa-doctor compare {} {}`",
                first_source.name, source.name, first_source.name, source.name
            )));
        }
        let overlap = match (
            first.table.keys.first(),
            first.table.keys.last(),
            parsed.table.keys.first(),
            parsed.table.keys.last(),
        ) {
            (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 <= b1 && b0 <= a1,
            _ => true,
        };
        if !overlap {
            return Err(IngestError::usage(format!(
                "{} and {} log steps that never overlap, so they are not ranks of one run; analyse each on its own, or compare them with `jepa-doctor compare {} {}`",
                first_source.name, source.name, first_source.name, source.name
            )));
        }
    }
    Ok(())
}

/// The first step of a log on the global step axis, where it is known before the iterations per
/// epoch are: a global step, or `itr` for an (epoch, itr) key in the first epoch (epoch 0 or 1,
/// as `clean` counts from there).
fn comparable_start(p: &Parsed) -> Option<u64> {
    let first = p.table.keys.first()?;
    match p.key_kind {
        KeyKind::Step => Some(first),
        KeyKind::EpochItr => {
            let (epoch, itr) = split_epoch_itr(first);
            (epoch <= 1).then_some(itr)
        }
    }
}

/// Two logs that start at the same step: one file given twice, two copies of one log, or two
/// runs.
fn same_start(a: &Source, b: &Source) -> IngestError {
    let (Some(pa), Some(pb)) = (a.path.as_deref(), b.path.as_deref()) else {
        return several_runs(&[&a.name, &b.name]);
    };
    if let Some(twice) = given_twice(a, b) {
        return twice;
    }
    if identical_contents(pa, pb) {
        return IngestError::usage(format!(
            "{} and {} are copies of one log (identical bytes), not parts or ranks of one run; pass one of them",
            a.name, b.name
        ));
    }
    several_runs(&[&a.name, &b.name])
}

/// The refusal of one file given twice (the same path, or two names of one file), if it is.
fn given_twice(a: &Source, b: &Source) -> Option<IngestError> {
    let (pa, pb) = (a.path.as_deref()?, b.path.as_deref()?);
    if !same_file::is_same_file(pa, pb).unwrap_or(false) {
        return None;
    }
    Some(IngestError::usage(if a.name == b.name {
        format!("{} is given twice; pass it once", a.name)
    } else {
        format!(
            "{} and {} are one file given twice; pass it once",
            a.name, b.name
        )
    }))
}

/// Whether two files hold the same bytes (read in 64 KiB blocks; false on any read error).
fn identical_contents(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(fa), Ok(fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (Ok(ma), Ok(mb)) = (fa.metadata(), fb.metadata()) else {
        return false;
    };
    if ma.len() != mb.len() {
        return false;
    }
    let (mut ra, mut rb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let Ok(n) = ra.read(&mut ba) else {
            return false;
        };
        if n == 0 {
            return true;
        }
        if rb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

fn several_runs(names: &[&str]) -> IngestError {
    IngestError::usage(format!(
        "these are different runs, not parts or ranks of one run: {}; `analyze` reads one run (pass one), `jepa-doctor compare {}` puts several side by side",
        names.join(", "),
        names.join(" ")
    ))
}
