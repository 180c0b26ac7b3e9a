//! Following every log of one run: the files named or found in the run directories (rank files
//! that appear later are picked up), each read incrementally by its [`FileFeed`], their rows merged
//! across ranks by the mean per step (as `analyze` does) and handed to the [`Monitor`].
//!
//! Ranks advance at slightly different speeds, so a step is merged once every live rank has
//! passed it (a rank whose file stopped growing for a while no longer holds the others back).
//! What cannot be merged incrementally is re-read instead, never guessed:
//! - a restart (rows replayed from an earlier step): the monitor forgets from that step on and
//!   takes the replayed rows (keep the last occurrence, as in `analyze`);
//! - a file truncated or replaced while other files are followed, or a rank file that appears
//!   with steps already merged: every file is read again from its start.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::feed::{Batch, Fed, FileFeed};
use super::monitor::{Monitor, MonitorSettings};
use crate::error::IngestError;
use crate::ingest::sources::{self, Container};
use crate::ingest::table::{KeyKind, SKIPPED_REASONS_KEPT};
use crate::ingest::{IngestOptions, Source, discover, tensorboard};
use crate::model::{MISSING, Role, is_missing};
use crate::params::RunParams;

/// Bytes read from one file per read call (a large backlog is read in several).
const READ_BYTES: u64 = 16 << 20;
/// Warnings kept (a batch can repeat the same one).
const WARNINGS_KEPT: usize = 20;

struct Followed {
    feed: FileFeed,
    /// Rows read but not merged yet: (key, values by monitor column).
    pending: VecDeque<(u64, Vec<f32>)>,
    last_key: Option<u64>,
    last_growth: Instant,
    /// The file was truncated or replaced since its last rows.
    was_reset: bool,
}

impl Followed {
    fn new(feed: FileFeed) -> Followed {
        Followed {
            feed,
            pending: VecDeque::new(),
            last_key: None,
            last_growth: Instant::now(),
            was_reset: false,
        }
    }
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct Polled {
    /// Rows read from the files.
    pub rows_read: u64,
    /// Files that appeared since the last poll.
    pub new_files: Vec<String>,
    /// Every file was read again from its start.
    pub reread: bool,
}

/// The followed files of one run and the monitor of their merged rows.
pub struct Follower {
    inputs: Vec<String>,
    ingest: IngestOptions,
    files: Vec<Followed>,
    pub monitor: Monitor,
    key_kind: Option<KeyKind>,
    /// A file that stopped growing this long no longer holds the merge back.
    pub stale_after: Duration,
    /// The TensorBoard run followed (its name in the log directory), once picked.
    event_run: Option<String>,
}

impl Follower {
    /// Resolves the inputs (a missing path is an error; a run directory without logs yet is
    /// watched until they appear) and reads the run's params YAML.
    pub fn open(
        inputs: &[String],
        ingest: &IngestOptions,
        settings: MonitorSettings,
    ) -> Result<Follower, IngestError> {
        let mut params_path: Option<PathBuf> = ingest.config.clone();
        for input in inputs {
            if input == "-" {
                return Err(IngestError::usage(
                    "watch follows files; standard input cannot be watched (use analyze -)",
                ));
            }
            let path = Path::new(input);
            let meta = std::fs::metadata(path).map_err(|e| IngestError::io(input, e))?;
            if params_path.is_none() {
                params_path = if meta.is_dir() {
                    discover::params_in(path)
                } else {
                    discover::plan(std::slice::from_ref(input), None)?.params
                };
            }
        }
        let mut settings = settings;
        if let Some(path) = params_path {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| IngestError::io(&name, e))?;
            settings.params = Some(RunParams::from_yaml(&text, &name)?);
        }
        let config = settings.params.as_ref().map(|p| p.path.clone());
        let mut follower = Follower {
            inputs: inputs.to_vec(),
            ingest: ingest.clone(),
            files: Vec::new(),
            monitor: Monitor::new(settings),
            key_kind: None,
            stale_after: Duration::from_secs(30),
            event_run: None,
        };
        follower.monitor.input.config = config;
        follower.discover()?;
        Ok(follower)
    }

