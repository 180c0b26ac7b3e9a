//! A resumed run's parts given as separate logs (`watch part1.log part2.log`: not rank files),
//! followed as `analyze` reads them ([`crate::clean::parts`]): every row of a part at or after
//! the first step of a part that starts later and logs one of its training losses is replaced
//! by that part, counted as replaced,
//! and one note per log that lost rows says so (a restart each). Rank files are one part (they
//! are merged by the mean), and so are the sources of one folder store.
//!
//! The rule is applied to the rows not merged yet, every time a file takes rows, so an earlier
//! part's rows from the later part's first step on never reach the monitor. A part whose first
//! rows arrive behind what was merged (its log appeared while watching) makes everything be read
//! again: a replay from its first step when it resumes the run, a re-read otherwise.

use super::Follower;
use crate::clean::parts::{Part, part_of, resume_note};
use crate::watch::standing::Cut;

/// Where a later part replaces a file's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Resumed {
    /// The first key of the later part: the file's rows from it on are replaced.
    pub key: u64,
    /// The later part, by the name of its first log.
    by: String,
    /// The file's rows replaced so far.
    rows: u64,
}

impl Follower {
    /// The part of each followed file.
    fn parts(&self) -> Vec<Part> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| part_of(i, &f.feed.source))
            .collect()
    }

    /// Each part with rows: its first key and the file that holds it (the first such file).
    fn part_starts(&self, parts: &[Part]) -> Vec<(u64, Part, usize)> {
        let mut starts: Vec<(u64, Part, usize)> = Vec::new();
        for (j, f) in self.files.iter().enumerate() {
            let Some(first) = f.first_key else { continue };
            match starts.iter_mut().find(|(_, p, _)| *p == parts[j]) {
                Some(entry) if first < entry.0 => *entry = (first, parts[j], j),
                Some(_) => {}
                None => starts.push((first, parts[j], j)),
            }
        }
        starts
    }

    /// How to say that file `i`'s first rows, from key `first`, arrived behind what was merged:
    /// a replay from `first` when the file starts a part that resumes the run (every other part
    /// started before it), a re-read otherwise (a rank file, or a part out of order).
    pub(super) fn late_cut(&self, i: usize, first: u64) -> Cut {
        let parts = self.parts();
        let resumes = self
            .part_starts(&parts)
            .iter()
            .all(|(start, part, _)| *part != parts[i] && *start < first);
        if resumes {
            Cut::Replay { key: first }
        } else {
            Cut::Reread
        }
    }

    /// Whether a file of `part` logs one of file `j`'s training losses.
    fn shares_loss(&self, parts: &[Part], part: Part, j: usize) -> bool {
        let own = &self.files[j].losses;
        self.files
            .iter()
            .zip(parts)
            .filter(|(_, p)| **p == part)
            .any(|(f, _)| f.losses.iter().any(|l| own.contains(l)))
    }

    /// Cuts every file at the first key of the earliest part that starts after its own and logs
    /// one of its training losses: its pending rows from there on are dropped and its rows from
    /// there on count as replaced.
    pub(super) fn replace_resumed(&mut self) {
        let parts = self.parts();
        let starts = self.part_starts(&parts);
        if starts.len() < 2 {
            return;
        }
        for (j, part) in parts.iter().enumerate() {
            let Some(own) = starts.iter().find(|(_, p, _)| p == part) else {
                continue;
            };
            let Some(&(key, _, by)) = starts
                .iter()
                .filter(|(s, ..)| *s > own.0)
                .filter(|(_, p, _)| self.shares_loss(&parts, *p, j))
                .min_by_key(|(s, ..)| *s)
            else {
                continue;
            };
            let by = self.files[by].feed.source.name.clone();
            let file = &mut self.files[j];
            file.pending.retain(|(k, _)| *k < key);
            let replaced = file.ledger.replace_from(key);
            let cut = file.cut.get_or_insert_with(|| Resumed {
                key,
                by: by.clone(),
                rows: 0,
            });
            if cut.key != key {
                // A part that starts earlier than the one that cut it before.
                cut.key = key;
                cut.by = by;
            }
            cut.rows += replaced;
        }
    }

    /// Adds to the input summary one note and one restart per file a later part replaced rows
    /// of, as `analyze` reports them.
    pub(super) fn note_resumes(&mut self) {
        let ipe = self.monitor.ipe(self.ipe_hint());
        let notes: Vec<String> = self
            .files
            .iter()
            .filter_map(|f| {
                let cut = f.cut.as_ref().filter(|c| c.rows > 0)?;
                let step = self.monitor.step_of(cut.key, ipe);
                Some(resume_note(&cut.by, step, cut.rows, &f.feed.source.name))
            })
            .collect();
        let input = &mut self.monitor.input;
        input.restarts += notes.len() as u64;
        input.warnings.extend(notes);
    }
}
