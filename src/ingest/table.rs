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
//!
//! Storage is compact: keys are runs of progressions ([`Progressions`]), columns the diagnosis
//! does not read (timings, other counters) keep only what kind of value each row had
//! ([`ColumnData::Kinds`], one byte a row) unless the caller asks for every value (`--export`),
//! and a column that few rows fill keeps only its present values ([`ColumnData::Sparse`]): memory
//! follows the values present, not rows × distinct keys. Adding a row costs nothing per column;
//! dense columns are padded with missing values when set or finished.

mod column;
mod resolve;

use std::collections::HashMap;

pub use column::{Chunk, ColumnData};

use crate::ingest::roles::role_from_name;
use crate::model::{MISSING, Role, RowAccount, SkippedRow};
use crate::progression::Progressions;
use resolve::{merge_equal_keys, rows_kept_after_restarts};

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

/// Which columns keep their values (the others keep the kind of value per row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValuePolicy {
    /// Keep every value (for `--export`).
    pub keep_all: bool,
    /// Columns whose values are kept whatever their role (named by `--jepa-col` and friends).
    pub keep_names: Vec<String>,
}

impl ValuePolicy {
    /// Every column keeps its values.
    pub fn all() -> ValuePolicy {
        ValuePolicy {
            keep_all: true,
            keep_names: Vec::new(),
        }
    }

    /// Whether a column named `name` keeps its values.
    pub fn keeps(&self, name: &str) -> bool {
        self.keep_all
            || self.keep_names.iter().any(|n| n == name)
            || !matches!(role_from_name(name), Role::Timing | Role::Other)
    }
}

/// A parsed source: sorted unique keys, one column per name, and the row account.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub source: String,
    pub keys: Progressions,
    pub names: Vec<String>,
    pub columns: Vec<ColumnData>,
    pub account: RowAccount,
    pub restarts: u64,
    pub skipped: Vec<SkippedRow>,
    pub warnings: Vec<String>,
    /// The first value left out of a row that was otherwise used (text where a column holds
    /// numbers), as `file:line: what`; `--strict` refuses it as it refuses a skipped row.
    pub first_damaged: Option<String>,
}

impl Table {
    /// Keeps the first `rows` rows (steps ascending): the rest were replaced by a later part of
    /// a resumed run. They move from used to replaced in the account (a step whose values came
    /// from several rows of one key counts once). Returns how many rows were dropped.
    pub fn truncate(&mut self, rows: usize) -> u64 {
        let n = self.keys.len();
        if rows >= n {
            return 0;
        }
        self.keys = self.keys.slice(0..rows);
        for c in &mut self.columns {
            c.compact(std::slice::from_ref(&(0..rows)), n);
        }
        let dropped = (n - rows) as u64;
        self.account.rows_used -= dropped;
        self.account.rows_replaced += dropped;
        dropped
    }

    /// The values of column `name`, when kept.
    pub fn column(&self, name: &str) -> Option<&[f32]> {
        let i = self.names.iter().position(|n| n == name)?;
        match &self.columns[i] {
            ColumnData::Values(v) => Some(v),
            ColumnData::Kinds(_) | ColumnData::Sparse { .. } => None,
        }
    }
}

/// Collects rows in file order; [`TableBuilder::finish`] resolves restarts and duplicates.
#[derive(Debug)]
pub struct TableBuilder {
    source: String,
    policy: ValuePolicy,
    names: Vec<String>,
    /// Column index by (escaped) name.
    index: HashMap<String, usize>,
    columns: Vec<ColumnData>,
    keys: Progressions,
    /// Row index at which each segment after the first begins.
    segment_starts: Vec<usize>,
    restart_pending: bool,
    /// Columns found to hold text, dropped at the end.
    ignored: Vec<bool>,
    rows_read: u64,
    rows_skipped: u64,
    skipped: Vec<SkippedRow>,
    warnings: Vec<String>,
    first_damaged: Option<String>,
}

impl TableBuilder {
    /// A builder that keeps every value.
    pub fn new(source: &str) -> TableBuilder {
        TableBuilder::with_policy(source, ValuePolicy::all())
    }

