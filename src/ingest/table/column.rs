//! How one column of a [`super::Table`] holds its rows: dense (a value or a kind byte per row)
//! when most rows have a value, sparse (the present values with their rows) when few do.
//!
//! JSON lines and console logs can name a new key on any line; a dense column per key would cost
//! rows × distinct keys (a 2 MB file with many keys took 1.9 GB). A column that first appears
//! after the first row starts sparse and becomes dense only once at least half the rows so far
//! have a value, so memory stays proportional to the values present.

use std::ops::Range;

use crate::model::{MISSING, ValueKind, is_missing};

/// Rows from which a sparse column is considered for turning dense (a few rows say nothing).
const DENSE_FROM_ROWS: usize = 64;

/// One column's rows.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// The values ([`MISSING`] where nothing was logged).
    Values(Vec<f32>),
    /// Only the kind of each value ([`ValueKind`] as a byte).
    Kinds(Vec<u8>),
    /// Only the rows that hold a value, ascending, with their values (or, when `kinds_only`,
    /// a representative of their kind: [`ValueKind::representative`]).
    Sparse {
        rows: Vec<u32>,
        values: Vec<f32>,
        kinds_only: bool,
    },
}

impl ColumnData {
    /// An empty dense column.
    pub fn dense(keep_values: bool) -> ColumnData {
        if keep_values {
            ColumnData::Values(Vec::new())
        } else {
            ColumnData::Kinds(Vec::new())
        }
    }

    /// An empty sparse column.
    pub fn sparse(keep_values: bool) -> ColumnData {
        ColumnData::Sparse {
            rows: Vec::new(),
            values: Vec::new(),
            kinds_only: !keep_values,
        }
    }

    /// Whether the values are kept (else only their kinds).
    pub fn keeps_values(&self) -> bool {
        match self {
            ColumnData::Values(_) => true,
            ColumnData::Kinds(_) => false,
            ColumnData::Sparse { kinds_only, .. } => !kinds_only,
        }
    }

    /// Rows stored: every row for a dense column, the present ones for a sparse one.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Values(v) => v.len(),
            ColumnData::Kinds(k) => k.len(),
            ColumnData::Sparse { rows, .. } => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value (or kind representative) of each of `n` rows, [`MISSING`] where absent.
    pub fn dense_values(&self, n: usize) -> Vec<f32> {
        let mut out = vec![MISSING; n];
        for (row, v) in self.present() {
            if let Some(slot) = out.get_mut(row) {
                *slot = v;
            }
        }
        out
    }

