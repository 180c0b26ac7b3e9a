//! The merged rows of a watched run as block sums, at a memory and evaluation cost that does not
//! grow with the run ([`super::monitor`] diagnoses the block means).
//!
//! - Between `max_blocks` and `2·max_blocks` blocks of `b` rows (`b` a power of two); when
//!   `2·max_blocks` blocks are full, neighbours merge and `b` doubles. A block keeps per series the
//!   sum and count of its finite values. The open (last, partly filled) block is part of every
//!   evaluation, so the newest rows count at once.
//! - Non-finite values are never averaged: the first ones of each series are kept at their exact
//!   key, so a NaN loss is a `non-finite` finding at the step it was logged.
//! - Restarts: rows replayed from key `k` on replace what was merged from `k` on; blocks from the
//!   one holding `k` are dropped (at most one block of earlier rows, ≤ 1/max_blocks of the run,
//!   leaves the statistics with them).

use crate::model::{MISSING, is_missing, wide};

/// Non-finite values kept at their exact key, per series.
const NON_FINITE_KEPT: usize = 16;

/// One block of consecutive merged rows.
#[derive(Clone, Debug)]
pub(super) struct Block {
    pub first_key: u64,
    pub last_key: u64,
    rows: u64,
    /// Per series: sum and count of the finite values.
    sums: Vec<f64>,
    counts: Vec<u64>,
}

impl Block {
    fn new(key: u64, width: usize) -> Block {
        Block {
            first_key: key,
            last_key: key,
            rows: 0,
            sums: vec![0.0; width],
            counts: vec![0; width],
        }
    }

    fn absorb(&mut self, other: &Block) {
        self.last_key = other.last_key;
        self.rows += other.rows;
        for (i, (s, c)) in other.sums.iter().zip(&other.counts).enumerate() {
            self.sums[i] += s;
            self.counts[i] += c;
        }
    }

    /// The mean of series `i` ([`MISSING`] when the block holds no finite value of it).
    pub fn mean(&self, i: usize) -> f32 {
        match self.counts.get(i).copied().unwrap_or(0) {
            0 => MISSING,
            // A mean beyond the f32 range is stored as `analyze` stores such a value.
            c => wide::narrow(self.sums[i] / c as f64),
        }
    }

    /// Adds value `v` of series `i` at `key`; a non-finite one goes to `non_finite` instead.
    fn add(&mut self, i: usize, key: u64, v: f32, non_finite: &mut Vec<(usize, u64, f32)>) {
        if v.is_finite() {
            // A cell beyond the f32 range holds a marker: its exact value is summed.
            self.sums[i] += wide::widen(v);
            self.counts[i] += 1;
        } else if non_finite.iter().filter(|(s, _, _)| *s == i).count() < NON_FINITE_KEPT {
            non_finite.push((i, key, v));
        }
    }
}

/// The blocks of one run.
#[derive(Clone, Debug, Default)]
pub(super) struct Blocks {
    block_rows: u64,
    closed: Vec<Block>,
    open: Option<Block>,
    rows: u64,
    last_key: Option<u64>,
    /// The values of the last row (to complete it when more of it arrives).
    last_row: Vec<f32>,
    /// `(series, key, value)` of the first non-finite values of each series.
    non_finite: Vec<(usize, u64, f32)>,
}

impl Blocks {
    pub fn new() -> Blocks {
        Blocks {
            block_rows: 1,
            ..Blocks::default()
        }
    }

    /// Rows held.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The key of the last row.
    pub fn last_key(&self) -> Option<u64> {
        self.last_key
    }

    /// Makes room for `width` series.
    pub fn widen(&mut self, width: usize) {
        for b in self.closed.iter_mut().chain(self.open.as_mut()) {
            b.sums.resize(width, 0.0);
            b.counts.resize(width, 0);
        }
    }

    /// Every block, the open one last.
    pub fn iter(&self) -> impl Iterator<Item = &Block> {
        self.closed.iter().chain(self.open.as_ref())
    }

    /// `(series, key, value)` of the first non-finite values of each series.
    pub fn non_finite(&self) -> &[(usize, u64, f32)] {
        &self.non_finite
    }

    /// Appends a row at `key` (larger than the last key) of `width` series; `max_blocks` bounds
    /// the blocks as the module comment says.
    pub fn push(&mut self, key: u64, values: &[f32], width: usize, max_blocks: usize) {
        let open = self.open.get_or_insert_with(|| Block::new(key, width));
        open.last_key = key;
        open.rows += 1;
        for (i, v) in values.iter().enumerate().take(width) {
            if !is_missing(*v) {
                open.add(i, key, *v, &mut self.non_finite);
            }
        }
        self.rows += 1;
        self.last_key = Some(key);
        self.last_row.clear();
        self.last_row.extend_from_slice(values);
        if open.rows >= self.block_rows
            && let Some(full) = self.open.take()
        {
            self.closed.push(full);
            self.compact(max_blocks);
        }
    }

    /// Completes the last row (key `key`) with the cells it lacked; cells it has are kept.
    pub fn amend(&mut self, key: u64, values: &[f32], width: usize) {
        if self.last_key != Some(key) {
            return;
        }
        self.last_row.resize(width, MISSING);
        let Some(block) = self.open.as_mut().or(self.closed.last_mut()) else {
            return;
        };
        for (i, v) in values.iter().enumerate().take(width) {
            if is_missing(*v) || !is_missing(self.last_row[i]) {
                continue;
            }
            self.last_row[i] = *v;
            block.add(i, key, *v, &mut self.non_finite);
        }
    }

    fn compact(&mut self, max_blocks: usize) {
        let cap = 2 * max_blocks.max(10);
        if self.closed.len() < cap {
            return;
        }
        let old = std::mem::take(&mut self.closed);
        for pair in old.chunks(2) {
            let mut merged = pair[0].clone();
            if let Some(second) = pair.get(1) {
                merged.absorb(second);
            }
            self.closed.push(merged);
        }
        self.block_rows *= 2;
    }

    /// Forgets every row from `key` on; the block holding `key` goes too, with the earlier rows it
    /// held.
    pub fn truncate_from(&mut self, key: u64) {
        if self.open.as_ref().is_some_and(|b| b.last_key >= key)
            && let Some(b) = self.open.take()
        {
            self.rows -= b.rows;
        }
        while let Some(b) = self.closed.last() {
            if b.last_key < key {
                break;
            }
            self.rows -= b.rows;
            self.closed.pop();
        }
        self.non_finite.retain(|(_, k, _)| *k < key);
        self.last_key = self.iter().last().map(|b| b.last_key);
        if let Some(open) = self.open.take() {
            // The open block would mix rows from both sides of the cut: close it.
            self.closed.push(open);
        }
    }
}
