//! The two rules that decide which rows of a [`super::TableBuilder`] survive (see the parent
//! module): rows a later segment (a restarted run) replays are replaced, and rows sharing a key
//! merge cell by cell, the later value winning. Both work on the present values of each column,
//! so a sparse column costs time and memory in proportion to its values, not to the rows.

use std::ops::Range;

use super::column::ColumnData;
use crate::progression::{Progression, Progressions};

/// Row ranges (in file order) that no later segment supersedes.
pub(super) fn rows_kept_after_restarts(
    keys: &Progressions,
    segment_starts: &[usize],
) -> Vec<Range<usize>> {
    let n = keys.len();
    if segment_starts.is_empty() {
        return std::iter::once(0..n).filter(|r| !r.is_empty()).collect();
    }
    let mut bounds = vec![0];
    bounds.extend_from_slice(segment_starts);
    bounds.push(n);
    let segments = bounds.len() - 1;
    // cutoff[s]: the smallest first key of any later segment.
    let mut cutoff = vec![u64::MAX; segments];
    for s in (0..segments.saturating_sub(1)).rev() {
        let next_first = keys.get(bounds[s + 1]).unwrap_or(u64::MAX);
        cutoff[s] = cutoff[s + 1].min(next_first);
    }
    let mut kept: Vec<Range<usize>> = Vec::new();
    let mut push = |r: Range<usize>| {
        if r.is_empty() {
            return;
        }
        match kept.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => kept.push(r),
        }
    };
    for (first_row, p) in keys.progressions() {
        let rows = first_row..first_row + p.count as usize;
        // The progression may span segment bounds: handle each piece.
        let mut s = bounds.partition_point(|b| *b <= rows.start) - 1;
        let mut from = rows.start;
        while from < rows.end {
            let to = rows.end.min(bounds[s + 1]);
            push(kept_prefix(&p, first_row, from..to, cutoff[s]));
            from = to;
            s += 1;
        }
    }
    kept
}

/// Within rows `piece` of progression `p` (which starts at row `first_row`), the rows whose key
/// is below `cutoff` — a prefix, the keys being increasing.
fn kept_prefix(
    p: &Progression,
    first_row: usize,
    piece: Range<usize>,
    cutoff: u64,
) -> Range<usize> {
    let k0 = (piece.start - first_row) as u64;
    let k1 = (piece.end - first_row) as u64;
    let below = if p.count == 1 || p.stride == 0 {
        if p.start < cutoff { 1 } else { 0 }
    } else if cutoff <= p.start {
        0
    } else {
        (cutoff - p.start).div_ceil(p.stride)
    };
    let end = below.clamp(k0, k1);
    piece.start..piece.start + (end - k0) as usize
}

pub(super) struct Merged {
    pub keys: Progressions,
    pub columns: Vec<ColumnData>,
    pub rows_used: u64,
}

/// Sorts `rows` (the kept rows, ascending) by key (stable) and merges equal keys cell by cell,
/// later rows winning.
pub(super) fn merge_equal_keys(
    keys: &Progressions,
    columns: &[ColumnData],
    rows: Vec<usize>,
) -> Merged {
    let all: Vec<u64> = keys.iter().collect();
    let mut order = rows;
    order.sort_by_key(|&r| all[r]);
    // group[r]: the output row of input row r (u32::MAX: not kept).
    let mut group = vec![u32::MAX; all.len()];
    let mut out_keys = Progressions::new();
    let mut groups = 0usize;
    for g in order.chunk_by(|a, b| all[*a] == all[*b]) {
        out_keys.push(all[g[0]]);
        for &r in g {
            group[r] = groups as u32;
        }
        groups += 1;
    }
    drop(order);
    let mut survives = vec![false; all.len()];
    let mut group_has_winner = vec![false; groups];
    let mut winners: Vec<(u32, usize, f32)> = Vec::new();
    let columns = columns
        .iter()
        .map(|column| {
            winners.clear();
            winners.extend(
                column
                    .present()
                    .filter(|(r, _)| group[*r] != u32::MAX)
                    .map(|(r, v)| (group[r], r, v)),
            );
            // Stable by group: rows of one group stay in file order; the last one wins.
            winners.sort_by_key(|w| w.0);
            let mut last: Vec<(usize, f32)> = Vec::new();
            for same in winners.chunk_by(|a, b| a.0 == b.0) {
                let Some(&(g, r, v)) = same.last() else {
                    continue;
                };
                survives[r] = true;
                group_has_winner[g as usize] = true;
                last.push((g as usize, v));
            }
            ColumnData::from_present(groups, column.keeps_values(), last.into_iter())
        })
        .collect();
    // A row with no value at all still "survives" when its key has no value either.
    let rows_used =
        survives.iter().filter(|s| **s).count() + group_has_winner.iter().filter(|w| !**w).count();
    Merged {
        keys: out_keys,
        columns,
        rows_used: rows_used as u64,
    }
}