    /// `(row, value)` of every present row in row order (kinds as their representative).
    pub fn present(&self) -> Box<dyn Iterator<Item = (usize, f32)> + '_> {
        match self {
            ColumnData::Values(v) => Box::new(
                v.iter()
                    .enumerate()
                    .filter(|(_, v)| !is_missing(**v))
                    .map(|(r, v)| (r, *v)),
            ),
            ColumnData::Kinds(k) => Box::new(
                k.iter()
                    .enumerate()
                    .filter(|(_, k)| **k != ValueKind::Missing as u8)
                    .map(|(r, k)| (r, ValueKind::from_byte(*k).representative())),
            ),
            ColumnData::Sparse { rows, values, .. } => {
                Box::new(rows.iter().map(|r| *r as usize).zip(values.iter().copied()))
            }
        }
    }

    /// Sets row `row` (at or after every row set so far, or an earlier row of a dense column);
    /// `rows` is how many rows the table has (the column may turn dense).
    #[inline]
    pub(super) fn set(&mut self, row: usize, v: f32, rows: usize) {
        match self {
            ColumnData::Values(values) => {
                if values.len() <= row {
                    values.resize(row + 1, MISSING);
                }
                values[row] = v;
            }
            ColumnData::Kinds(kinds) => {
                if kinds.len() <= row {
                    kinds.resize(row + 1, ValueKind::Missing as u8);
                }
                kinds[row] = ValueKind::of(v) as u8;
            }
            ColumnData::Sparse {
                rows: at,
                values,
                kinds_only,
            } => {
                let Ok(row32) = u32::try_from(row) else {
                    self.make_dense(rows);
                    return self.set(row, v, rows);
                };
                let stored = if *kinds_only {
                    ValueKind::of(v).representative()
                } else {
                    v
                };
                let i = match at.last() {
                    Some(last) if *last < row32 => at.len(),
                    None => 0,
                    _ => at.partition_point(|r| *r < row32),
                };
                let exists = at.get(i) == Some(&row32);
                match (exists, is_missing(v)) {
                    (true, true) => {
                        at.remove(i);
                        values.remove(i);
                    }
                    (true, false) => values[i] = stored,
                    (false, true) => {}
                    (false, false) => {
                        at.insert(i, row32);
                        values.insert(i, stored);
                    }
                }
                if rows >= DENSE_FROM_ROWS && at.len() * 2 >= rows {
                    self.make_dense(rows);
                }
            }
        }
    }

    /// Pads a dense column with missing rows up to `rows`.
    pub(super) fn pad(&mut self, rows: usize) {
        match self {
            ColumnData::Values(v) if v.len() < rows => v.resize(rows, MISSING),
            ColumnData::Kinds(k) if k.len() < rows => k.resize(rows, ValueKind::Missing as u8),
            _ => {}
        }
    }

    /// Turns a sparse column that keeps its values dense, `rows` long: the values the diagnosis
    /// reads are dense on the step axis anyway (`model::Series`), and readers of a [`Table`]
    /// find them as [`ColumnData::Values`]. Only kinds stay sparse.
    ///
    /// [`Table`]: super::Table
    pub(super) fn dense_if_kept(&mut self, rows: usize) {
        if matches!(
            self,
            ColumnData::Sparse {
                kinds_only: false,
                ..
            }
        ) {
            self.make_dense(rows);
        }
    }

    /// Turns a sparse column dense, `rows` long.
    fn make_dense(&mut self, rows: usize) {
        if let ColumnData::Sparse { kinds_only, .. } = self {
            let kinds_only = *kinds_only;
            let values = self.dense_values(rows);
            *self = if kinds_only {
                ColumnData::Kinds(values.iter().map(|v| ValueKind::of(*v) as u8).collect())
            } else {
                ColumnData::Values(values)
            };
        }
    }

    /// A column of `rows` rows holding `present` (row-ascending), dense or sparse by what is
    /// smaller.
    pub(super) fn from_present(
        rows: usize,
        keep_values: bool,
        present: impl Iterator<Item = (usize, f32)>,
    ) -> ColumnData {
        let mut sparse = ColumnData::sparse(keep_values);
        for (row, v) in present {
            sparse.set(row, v, rows);
        }
        sparse.pad(rows);
        sparse
    }

    pub(super) fn reserve(&mut self, n: usize) {
        match self {
            ColumnData::Values(values) => values.reserve(n),
            ColumnData::Kinds(kinds) => kinds.reserve(n),
            ColumnData::Sparse { .. } => {}
        }
    }

    /// Appends `values` as rows `offset..` (`offset` = rows the table had before).
    pub fn append_values(&mut self, offset: usize, values: &[f32]) {
        match self {
            ColumnData::Values(v) => {
                v.resize(offset, MISSING);
                v.extend_from_slice(values);
            }
            ColumnData::Kinds(k) => {
                k.resize(offset, ValueKind::Missing as u8);
                k.extend(values.iter().map(|v| ValueKind::of(*v) as u8));
            }
            ColumnData::Sparse { .. } => {
                let rows = offset + values.len();
                for (i, v) in values.iter().enumerate() {
                    if !is_missing(*v) {
                        self.set(offset + i, *v, rows);
                    }
                }
            }
        }
    }

    /// Keeps the rows in `ranges` (ascending, disjoint) of a table of `rows` rows, in place.
    pub(super) fn compact(&mut self, ranges: &[Range<usize>], rows: usize) {
        fn keep<T: Copy>(v: &mut Vec<T>, ranges: &[Range<usize>]) {
            let mut to = 0;
            for r in ranges {
                v.copy_within(r.clone(), to);
                to += r.len();
            }
            v.truncate(to);
        }
        match self {
            ColumnData::Values(v) => keep(v, ranges),
            ColumnData::Kinds(k) => keep(k, ranges),
            ColumnData::Sparse { kinds_only, .. } => {
                let keep_values = !*kinds_only;
                // New index of each kept row: rows before it that are kept.
                let mut moved = Vec::with_capacity(self.len());
                let mut range = 0usize;
                let mut before = 0usize;
                for (row, v) in self.present() {
                    while range < ranges.len() && ranges[range].end <= row {
                        before += ranges[range].len();
                        range += 1;
                    }
                    if range < ranges.len() && ranges[range].start <= row {
                        moved.push((before + row - ranges[range].start, v));
                    }
                }
                let kept: usize = ranges.iter().map(|r| r.len()).sum();
                debug_assert!(kept <= rows);
                *self = ColumnData::from_present(kept, keep_values, moved.into_iter());
            }
        }
    }
}

/// Rows parsed apart from a builder, to append in order ([`super::TableBuilder::append_chunk`]).
/// Reused from chunk to chunk (cleared, not reallocated).
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    pub keys: crate::progression::Progressions,
    /// The values of each column, in the builder's column order.
    pub columns: Vec<Vec<f32>>,
    /// Row indices (within the chunk) where a restarted run's rows begin.
    pub segment_starts: Vec<usize>,
}

impl Chunk {
    /// An empty chunk for `columns` columns.
    pub fn new(columns: usize) -> Chunk {
        Chunk {
            keys: crate::progression::Progressions::new(),
            columns: vec![Vec::new(); columns],
            segment_starts: Vec::new(),
        }
    }
    /// Empties it, keeping the memory.
    pub fn clear(&mut self) {
        self.keys = crate::progression::Progressions::new();
        for c in &mut self.columns {
            c.clear();
        }
        self.segment_starts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_column_stores_only_present_rows_and_turns_dense_when_full() {
        let mut c = ColumnData::sparse(true);
        c.set(3, 1.0, 100);
        c.set(90, 2.0, 100);
        assert_eq!(c.len(), 2);
        assert!(matches!(c, ColumnData::Sparse { .. }));
        for row in 0..60 {
            c.set(row, 0.5, 100);
        }
        assert!(matches!(c, ColumnData::Values(_)));
        let dense = c.dense_values(100);
        assert_eq!(dense[90], 2.0);
        assert!(is_missing(dense[95]));
    }

    #[test]
    fn setting_missing_removes_a_sparse_value_and_a_later_set_wins() {
        let mut c = ColumnData::sparse(true);
        c.set(5, 1.0, 10);
        c.set(5, 2.0, 10);
        assert_eq!(c.present().collect::<Vec<_>>(), vec![(5, 2.0)]);
        c.set(5, MISSING, 10);
        assert!(c.is_empty());
    }

    #[test]
    fn compacting_a_sparse_column_renumbers_the_kept_rows() {
        let mut c = ColumnData::from_present(10, true, [(1, 1.0), (4, 4.0), (8, 8.0)].into_iter());
        c.compact(&[0..2, 6..10], 10);
        assert_eq!(c.present().collect::<Vec<_>>(), vec![(1, 1.0), (4, 8.0)]);
    }
}
