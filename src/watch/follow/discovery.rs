//! Finding what to follow in the inputs, as `analyze` finds what to read: the rank files and
//! logs of a run directory, the tracker layout in it (a TensorBoard log directory followed writer
//! by writer, an MLflow store or a W&B run folder read whole when it changes), and later the rank
//! files and `add_scalars` writers that appear while the run trains, or the newer file a
//! framework's layout points to (a new `checkpoint-N/`) in place of the one followed.

use std::path::{Path, PathBuf};

use super::{Followed, Follower};
use crate::error::IngestError;
use crate::ingest::discover::is_yaml;
use crate::ingest::sources::{self, Container};
use crate::ingest::{Source, discover, tensorboard};
use crate::watch::feed::FileFeed;
use crate::watch::standing::Cut;

impl Follower {
    /// Looks for logs not followed yet in the inputs (new rank files); returns their names.
    /// A followed file `analyze` would no longer read is let go (see `retire_unplanned`).
    pub fn discover(&mut self) -> Result<Vec<String>, IngestError> {
        let mut found = Vec::new();
        let mut planned_paths: Vec<PathBuf> = Vec::new();
        let mut every_input_planned = true;
        for input in self.inputs.clone() {
            let path = Path::new(&input);
            let planned = if path.is_dir() {
                // What `analyze` reads in it; a run directory without logs yet is fine: they
                // appear when training starts.
                discover::plan(std::slice::from_ref(&input), None).map_or_else(
                    |_| {
                        every_input_planned = false;
                        Vec::new()
                    },
                    |p| p.sources,
                )
            } else if is_yaml(path) {
                Vec::new()
            } else {
                vec![Source::file(path)]
            };
            planned_paths.extend(planned.iter().filter_map(|s| s.path.clone()));
            for source in planned {
                let container = source.path.as_deref().and_then(sources::container_at);
                match container {
                    Some(Container::Tensorboard(dir)) => {
                        found.extend(self.discover_events(&source.name, &dir)?);
                    }
                    _ if self.files.iter().any(|f| f.feed.source.path == source.path) => {}
                    Some(store) => {
                        self.check_run_pick(&source)?;
                        found.push(source.name.clone());
                        let feed = FileFeed::store(source, store, &self.ingest);
                        self.files.push(Followed::new(feed));
                    }
                    None => {
                        found.push(source.name.clone());
                        let mut feed = FileFeed::new(source, &self.ingest);
                        if self.opened {
                            feed = feed.appeared_while_watching();
                        }
                        self.files.push(Followed::new(feed));
                    }
                }
            }
        }
        let retired = every_input_planned && self.retire_unplanned(&planned_paths);
        if !found.is_empty() || retired {
            self.refresh_input_summary();
        }
        Ok(found)
    }

    /// Stops following the files (not TensorBoard writers, followed by run) that are no longer
    /// among `planned`, what `analyze` reads now: the layout's pick moved on (Hugging Face's
    /// newest `checkpoint-N/trainer_state.json`, which holds the whole history again; a newer
    /// `lightning_logs/version_N/`, MMEngine `<time>/`) or a log was removed. Everything is read
    /// again without them (a [`Cut::Replaced`]: as many rows back or more is the same run).
    /// `true` when a file was let go.
    fn retire_unplanned(&mut self, planned: &[PathBuf]) -> bool {
        let before = self.files.len();
        self.files.retain_mut(|f| {
            f.feed.event_chain().is_some()
                || f.feed
                    .source
                    .path
                    .as_ref()
                    .is_none_or(|p| planned.contains(p))
        });
        if self.files.len() == before {
            return false;
        }
        self.reread_all(Cut::Replaced);
        true
    }

    /// Refuses at start a store holding several runs when `--run` does not pick one of them
    /// (exit 2 with the list), as `analyze` does; a store without runs yet is waited for.
    fn check_run_pick(&self, source: &Source) -> Result<(), IngestError> {
        let Some(path) = source.path.as_deref() else {
            return Ok(());
        };
        sources::check_pick(path, &source.name, self.ingest.run.as_deref())
    }

    /// Follows the writers of the one TensorBoard run in `dir` (`--run` picks among several;
    /// once picked, runs that appear later are ignored): new writers (`add_scalars` folders) and
    /// newer event files of known writers (restarts). Returns the new writers' names.
    fn discover_events(&mut self, input: &str, dir: &Path) -> Result<Vec<String>, IngestError> {
        let runs = tensorboard::runs_in(dir)?;
        let wanted = self.event_run.clone().or_else(|| self.ingest.run.clone());
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let run = match sources::pick(input, &runs, |r| (r.name.as_str(), None), wanted.as_deref())
        {
            Ok(run) => run,
            // A run picked earlier is still followed; a folder just created may not be
            // recognisable as one of its `add_scalars` writers yet.
            Err(_) if self.event_run.is_some() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        self.event_run = Some(run.name.clone());
        let mut found = Vec::new();
        for writer in &run.writers {
            let Some(folder) = writer.files.first().and_then(|f| f.parent()) else {
                continue;
            };
            let known = self.files.iter_mut().find_map(|f| {
                let chain = f.feed.event_chain()?;
                let first = chain.files().first()?;
                (first.parent() == Some(folder)).then_some(chain)
            });
            match known {
                Some(chain) => chain.extend(&writer.files),
                None => {
                    let source = Source::file(folder);
                    found.push(source.name.clone());
                    self.files.push(Followed::new(FileFeed::events(
                        source,
                        writer.files.clone(),
                        writer.series_name.clone(),
                    )));
                }
            }
        }
        Ok(found)
    }
}
