//! Following every log of one run: the files named or found in the run directories (rank files
//! that appear later are picked up), each read incrementally by its [`FileFeed`], their rows merged
//! across ranks by the mean per step (as `analyze` does) and handed to the [`Monitor`].
//!
//! Ranks advance at slightly different speeds, so a step is merged once every live rank has
//! passed it (a rank whose file stopped growing for a while no longer holds the others back).
//! What cannot be merged incrementally is re-read instead, never guessed:
//! - a restart (rows replayed from an earlier step): the monitor forgets from that step on and
//!   takes the replayed rows (keep the last occurrence, as in `analyze`);
//! - a file truncated or replaced while other files are followed, a rank file or a resumed part
//!   that appears with steps already merged, or one of several sources read whole that changed:
//!   every file is read again from its start, and nothing is merged until each was read.
//!
//! A JSON-lines record written without its final newline is taken once it parses whole, when
//! its file has not grown for a while and at the end ([`FileFeed::flush_partial`]).
//!
//! Logs of one run that are not rank files are its parts (a resumed run's second console log or
//! CSV): a later part replaces the earlier parts' rows from its own first step on, as `analyze`
//! reads them (`parts`); an earlier part cut so holds no step of the merge back.
//!
//! What a run directory holds is decided as `analyze` decides it ([`discover::plan`]): its rank
//! files and logs, or the tracker layout in it (TensorBoard events, an MLflow store, a W&B run
//! folder). Every row is accounted for per file (`watch::ledger`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod discovery;
mod parts;

use super::feed::{Batch, Fed, FileFeed};
use super::ledger::{self, Ledger};
use super::monitor::{Monitor, MonitorSettings};
use super::standing::Cut;
use crate::error::IngestError;
use crate::ingest::table::KeyKind;
use crate::ingest::{IngestOptions, discover};
use crate::model::{MISSING, Role, is_missing};
use crate::params::RunParams;

/// Bytes read from one file per read call (a large backlog is read in several).
const READ_BYTES: u64 = 16 << 20;

pub(super) struct Followed {
    feed: FileFeed,
    /// Rows read but not merged yet: (key, values by monitor column).
    pending: VecDeque<(u64, Vec<f32>)>,
    last_key: Option<u64>,
    last_growth: Instant,
    /// The file was truncated or replaced since its last rows.
    was_reset: bool,
    /// Its rows, accounted for.
    ledger: Ledger,
    /// The key of its first row (since it was last read from its start).
    first_key: Option<u64>,
    /// A later part of the run replaces its rows from this key on ([`parts`]).
    cut: Option<parts::Resumed>,
    /// The training losses it logs (parts sharing one continue each other, [`parts`]).
    losses: Vec<String>,
}

impl Followed {
    pub(super) fn new(feed: FileFeed) -> Followed {
        Followed {
            feed,
            pending: VecDeque::new(),
            last_key: None,
            last_growth: Instant::now(),
            was_reset: false,
            ledger: Ledger::default(),
            first_key: None,
            cut: None,
            losses: Vec::new(),
        }
    }