    pub fn with_policy(source: &str, policy: ValuePolicy) -> TableBuilder {
        TableBuilder {
            source: source.to_string(),
            policy,
            names: Vec::new(),
            index: HashMap::new(),
            columns: Vec::new(),
            keys: Progressions::new(),
            segment_starts: Vec::new(),
            restart_pending: false,
            ignored: Vec::new(),
            rows_read: 0,
            rows_skipped: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
            first_damaged: None,
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

    /// Index of column `name`, adding it (missing at every earlier row) when new. Names are
    /// stored with control characters escaped ([`crate::human::escape_control`]): every report
    /// shows them, and an escape sequence in a column name must not drive a terminal. A column
    /// added before the first row is dense; one added later starts sparse
    /// ([`ColumnData::Sparse`]) and turns dense once half the rows have a value.
    pub fn column(&mut self, name: &str) -> usize {
        // Seen names first: escaped names hold no control characters, so a hit is exact.
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let name = crate::human::escape_control(name);
        let name = name.as_ref();
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let keep = self.policy.keeps(name);
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.columns.push(if self.keys.is_empty() {
            ColumnData::dense(keep)
        } else {
            ColumnData::sparse(keep)
        });
        self.ignored.push(false);
        self.names.len() - 1
    }

    /// Whether column `column` keeps its values (else only their kinds).
    pub fn keeps_values(&self, column: usize) -> bool {
        self.columns[column].keeps_values()
    }

    /// Drops a column from the result (it turned out to hold text, not numbers).
    pub fn ignore_column(&mut self, column: usize) {
        self.ignored[column] = true;
    }

    /// Reserves room for about `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
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

    /// Records a value left out of an otherwise used row (`file:line: what`); the first is kept
    /// for `--strict` ([`Table::first_damaged`]). The caller also notes it ([`Self::warn`]).
    pub fn damaged(&mut self, what: impl Into<String>) {
        if self.first_damaged.is_none() {
            self.first_damaged = Some(what.into());
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
        self.keys.len() - 1
    }

    /// Appends a row whose values come in column order (one per column).
    #[inline]
    pub fn push_values(&mut self, key: u64, values: &[f32]) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.begin_row();
        let row = self.keys.len();
        self.keys.push(key);
        let rows = row + 1;
        // Every dense column gets a value, so that none falls out of step with the keys.
        for (i, c) in self.columns.iter_mut().enumerate() {
            let v = values.get(i).copied().unwrap_or(MISSING);
            match c {
                ColumnData::Values(values) if values.len() == row => values.push(v),
                _ => c.set(row, v, rows),
            }
        }
    }

    /// Sets the value of `column` at `row` (a row pushed with [`Self::push_row`]; a later call
    /// for the same cell wins, [`MISSING`] clears it).
    pub fn set(&mut self, row: usize, column: usize, value: f32) {
        let rows = self.keys.len();
        self.columns[column].set(row, value, rows);
    }

    /// Appends rows parsed elsewhere (a chunk of the same file): keys, columns in this builder's
    /// column order, segment starts relative to the chunk, and how many rows it read and skipped.
    pub fn append_chunk(&mut self, chunk: &Chunk) {
        let offset = self.keys.len();
        if self.restart_pending && !chunk.keys.is_empty() {
            self.restart_pending = false;
            if offset > 0 {
                self.segment_starts.push(offset);
            }
        }
        for &s in &chunk.segment_starts {
            if s == chunk.keys.len() {
                self.restart_pending = true;
            } else if offset + s > 0 {
                self.segment_starts.push(offset + s);
            }
        }
        self.keys.extend_from(&chunk.keys);
        for (c, data) in self.columns.iter_mut().zip(&chunk.columns) {
            c.append_values(offset, data);
        }
        self.rows_read += chunk.keys.len() as u64;
    }

    #[inline]
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
            first_damaged,
            ..
        } = self;
        if ignored.iter().any(|i| *i) {
            let mut flags = ignored.iter();
            names.retain(|_| !flags.next().copied().unwrap_or(false));
            let mut flags = ignored.iter();
            columns.retain(|_| !flags.next().copied().unwrap_or(false));
        }
        let pushed = keys.len();
        for c in columns.iter_mut() {
            c.pad(pushed);
        }
        let kept = rows_kept_after_restarts(&keys, &segment_starts);
        let mut kept_keys = Progressions::new();
        for r in &kept {
            kept_keys.extend_from(&keys.slice(r.clone()));
        }
        let used: u64;
        if kept_keys.is_strictly_increasing() {
            used = kept_keys.len() as u64;
            if kept_keys.len() != pushed {
                for c in columns.iter_mut() {
                    c.compact(&kept, pushed);
                }
            }
            keys = kept_keys;
        } else {
            let rows: Vec<usize> = kept.iter().flat_map(|r| r.clone()).collect();
            let merged = merge_equal_keys(&keys, &columns, rows);
            used = merged.rows_used;
            keys = merged.keys;
            columns = merged.columns;
        }
        for c in columns.iter_mut() {
            c.dense_if_kept(keys.len());
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
            first_damaged,
        }
    }
}

#[cfg(test)]
mod tests;
