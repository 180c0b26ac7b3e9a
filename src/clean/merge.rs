//! Several tables on one step axis (ranks, or parts of one run, DESIGN §4): the mean per step and
//! series over the tables that have a value, summed in table order, and the spread between ranks
//! on the main loss ([`RankSpread`]). Step 2 of [`super::clean`], after each table's global steps.

use crate::ingest::roles::role_from_name;
use crate::ingest::table::{ColumnData, Table};
use crate::model::{
    KindRun, MISSING, RankSpread, Role, Series, ValueKind, is_missing, narrow, widen,
};
use crate::progression::Progressions;
use rayon::prelude::*;

pub(super) type Merged = (Progressions, Vec<Series>, Option<RankSpread>);

/// Merges tables on one step axis: the mean per step and series over the tables that have it,
/// summed in table order. Columns are merged in parallel (each on its own, so the sums are
/// the same to the bit); ranks logging the same steps (the usual case) share one axis without
/// sorting.
pub(super) fn merge(tables: Vec<(Progressions, Table)>) -> Merged {
    if tables.len() == 1 {
        let (steps, table) = tables.into_iter().next().unwrap_or_default();
        let series = into_series(table.names, table.columns, steps.len());
        return (steps, series, None);
    }
    let axis = union_of_steps(&tables);
    let axis_steps = Progressions::from_values(&axis);
    // Each table's row → axis index; `None` when the table's steps are the axis.
    let positions: Vec<Option<Vec<usize>>> = tables
        .par_iter()
        .map(|(steps, _)| (*steps != axis_steps).then(|| positions_on(&axis, steps)))
        .collect();
    let mut names: Vec<String> = Vec::new();
    let mut keep_values: Vec<bool> = Vec::new();
    for (_, t) in &tables {
        for (n, c) in t.names.iter().zip(&t.columns) {
            match names.iter().position(|x| x == n) {
                Some(i) => keep_values[i] &= c.keeps_values(),
                None => {
                    names.push(n.clone());
                    keep_values.push(c.keeps_values());
                }
            }
        }
    }
    let primary = primary_loss_name(&names);
    let merged: Vec<(ColumnData, Option<Extremes>)> = names
        .par_iter()
        .zip(&keep_values)
        .enumerate()
        .map(|(n, (name, keep))| {
            let sources = tables.iter().zip(&positions).filter_map(|((_, t), at)| {
                let c = t.names.iter().position(|x| x == name)?;
                Some((&t.columns[c], at.as_deref()))
            });
            merge_column(sources, axis.len(), *keep, primary == Some(n))
        })
        .collect();
    let (columns, extremes): (Vec<ColumnData>, Vec<Option<Extremes>>) = merged.into_iter().unzip();
    let spread = primary.and_then(|n| {
        let e = extremes[n].as_ref()?;
        rank_spread(&names[n], &axis, &e.lows, &e.highs, &e.finite_counts)
    });
    (axis_steps, into_series(names, columns, axis.len()), spread)
}

/// Every step of the tables once, ascending. Ranks usually log the same steps: then it is the
/// first table's steps as they are.
fn union_of_steps(tables: &[(Progressions, Table)]) -> Vec<u64> {
    if let Some((first, _)) = tables.first()
        && first.is_strictly_increasing()
        && tables.iter().all(|(s, _)| s == first)
    {
        return first.iter().collect();
    }
    let mut axis: Vec<u64> = tables.iter().flat_map(|(s, _)| s.iter()).collect();
    axis.par_sort_unstable();
    axis.dedup();
    axis
}

/// The lowest and highest finite value per step, and how many ranks had one (the rank spread).
struct Extremes {
    lows: Vec<f64>,
    highs: Vec<f64>,
    finite_counts: Vec<u32>,
}

