//! What every parser produces: rows keyed by step (or by epoch and iteration), resolved into one
//! value per key and column, with every row accounted for.
//!
//! Two rules decide which rows survive, and both are about restarts:
//! 1. A restart marker (the CSV header written again mid-file) starts a new *segment*. A resumed
//!    run replays its trajectory from the checkpoint on, so every row of an earlier segment whose
//!    key is at or after the first key of a later segment belongs to a discarded trajectory and is
//!    replaced. This is "keep the last occurrence" for the interrupted epoch, and also drops a
//!    stale tail that the resumed run never re-logged.
//! 2. Rows sharing a key merge cell by cell, the later value winning (JSON logs write train and
//!    eval entries for the same step on separate lines).
//!
//! A row none of whose values survive counts as replaced; `rows_read = rows_used + rows_skipped +
//! rows_replaced` holds by construction.

use crate::model::{MISSING, RowAccount, SkippedRow, is_missing};

/// How many skipped rows are kept with their reason (all are counted).
pub const SKIPPED_REASONS_KEPT: usize = 20;

/// How rows are keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// An explicit global step.
    Step,
    /// `(epoch << 32) | itr`: the global step needs iterations per epoch, known only later.
    EpochItr,
}

/// Packs an (epoch, itr) pair into a key that sorts like the pair.
pub fn epoch_itr_key(epoch: u64, itr: u64) -> Option<u64> {
    (epoch < (1 << 31) && itr < (1 << 32)).then_some((epoch << 32) | itr)
}

/// Splits an [`epoch_itr_key`] back into (epoch, itr).
pub fn split_epoch_itr(key: u64) -> (u64, u64) {
    (key >> 32, key & 0xffff_ffff)
}

/// A parsed source: sorted unique keys, one value vector per column, and the row account.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub source: String,
    pub keys: Vec<u64>,
    pub names: Vec<String>,
    pub columns: Vec<Vec<f32>>,
    pub account: RowAccount,
    pub restarts: u64,
    pub skipped: Vec<SkippedRow>,
    pub warnings: Vec<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&[f32]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.columns[i].as_slice())
    }
}

/// Collects rows in file order; [`TableBuilder::finish`] resolves restarts and duplicates.
#[derive(Debug)]
pub struct TableBuilder {
    source: String,
    names: Vec<String>,
    columns: Vec<Vec<f32>>,
    keys: Vec<u64>,
    /// Row index at which each segment after the first begins.
    segment_starts: Vec<usize>,
    restart_pending: bool,
    /// Columns found to hold text, dropped at the end.
    ignored: Vec<bool>,
    rows_read: u64,
    rows_skipped: u64,
    skipped: Vec<SkippedRow>,
    warnings: Vec<String>,
}

impl TableBuilder {
    pub fn new(source: &str) -> TableBuilder {
        TableBuilder {
            source: source.to_string(),
            names: Vec::new(),
            columns: Vec::new(),
            keys: Vec::new(),
            segment_starts: Vec::new(),
            restart_pending: false,
            ignored: Vec::new(),
            rows_read: 0,
            rows_skipped: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn rows(&self) -> usize {
        self.keys.len()
    }

    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Index of column `name`, adding it (missing at every earlier row) when new.
    pub fn column(&mut self, name: &str) -> usize {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i;
        }
        self.names.push(name.to_string());
        self.columns.push(vec![MISSING; self.keys.len()]);
        self.ignored.push(false);
        self.names.len() - 1
    }

    /// Drops a column from the result (it turned out to hold text, not numbers).
    pub fn ignore_column(&mut self, column: usize) {
        self.ignored[column] = true;
    }

    /// Reserves room for about `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
        self.keys.reserve(rows);
        for c in &mut self.columns {
            c.reserve(rows);
        }
    }

    /// Counts a read row as skipped, keeping the first few reasons. (Pushed rows count as read
    /// by themselves, so `rows_read = pushed + skipped` always.)
    pub fn skip(&mut self, line: u64, reason: impl Into<String>) {
        self.skip_at(Some(line), None, reason.into());
    }

    /// Like [`Self::skip`] for the `record`-th record of a JSON document.
    pub fn skip_record(&mut self, record: u64, reason: impl Into<String>) {
        self.skip_at(None, Some(record), reason.into());
    }

