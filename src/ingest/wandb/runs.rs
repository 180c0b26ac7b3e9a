//! A W&B folder of offline runs (`project/wandb/`): every `offline-run-*` / `run-*` child holding
//! a transaction log is a run, named by its folder (`offline-run-20261130_120000-abc123`) and
//! identified by the run ID its name ends with (`abc123`); `latest-run` is wandb's link to the
//! last one started. Which run `analyze` reads: the one `--run ID|NAME` picks; else the one
//! `latest-run` links, with a note naming the others and how to pick one; else the only one
//! (with a note when `latest-run` is a broken link); else the several runs are refused, listed,
//! like any multi-run source — a broken `latest-run` is said to be one, with the runs there.

use std::fs;
use std::path::{Path, PathBuf};

use super::super::run_pick::{describe_runs, how_to_pick, pick};
use super::offline::is_run_dir;
use crate::error::IngestError;

/// wandb's link to the run started last.
const LATEST: &str = "latest-run";

/// One run folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    pub path: PathBuf,
    /// The folder's name (`offline-run-20261130_120000-abc123`); for a `latest-run` link, the
    /// name of the folder it points to.
    pub name: String,
    /// The run ID: what follows the last `-` of an `offline-run-*` / `run-*` name.
    pub id: Option<String>,
}

impl RunDir {
    /// The run folder at `path` (a `latest-run` link is named after its target).
    pub fn of(path: &Path) -> RunDir {
        let real = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let name = real.file_name().or_else(|| path.file_name()).map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let id = ["offline-run-", "run-"]
            .iter()
            .find_map(|prefix| name.strip_prefix(prefix))
            .and_then(|rest| rest.rsplit_once('-'))
            .map(|(_, id)| id.to_string())
            .filter(|id| !id.is_empty());
        RunDir {
            path: path.to_path_buf(),
            name,
            id,
        }
    }

    fn name_and_id(&self) -> (&str, Option<&str>) {
        (self.name.as_str(), self.id.as_deref())
    }
}

/// True for a folder of W&B runs: not a run folder itself, and holding a `latest-run` entry
/// (even a broken link) or, when it is named `wandb`, a run folder.
pub fn is_runs_folder(dir: &Path) -> bool {
    dir.is_dir()
        && !is_run_dir(dir)
        && (fs::symlink_metadata(dir.join(LATEST)).is_ok()
            || (dir.file_name().is_some_and(|n| n == "wandb") && !run_dirs_in(dir).is_empty()))
}

/// The run folders of a folder of W&B runs, in name order; `latest-run` is left out (it links
/// one of them). Empty when the folder cannot be listed.
pub fn run_dirs_in(folder: &Path) -> Vec<RunDir> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut runs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name() != LATEST)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && is_run_dir(p))
        .collect();
    runs.sort();
    runs.iter().map(|p| RunDir::of(p)).collect()
}

/// The run `analyze` reads from `dir` (a run folder or a folder of runs, named `source` in
/// messages) and, when it was chosen without `--run` among several, the note that says so.
pub fn pick_run(
    dir: &Path,
    source: &str,
    wanted: Option<&str>,
) -> Result<(RunDir, Option<String>), IngestError> {
    if is_run_dir(dir) {
        let this = [RunDir::of(dir)];
        let run = pick(source, &this, RunDir::name_and_id, wanted)?;
        return Ok((run.clone(), None));
    }
    let runs = run_dirs_in(dir);
    if wanted.is_some() {
        let run = pick(source, &runs, RunDir::name_and_id, wanted)?;
        return Ok((run.clone(), None));
    }
    let link = dir.join(LATEST);
    if let [only] = runs.as_slice()
        && !is_run_dir(&link)
    {
        // The only run, whatever a broken `latest-run` pointed to (said so).
        let note = is_broken_link(&link).then(|| {
            format!(
                "{source}: {}; read the one run here, {}",
                broken_link_why(dir),
                only.name
            )
        });
        return Ok((only.clone(), note));
    }
    if is_run_dir(&link) {
        let mut latest = RunDir::of(&link);
        // Read (and named in the report) as the run folder the link points to, when it is here.
        if let Some(run) = runs.iter().find(|r| r.name == latest.name) {
            latest.path.clone_from(&run.path);
        }
        let others: Vec<RunDir> = runs.into_iter().filter(|r| r.name != latest.name).collect();
        let note = (!others.is_empty()).then(|| {
            format!(
                "{source}: read {} (where {LATEST} points); the other W&B runs here: {}; {}",
                latest.name,
                describe_runs(&others, &RunDir::name_and_id),
                how_to_pick(source, "analyse another")
            )
        });
        return Ok((latest, note));
    }
    if is_broken_link(&link) {
        let hint = how_to_pick(source, "analyse one");
        return Err(broken_latest(dir, source, &runs, &hint));
    }
    pick(source, &runs, RunDir::name_and_id, None).map(|r| (r.clone(), None))
}

/// The refusal of a `latest-run` that points to nothing, naming the runs that are there.
fn broken_latest(folder: &Path, source: &str, runs: &[RunDir], hint: &str) -> IngestError {
    let why = broken_link_why(folder);
    let message = if runs.is_empty() {
        format!("{why}, and no W&B run folder is left here")
    } else if runs.len() == 1 {
        // Given the link itself: its folder reads the one run.
        format!(
            "{why}; the one run here is {}: `jepa-doctor analyze {source}` reads it",
            describe_runs(runs, &RunDir::name_and_id),
        )
    } else {
        format!(
            "{why}; the runs here: {}; {hint}",
            describe_runs(runs, &RunDir::name_and_id),
        )
    };
    IngestError::unusable(source, message)
}

/// The refusal of a path given on the command line that is a broken `latest-run` link: what
/// [`pick_run`] says of its folder. `None` for any other path.
pub fn broken_latest_given(path: &Path) -> Option<IngestError> {
    let folder = path.parent()?;
    if path.file_name().is_none_or(|n| n != LATEST) || !is_broken_link(path) {
        return None;
    }
    let source = folder.display().to_string();
    let hint = format!(
        "analyse one with `jepa-doctor analyze {source} --run ID|NAME`, or compare them with `jepa-doctor compare {source}`"
    );
    Some(broken_latest(folder, &source, &run_dirs_in(folder), &hint))
}

/// "latest-run is a broken link (to TARGET, which does not exist)", of `folder`'s link.
fn broken_link_why(folder: &Path) -> String {
    let target = fs::read_link(folder.join(LATEST))
        .map_or_else(|_| String::from("a folder"), |t| t.display().to_string());
    format!("{LATEST} is a broken link (to {target}, which does not exist)")
}

/// A symbolic link whose target is not there.
fn is_broken_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) && !path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_is_the_folder_names_last_part() {
        let run = RunDir::of(Path::new("wandb/offline-run-20261130_120000-abc123"));
        assert_eq!(run.name, "offline-run-20261130_120000-abc123");
        assert_eq!(run.id.as_deref(), Some("abc123"));
        assert_eq!(
            RunDir::of(Path::new("wandb/run-20261130_120000-x9"))
                .id
                .as_deref(),
            Some("x9")
        );
        assert_eq!(RunDir::of(Path::new("wandb/my_run")).id, None);
    }
}
