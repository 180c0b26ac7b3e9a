//! Every row of every followed file accounted for as `analyze` accounts for it:
//! `rows_read = rows_used + rows_skipped + rows_replaced` per file and summed over the files, the
//! same numbers `analyze` reports for the files as they stand.
//!
//! A batch's own accounting comes from the parser (`analyze`'s, on the new lines). What crosses
//! batches is counted here: a restart in a later batch (a restart header, a newer TensorBoard
//! event file) replaces the rows this file gave from the replayed key on, so they move from used
//! to replaced; a batch whose first row is the last row again (a JSON line for the same step)
//! merges into it, and the merged row counts as replaced, as `analyze` counts rows sharing a key.
//! A file truncated or replaced, or re-read whole, starts its ledger over (the rows it held before
//! are no longer in it). The keys of the used rows are kept as runs of progressions, so a
//! 10-million-row log costs a handful of runs.

use super::feed::Batch;
use crate::ingest::table::SKIPPED_REASONS_KEPT;
use crate::model::{InputSummary, RowAccount, SkippedRow};
use crate::progression::Progressions;

/// Warnings kept per file (a batch can repeat the same one).
const WARNINGS_KEPT: usize = 20;

/// The accounting of one followed file.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub rows: RowAccount,
    pub restarts: u64,
    pub lines_ignored: u64,
    pub skipped: Vec<SkippedRow>,
    pub warnings: Vec<String>,
    /// Keys of the rows counted as used, strictly increasing (`used.len() == rows.rows_used`).
    used: Progressions,
}

impl Ledger {
    /// A restart (or a later part of the run) replays this file's rows from `key` on: they are
    /// replaced. Returns how many.
    pub fn replace_from(&mut self, key: u64) -> u64 {
        let kept = index_at_least(&self.used, key);
        let replaced = (self.used.len() - kept) as u64;
        self.rows.rows_used -= replaced;
        self.rows.rows_replaced += replaced;
        self.used = self.used.slice(0..kept);
        replaced
    }

    /// Takes a batch's accounting. `completes`: its first row is the last row again, whose cells
    /// it completes (merged, so replaced unless the parser did not count it: [`Batch::repeats_last`]).
    pub fn take(&mut self, batch: &Batch, completes: bool) {
        self.rows.add(&batch.account);
        self.restarts += batch.restarts;
        self.lines_ignored += batch.lines_ignored;
        for s in &batch.skipped {
            if self.skipped.len() < SKIPPED_REASONS_KEPT {
                self.skipped.push(s.clone());
            }
        }
        for w in &batch.warnings {
            if self.warnings.len() < WARNINGS_KEPT && !self.warnings.contains(w) {
                self.warnings.push(w.clone());
            }
        }
        for (r, key) in batch.keys.iter().enumerate() {
            if r == 0 && completes {
                if !batch.repeats_last {
                    self.rows.rows_used = self.rows.rows_used.saturating_sub(1);
                    self.rows.rows_replaced += 1;
                }
                continue;
            }
            self.used.push(*key);
        }
    }
}

/// Index of the first value ≥ `key` in a strictly increasing sequence (its length when none).
fn index_at_least(keys: &Progressions, key: u64) -> usize {
    for (first, p) in keys.progressions() {
        if p.last() < key {
            continue;
        }
        if key <= p.start {
            return first;
        }
        // p.count > 1 here: key lies strictly inside the progression.
        let k = (key - p.start).div_ceil(p.stride.max(1));
        return first + k as usize;
    }
    keys.len()
}

/// Sums the ledgers of the followed files into the run's input summary.
pub fn summarize<'a>(ledgers: impl Iterator<Item = &'a Ledger>, input: &mut InputSummary) {
    input.rows = RowAccount::default();
    input.restarts = 0;
    input.lines_ignored = 0;
    input.skipped.clear();
    input.warnings.clear();
    for l in ledgers {
        input.rows.add(&l.rows);
        input.restarts += l.restarts;
        input.lines_ignored += l.lines_ignored;
        let room = SKIPPED_REASONS_KEPT.saturating_sub(input.skipped.len());
        input.skipped.extend(l.skipped.iter().take(room).cloned());
        for w in &l.warnings {
            if input.warnings.len() < WARNINGS_KEPT && !input.warnings.contains(w) {
                input.warnings.push(w.clone());
            }
        }
    }
    input.duplicates_replaced = input.rows.rows_replaced;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(keys: &[u64]) -> Batch {
        let n = keys.len() as u64;
        Batch {
            keys: keys.to_vec(),
            account: RowAccount {
                rows_read: n,
                rows_used: n,
                ..RowAccount::default()
            },
            ..Batch::default()
        }
    }

    #[test]
    fn a_restart_in_a_later_batch_moves_the_replayed_rows_to_replaced() {
        let mut l = Ledger::default();
        l.take(&batch(&(0..100).collect::<Vec<_>>()), false);
        l.take(&batch(&(100..300).step_by(2).collect::<Vec<_>>()), false);
        // Replays from key 150 (inside the second progression) on.
        l.replace_from(150);
        assert_eq!(l.rows.rows_used, 100 + 25);
        assert_eq!(l.rows.rows_replaced, 75);
        l.take(&batch(&(150..400).collect::<Vec<_>>()), false);
        assert_eq!(l.used.len() as u64, l.rows.rows_used);
        assert!(l.rows.balances(), "{:?}", l.rows);
        // The same key again completes the last row: merged, so replaced.
        l.take(&batch(&[399, 400]), true);
        assert_eq!(l.rows.rows_read, 100 + 100 + 250 + 2);
        assert_eq!(l.used.len() as u64, l.rows.rows_used);
        assert!(l.rows.balances(), "{:?}", l.rows);
        assert_eq!(index_at_least(&l.used, 1000), l.used.len());
        assert_eq!(index_at_least(&l.used, 0), 0);
    }
}