    fn skip_at(&mut self, line: Option<u64>, record: Option<u64>, reason: String) {
        self.rows_read += 1;
        self.rows_skipped += 1;
        if self.skipped.len() < SKIPPED_REASONS_KEPT {
            self.skipped.push(SkippedRow {
                source: self.source.clone(),
                line,
                record,
                reason,
            });
        }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// The rows pushed after this call form a new segment (a restarted run appending).
    pub fn restart(&mut self) {
        self.restart_pending = true;
    }

    /// Appends a row with every column missing and returns its index; fill it with [`Self::set`].
    pub fn push_row(&mut self, key: u64) -> usize {
        self.begin_row();
        self.keys.push(key);
        for c in &mut self.columns {
            c.push(MISSING);
        }
        self.keys.len() - 1
    }

    /// Appends a row whose values come in column order (one per column).
    pub fn push_values(&mut self, key: u64, values: &[f32]) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.begin_row();
        self.keys.push(key);
        for (c, v) in self.columns.iter_mut().zip(values) {
            c.push(*v);
        }
    }

    pub fn set(&mut self, row: usize, column: usize, value: f32) {
        self.columns[column][row] = value;
    }

    fn begin_row(&mut self) {
        self.rows_read += 1;
        if self.restart_pending {
            self.restart_pending = false;
            if !self.keys.is_empty() {
                self.segment_starts.push(self.keys.len());
            }
        }
    }

    /// Resolves restarts and duplicate keys; `restarts` is how many restart markers were seen.
    pub fn finish(self, restarts: u64) -> Table {
        let TableBuilder {
            source,
            mut names,
            mut columns,
            ignored,
            mut keys,
            segment_starts,
            rows_read,
            rows_skipped,
            skipped,
            warnings,
            ..
        } = self;
        if ignored.iter().any(|i| *i) {
            let mut flags = ignored.iter();
            names.retain(|_| !flags.next().copied().unwrap_or(false));
            let mut flags = ignored.iter();
            columns.retain(|_| !flags.next().copied().unwrap_or(false));
        }
        let pushed = keys.len();
        let kept = rows_kept_after_restarts(&keys, &segment_starts);
        let sorted = kept.windows(2).all(|w| keys[w[0]] < keys[w[1]]);
        let used: u64;
        if sorted {
            used = kept.len() as u64;
            if kept.len() != pushed {
                compact(&mut keys, &mut columns, &kept);
            }
        } else {
            let merged = merge_equal_keys(&keys, &columns, kept);
            used = merged.rows_used;
            keys = merged.keys;
            columns = merged.columns;
        }
        let account = RowAccount {
            rows_read,
            rows_used: used,
            rows_skipped,
            rows_replaced: pushed as u64 - used,
        };
        debug_assert!(account.balances(), "{account:?}");
        Table {
            source,
            keys,
            names,
            columns,
            account,
            restarts,
            skipped,
            warnings,
        }
    }
}

/// Row indices (in file order) that no later segment supersedes.
fn rows_kept_after_restarts(keys: &[u64], segment_starts: &[usize]) -> Vec<usize> {
    if segment_starts.is_empty() {
        return (0..keys.len()).collect();
    }
    let mut bounds = vec![0];
    bounds.extend_from_slice(segment_starts);
    bounds.push(keys.len());
    // cutoff[s]: the smallest first key of any later segment.
    let segments = bounds.len() - 1;
    let mut cutoff = vec![u64::MAX; segments];
    for s in (0..segments.saturating_sub(1)).rev() {
        let next_first = keys[bounds[s + 1]];
        cutoff[s] = cutoff[s + 1].min(next_first);
    }
    let mut kept = Vec::with_capacity(keys.len());
    for s in 0..segments {
        kept.extend((bounds[s]..bounds[s + 1]).filter(|&r| keys[r] < cutoff[s]));
    }
    kept
}

/// Keeps only `kept` rows (ascending indices), in place.
fn compact(keys: &mut Vec<u64>, columns: &mut [Vec<f32>], kept: &[usize]) {
    for (to, &from) in kept.iter().enumerate() {
        keys[to] = keys[from];
    }
    keys.truncate(kept.len());
    for c in columns.iter_mut() {
        for (to, &from) in kept.iter().enumerate() {
            c[to] = c[from];
        }
        c.truncate(kept.len());
    }
}

struct Merged {
    keys: Vec<u64>,
    columns: Vec<Vec<f32>>,
    rows_used: u64,
}