    /// Looks for logs not followed yet in the inputs (new rank files); returns their names.
    pub fn discover(&mut self) -> Result<Vec<String>, IngestError> {
        let mut found = Vec::new();
        for input in self.inputs.clone() {
            let path = Path::new(&input);
            if path.is_dir() {
                match sources::container_at(path) {
                    Some(Container::Tensorboard(dir)) => {
                        found.extend(self.discover_events(&input, &dir)?);
                        continue;
                    }
                    Some(Container::MlflowFiles(_) | Container::MlflowDb(_)) => {
                        return Err(not_followed(&input, "an MLflow store"));
                    }
                    Some(Container::WandbRun(_)) => {
                        return Err(not_followed(&input, "a W&B run folder"));
                    }
                    None => {}
                }
            }
            let sources = if path.is_dir() {
                // A run directory without logs yet is fine: they appear when training starts.
                discover::plan(std::slice::from_ref(&input), None)
                    .map(|p| p.sources)
                    .unwrap_or_default()
            } else if is_yaml(path) {
                Vec::new()
            } else {
                vec![Source::file(path)]
            };
            for source in sources {
                if !self.files.iter().any(|f| f.feed.source.path == source.path) {
                    found.push(source.name.clone());
                    self.files
                        .push(Followed::new(FileFeed::new(source, &self.ingest)));
                }
            }
        }
        if !found.is_empty() {
            self.refresh_input_summary();
        }
        Ok(found)
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

    /// The files followed, by name.
    pub fn sources(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|f| f.feed.source.name.clone())
            .collect()
    }

    /// The iterations per epoch a console log stated.
    pub fn ipe_hint(&self) -> Option<u64> {
        self.files.iter().find_map(|f| f.feed.ipe_hint)
    }

    fn refresh_input_summary(&mut self) {
        let input = &mut self.monitor.input;
        input.sources = self
            .files
            .iter()
            .map(|f| f.feed.source.name.clone())
            .collect();
        let mut formats: Vec<&str> = self
            .files
            .iter()
            .filter_map(|f| f.feed.format())
            .map(|f| f.as_str())
            .collect();
        formats.dedup();
        input.format = match formats.as_slice() {
            [] => "unknown".into(),
            [one] => (*one).to_string(),
            _ => "mixed".into(),
        };
        let mut ranks: Vec<u32> = self
            .files
            .iter()
            .filter_map(|f| f.feed.source.rank)
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        input.ranks = ranks.len().max(1) as u64;
    }

    /// Reads what every file appended (all of it, in bounded reads) and merges what can be
    /// merged into the monitor.
    pub fn poll(&mut self) -> Result<Polled, IngestError> {
        let mut polled = Polled::default();
        let now = Instant::now();
        let mut i = 0;
        while i < self.files.len() {
            let fed = self.files[i].feed.poll(READ_BYTES)?;
            match fed {
                Fed::Rows(batch) => {
                    self.files[i].last_growth = now;
                    polled.rows_read += batch.keys.len() as u64;
                    if self.take_batch(i, batch)? {
                        polled.reread = true;
                        i = 0;
                        continue;
                    }
                    // Merge as we go: a large backlog never waits in memory whole.
                    self.merge(now);
                    if self.files[i].feed.behind() {
                        continue; // the rest of a large backlog
                    }
                }
                Fed::Reset => {
                    self.files[i].was_reset = true;
                    self.files[i].last_growth = now;
                    continue; // read the new content at once
                }
                Fed::Nothing | Fed::Missing => {}
            }
            i += 1;
        }
        self.refresh_input_summary();
        self.merge(now);
        Ok(polled)
    }

    /// Takes a batch of file `i`; `true` when everything must be read again.
    fn take_batch(&mut self, i: usize, batch: Batch) -> Result<bool, IngestError> {
        if self.ingest.strict
            && let Some(first) = batch.skipped.first()
        {
            return Err(IngestError::Strict(first.to_string()));
        }
        let Some(first) = batch.keys.first().copied() else {
            self.account(&batch);
            return Ok(false);
        };
        let kind = batch.key_kind.unwrap_or(KeyKind::Step);
        match self.key_kind {
            None => {
                self.key_kind = Some(kind);
                self.monitor.set_key_kind(kind);
            }
            Some(k) if k != kind => {
                return Err(IngestError::unusable(
                    &self.files[i].feed.source.name,
                    "keyed differently from the other logs (step vs epoch/itr); watch the logs of one run",
                ));
            }
            Some(_) => {}
        }
        let several = self.files.len() > 1;
        let file = &self.files[i];
        // The same key again completes the last row (see `Batch`); an earlier one is a restart.
        let completes = file.last_key == Some(first) && batch.restarts == 0 && !file.was_reset;
        let went_back = !completes && file.last_key.is_some_and(|l| first <= l);
        let late_rank = file.last_key.is_none()
            && several
            && self.monitor.last_key().is_some_and(|m| first <= m);
        if (went_back && file.was_reset && several) || late_rank {
            self.reread_all();
            return Ok(true);
        }
        if went_back {
            // A restart replays from `first`: everything merged or pending from there is void.
            for f in &mut self.files {
                f.pending.retain(|(k, _)| *k < first);
            }
            if self.monitor.last_key().is_some_and(|m| first <= m) {
                self.monitor.truncate_from(first);
            }
        }
        self.account(&batch);
        let columns: Vec<Option<usize>> = batch
            .names
            .iter()
            .map(|name| {
                (super::monitor::role_of(name, &self.monitor_clean()) != Role::Timing)
                    .then(|| self.monitor.column(name))
            })
            .collect();
        let width = self.monitor.names().len();
        for (r, key) in batch.keys.iter().enumerate() {
            let mut values = vec![MISSING; width];
            for (c, target) in columns.iter().enumerate() {
                if let Some(t) = target {
                    values[*t] = batch.columns[c][r];
                }
            }
            if r == 0 && completes {
                let file = &mut self.files[i];
                match file.pending.back_mut() {
                    Some((k, pending)) if *k == *key => {
                        pending.resize(width, MISSING);
                        for (p, v) in pending.iter_mut().zip(&values) {
                            if is_missing(*p) {
                                *p = *v;
                            }
                        }
                    }
                    _ => self.monitor.amend(*key, &values),
                }
                continue;
            }
            self.files[i].pending.push_back((*key, values));
        }
        let file = &mut self.files[i];
        file.last_key = batch.keys.last().copied();
        file.was_reset = false;
        Ok(false)
    }