    /// Forgets the rows taken from the file (it is read again from its start, or whole).
    fn forget_rows(&mut self) {
        self.pending.clear();
        self.last_key = None;
        self.first_key = None;
        self.cut = None;
        self.was_reset = false;
        self.ledger = Ledger::default();
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
    /// The first look at the inputs is done: what is found now appeared while watching.
    opened: bool,
    /// Every file is being read again from its start: nothing is merged until each was read.
    rereading: bool,
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
            opened: false,
            rereading: false,
        };
        follower.monitor.input.config = config;
        follower.discover()?;
        follower.opened = true;
        Ok(follower)
    }

    /// The files followed, by name.
    pub fn sources(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|f| f.feed.source.name.clone())
            .collect()
    }

    /// Why a followed source gave nothing at its last look, when one says (a store waiting for
    /// its first metrics, a compressed log being rewritten).
    pub fn note(&self) -> Option<String> {
        self.files
            .iter()
            .find_map(|f| f.feed.note().map(String::from))
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
        ledger::summarize(self.files.iter().map(|f| &f.ledger), input);
        self.note_resumes();
    }

    /// Reads what every file appended (all of it, in bounded reads) and merges what can be
    /// merged into the monitor.
    pub fn poll(&mut self) -> Result<Polled, IngestError> {
        self.poll_files(false)
    }

    /// The last poll, when the run has ended: a JSON-lines record without its newline is taken
    /// when whole, and every row read is merged (no file is waited for any more).
    pub fn finish(&mut self) -> Result<Polled, IngestError> {
        self.poll_files(true)
    }

    fn poll_files(&mut self, last: bool) -> Result<Polled, IngestError> {
        let mut polled = Polled::default();
        let now = Instant::now();
        let mut i = 0;
        while i < self.files.len() {
            let mut fed = self.files[i].feed.poll(READ_BYTES)?;
            if matches!(fed, Fed::Nothing)
                && (last || now.duration_since(self.files[i].last_growth) >= self.stale_after)
            {
                fed = self.files[i].feed.flush_partial()?;
            }
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
                    self.merge(now, false);
                    if self.files[i].feed.behind() {
                        continue; // the rest of a large backlog
                    }
                }
                Fed::Whole(batch) => {
                    self.files[i].last_growth = now;
                    polled.rows_read += batch.keys.len() as u64;
                    if self.take_whole(i, batch)? {
                        polled.reread = true;
                        i = 0;
                        continue;
                    }
                    self.merge(now, false);
                }
                Fed::Reset => {
                    let file = &mut self.files[i];
                    file.was_reset = true;
                    file.last_growth = now;
                    // What the file held is gone from it: `analyze` would not count it.
                    file.ledger = Ledger::default();
                    continue; // read the new content at once
                }
                Fed::Nothing | Fed::Missing => {}
            }
            i += 1;
        }
        self.rereading = false;
        self.refresh_input_summary();
        self.merge(now, last);
        Ok(polled)
    }

    /// Takes every row source `i` holds now (it was read whole), replacing what it gave before;
    /// `true` when everything must be read again.
    fn take_whole(&mut self, i: usize, batch: Batch) -> Result<bool, IngestError> {
        if let Some(params) = batch.params.clone() {
            self.monitor.adopt_params(params);
        }
        if self.files[i].last_key.is_some() {
            if self.files.len() > 1 {
                self.reread_all(Cut::Replaced);
                return Ok(true);
            }
            self.files[i].forget_rows();
            self.monitor.clear(Cut::Replaced);
        }
        self.files[i].ledger = Ledger::default();
        self.take_batch(i, batch)
    }

    /// Takes a batch of file `i`; `true` when everything must be read again.
    fn take_batch(&mut self, i: usize, batch: Batch) -> Result<bool, IngestError> {
        if self.ingest.strict
            && let Some(first) = batch.skipped.first()
        {
            return Err(IngestError::Strict(first.to_string()));
        }
        let Some(first) = batch.keys.first().copied() else {
            self.files[i].ledger.take(&batch, false);
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
        for name in &batch.names {
            let losses = &mut self.files[i].losses;
            if crate::clean::parts::is_training_loss(name) && !losses.contains(name) {
                losses.push(name.clone());
            }
        }
        let file = &self.files[i];
        // The same key again completes the last row (see `Batch`); an earlier one is a restart.
        let completes = file.last_key == Some(first) && batch.restarts == 0 && !file.was_reset;
        let went_back = !completes && file.last_key.is_some_and(|l| first <= l);
        // Rows from `first` on were merged without this file's (a rank or a resumed part that
        // appeared late), or a part a later one replaces went back: merge everything again.
        let late = file.last_key.is_none()
            && several
            && self.monitor.last_key().is_some_and(|m| first <= m);
        if late {
            self.reread_all(self.late_cut(i, first));
            return Ok(true);
        }
        if went_back && file.was_reset && several {
            self.reread_all(Cut::Replaced);
            return Ok(true);
        }
        if went_back && file.cut.is_some() {
            // A part a later one replaces restarted: the later part's rows merged may be void.
            self.reread_all(Cut::Replay { key: first });
            return Ok(true);
        }
        if went_back {
            // A restart replays from `first`: everything merged or pending from there is void.
            let cut = if file.was_reset {
                Cut::Replaced
            } else {
                Cut::Replay { key: first }
            };
            for f in &mut self.files {
                f.pending.retain(|(k, _)| *k < first);
            }
            self.files[i].ledger.replace_from(first);
            if self.monitor.last_key().is_some_and(|m| first <= m) {
                self.monitor.truncate_from(first, cut);
            }
        }
        self.files[i].ledger.take(&batch, completes);
        let cut_at = self.files[i].cut.as_ref().map_or(u64::MAX, |c| c.key);
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
            if *key >= cut_at {
                break; // a later part replaces them (counted in `replace_resumed`)
            }
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
        file.first_key = Some(file.first_key.map_or(first, |k| k.min(first)));
        file.was_reset = false;
        self.replace_resumed();
        Ok(false)
    }

    fn monitor_clean(&self) -> crate::clean::CleanOptions {
        self.monitor.clean_options().clone()
    }

    /// Starts over: every file from its start, the monitor empty (its spent looks kept); nothing
    /// is merged until every file was read again.
    fn reread_all(&mut self, cut: Cut) {
        for f in &mut self.files {
            f.feed.rewind();
            f.forget_rows();
        }
        self.monitor.clear(cut);
        self.rereading = true;
    }

    /// Merges the pending rows every live file has passed (every row when `all`), by the mean
    /// per step.
    fn merge(&mut self, now: Instant, all: bool) {
        if self.rereading {
            return;
        }
        // A live file holds the merge back at its last row, unless a later part replaces what
        // it may still add (it went past the step the later part starts at).
        let live = |f: &Followed| {
            !all && now.duration_since(f.last_growth) < self.stale_after
                && f.cut
                    .as_ref()
                    .is_none_or(|c| f.last_key.is_none_or(|l| l < c.key))
        };
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