/// Sorts `kept` rows by key (stable) and merges equal keys cell by cell, later rows winning.
fn merge_equal_keys(keys: &[u64], columns: &[Vec<f32>], mut kept: Vec<usize>) -> Merged {
    kept.sort_by_key(|&r| keys[r]);
    let mut out_keys = Vec::with_capacity(kept.len());
    let mut out_columns: Vec<Vec<f32>> = columns
        .iter()
        .map(|_| Vec::with_capacity(kept.len()))
        .collect();
    let mut rows_used = 0u64;
    let mut survivors: Vec<bool> = Vec::new();
    for group in kept.chunk_by(|a, b| keys[*a] == keys[*b]) {
        out_keys.push(keys[group[0]]);
        survivors.clear();
        survivors.resize(group.len(), false);
        for (c, column) in columns.iter().enumerate() {
            let winner = group.iter().rposition(|&r| !is_missing(column[r]));
            let value = match winner {
                Some(g) => {
                    survivors[g] = true;
                    column[group[g]]
                }
                None => MISSING,
            };
            out_columns[c].push(value);
        }
        // A row with no value at all still "survives" when it is alone with its key.
        rows_used += survivors.iter().filter(|s| **s).count().max(1) as u64;
    }
    Merged {
        keys: out_keys,
        columns: out_columns,
        rows_used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(rows: &[(u64, &[f32])], restarts_before: &[usize]) -> Table {
        let mut b = TableBuilder::new("t.csv");
        b.column("a");
        b.column("b");
        for (i, (key, values)) in rows.iter().enumerate() {
            if restarts_before.contains(&i) {
                b.restart();
            }
            b.push_values(*key, values);
        }
        b.finish(restarts_before.len() as u64)
    }

    #[test]
    fn sorted_unique_rows_pass_through() {
        let t = build(&[(0, &[1.0, 2.0]), (1, &[3.0, 4.0])], &[]);
        assert_eq!(t.keys, vec![0, 1]);
        assert_eq!(t.account.rows_used, 2);
        assert_eq!(t.account.rows_replaced, 0);
    }

    #[test]
    fn a_restart_replaces_the_replayed_rows_and_keeps_the_last_occurrence() {
        // Killed at key 3, resumed at key 2: rows 2 and 3 of the first segment are replaced.
        let rows: &[(u64, &[f32])] = &[
            (0, &[0.0, 0.0]),
            (1, &[1.0, 1.0]),
            (2, &[2.0, 2.0]),
            (3, &[3.0, 3.0]),
            (2, &[20.0, 20.0]),
            (3, &[30.0, 30.0]),
            (4, &[40.0, 40.0]),
        ];
        let t = build(rows, &[4]);
        assert_eq!(t.keys, vec![0, 1, 2, 3, 4]);
        assert_eq!(t.columns[0], vec![0.0, 1.0, 20.0, 30.0, 40.0]);
        assert_eq!(t.account.rows_replaced, 2);
        assert!(t.account.balances());
    }

    #[test]
    fn a_restart_drops_a_stale_tail_the_resumed_run_never_relogged() {
        // First run reached key 5; resumed at key 2 and stopped at key 3.
        let rows: &[(u64, &[f32])] = &[
            (0, &[0.0, 0.0]),
            (2, &[2.0, 2.0]),
            (4, &[4.0, 4.0]),
            (5, &[5.0, 5.0]),
            (2, &[20.0, 20.0]),
            (3, &[30.0, 30.0]),
        ];
        let t = build(rows, &[4]);
        assert_eq!(t.keys, vec![0, 2, 3]);
        assert_eq!(t.columns[1], vec![0.0, 20.0, 30.0]);
        assert_eq!(t.account.rows_replaced, 3);
    }

    #[test]
    fn equal_keys_merge_cell_by_cell_later_wins() {
        let m = MISSING;
        let rows: &[(u64, &[f32])] = &[
            (10, &[1.0, m]),
            (10, &[m, 7.0]),
            (5, &[0.5, m]),
            (10, &[2.0, m]),
        ];
        let t = build(rows, &[]);
        assert_eq!(t.keys, vec![5, 10]);
        assert_eq!(t.columns[0], vec![0.5, 2.0]);
        assert_eq!(t.columns[1][1], 7.0);
        assert!(is_missing(t.columns[1][0]));
        // (10,[1,-]) lost its only value to the later (10,[2,-]).
        assert_eq!(t.account.rows_replaced, 1);
        assert_eq!(t.account.rows_used, 3);
        assert!(t.account.balances());
    }

    #[test]
    fn new_columns_are_backfilled_as_missing() {
        let mut b = TableBuilder::new("x");
        let a = b.column("a");
        let r = b.push_row(0);
        b.set(r, a, 1.0);
        let c = b.column("c");
        let r = b.push_row(1);
        b.set(r, c, 3.0);
        let t = b.finish(0);
        assert!(is_missing(t.columns[1][0]));
        assert_eq!(t.columns[1][1], 3.0);
        assert!(is_missing(t.columns[0][1]));
    }

    #[test]
    fn epoch_itr_keys_sort_like_pairs() {
        let a = epoch_itr_key(1, 99).unwrap();
        let b = epoch_itr_key(2, 0).unwrap();
        assert!(a < b);
        assert_eq!(split_epoch_itr(b), (2, 0));
        assert!(epoch_itr_key(1 << 40, 0).is_none());
    }
}