/// One merged column: the mean per axis step over `sources` (a table's column and its rows'
/// axis indices, `None` meaning row i is step i), in their order; with `extremes`, also the
/// spread between them.
fn merge_column<'a>(
    sources: impl Iterator<Item = (&'a ColumnData, Option<&'a [usize]>)>,
    steps: usize,
    keep_values: bool,
    extremes: bool,
) -> (ColumnData, Option<Extremes>) {
    let mut sums = vec![0f64; steps];
    let mut counts = vec![0u32; steps];
    let mut ext = extremes.then(|| Extremes {
        lows: vec![f64::INFINITY; steps],
        highs: vec![f64::NEG_INFINITY; steps],
        finite_counts: vec![0; steps],
    });
    let mut add = |row: usize, at: Option<&[usize]>, v: f32| {
        if is_missing(v) {
            return;
        }
        let at = at.map_or(row, |p| p[row]);
        sums[at] += widen(v);
        counts[at] += 1;
        if let Some(e) = ext.as_mut()
            && v.is_finite()
        {
            let v = widen(v);
            e.lows[at] = e.lows[at].min(v);
            e.highs[at] = e.highs[at].max(v);
            e.finite_counts[at] += 1;
        }
    };
    for (column, at) in sources {
        match column {
            ColumnData::Values(v) => v.iter().enumerate().for_each(|(i, v)| add(i, at, *v)),
            // Kinds merge through a representative value: any non-finite rank makes the mean so.
            other => other.present().for_each(|(i, v)| add(i, at, v)),
        }
    }
    let means = sums.iter().zip(&counts).map(|(sum, n)| {
        if *n == 0 {
            MISSING
        } else {
            narrow(sum / f64::from(*n))
        }
    });
    let column = if keep_values {
        ColumnData::Values(means.collect())
    } else {
        ColumnData::Kinds(means.map(|v| ValueKind::of(v) as u8).collect())
    };
    (column, ext)
}

/// Index on `axis` of each of `steps` (both sorted; every step is on the axis).
fn positions_on(axis: &[u64], steps: &Progressions) -> Vec<usize> {
    let mut out = Vec::with_capacity(steps.len());
    let mut i = 0;
    for s in steps.iter() {
        while axis[i] < s {
            i += 1;
        }
        out.push(i);
    }
    out
}

fn rank_spread(
    name: &str,
    axis: &[u64],
    lows: &[f64],
    highs: &[f64],
    counts: &[u32],
) -> Option<RankSpread> {
    let mut ranges: Vec<(f64, u64)> = (0..axis.len())
        .filter(|&i| counts[i] >= 2)
        .map(|i| (highs[i] - lows[i], axis[i]))
        .collect();
    if ranges.is_empty() {
        return None;
    }
    let (max_range, max_range_step) = ranges
        .iter()
        .copied()
        .fold((f64::NEG_INFINITY, 0), |a, b| if b.0 > a.0 { b } else { a });
    let steps_compared = ranges.len() as u64;
    let mid = ranges.len() / 2;
    ranges.select_nth_unstable_by(mid, |a, b| a.0.total_cmp(&b.0));
    Some(RankSpread {
        series: name.to_string(),
        steps_compared,
        median_range: ranges[mid].0,
        max_range,
        max_range_step,
    })
}

/// The series whose rank spread is reported: the JEPA loss, else the total loss.
fn primary_loss_name(names: &[String]) -> Option<usize> {
    let by_role = |role: Role| names.iter().position(|n| role_from_name(n) == role);
    by_role(Role::Jepa).or_else(|| by_role(Role::Total))
}

/// Series of `rows` steps from table columns: kept values dense on the axis, kinds as runs.
fn into_series(names: Vec<String>, columns: Vec<ColumnData>, rows: usize) -> Vec<Series> {
    names
        .into_iter()
        .zip(columns)
        .map(|(name, data)| {
            let (values, kinds) = match data {
                ColumnData::Values(v) => (v, Vec::new()),
                ColumnData::Sparse {
                    kinds_only: false, ..
                } => (data.dense_values(rows), Vec::new()),
                // One tight pass over a dense column's kind bytes (10M rows in the CSV path).
                ColumnData::Kinds(k) => (
                    Vec::new(),
                    KindRun::encode(
                        (k.iter().enumerate()).map(|(i, b)| (i, ValueKind::from_byte(*b))),
                    ),
                ),
                kinds => (
                    Vec::new(),
                    KindRun::encode(kinds.present().map(|(i, v)| (i, ValueKind::of(v)))),
                ),
            };
            Series {
                role: role_from_name(&name),
                name,
                values,
                kinds,
                note: None,
            }
        })
        .collect()
}