    fn monitor_clean(&self) -> crate::clean::CleanOptions {
        self.monitor.clean_options().clone()
    }

    fn account(&mut self, batch: &Batch) {
        let input = &mut self.monitor.input;
        input.rows.add(&batch.account);
        input.duplicates_replaced = input.rows.rows_replaced;
        input.restarts += batch.restarts;
        input.lines_ignored += batch.lines_ignored;
        for s in &batch.skipped {
            if input.skipped.len() < SKIPPED_REASONS_KEPT {
                input.skipped.push(s.clone());
            }
        }
        for w in &batch.warnings {
            if input.warnings.len() < WARNINGS_KEPT && !input.warnings.contains(w) {
                input.warnings.push(w.clone());
            }
        }
    }

    /// Starts over: every file from its start, the monitor empty (its spent looks kept).
    fn reread_all(&mut self) {
        for f in &mut self.files {
            f.feed.rewind();
            f.pending.clear();
            f.last_key = None;
            f.was_reset = false;
        }
        self.monitor.clear();
    }

    /// Merges the pending rows every live file has passed, by the mean per step.
    fn merge(&mut self, now: Instant) {
        let live = |f: &Followed| now.duration_since(f.last_growth) < self.stale_after;
        // A live file without rows yet (a rank that just appeared) holds the merge back: its
        // rows would otherwise arrive behind what was merged and force a re-read.
        if self.files.iter().any(|f| live(f) && f.last_key.is_none()) {
            return;
        }
        let frontier = self
            .files
            .iter()
            .filter(|f| live(f))
            .filter_map(|f| f.last_key)
            .min()
            .or_else(|| self.files.iter().filter_map(|f| f.last_key).max());
        let Some(frontier) = frontier else { return };
        let width = self.monitor.names().len();
        let mut sums = vec![0f64; width];
        let mut counts = vec![0u32; width];
        let mut row = vec![MISSING; width];
        loop {
            let next = self
                .files
                .iter()
                .filter_map(|f| f.pending.front().map(|(k, _)| *k))
                .min();
            let Some(key) = next.filter(|k| *k <= frontier) else {
                break;
            };
            sums.iter_mut().for_each(|s| *s = 0.0);
            counts.iter_mut().for_each(|c| *c = 0);
            for f in &mut self.files {
                if f.pending.front().is_some_and(|(k, _)| *k == key)
                    && let Some((_, values)) = f.pending.pop_front()
                {
                    for (c, v) in values.iter().enumerate() {
                        if !is_missing(*v) {
                            sums[c] += f64::from(*v);
                            counts[c] += 1;
                        }
                    }
                }
            }
            for c in 0..width {
                row[c] = if counts[c] == 0 {
                    MISSING
                } else {
                    (sums[c] / f64::from(counts[c])) as f32
                };
            }
            self.monitor.push(key, &row);
        }
    }

    /// How long since any file grew.
    pub fn silent_for(&self, now: Instant) -> Option<Duration> {
        self.files
            .iter()
            .map(|f| now.duration_since(f.last_growth))
            .min()
    }
}

fn not_followed(input: &str, what: &str) -> IngestError {
    IngestError::unusable(
        input,
        format!(
            "is {what}, which watch cannot follow yet; analyze reads it (e.g. from cron, see README \"Watching a run\")"
        ),
    )
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}
