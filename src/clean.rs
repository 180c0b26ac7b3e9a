//! From parsed tables to one clean [`Run`]: global steps, ranks merged, roles assigned.
//!
//! - Global step for (epoch, itr) keys: `(epoch - base) * ipe + itr`, with `base` 1 for the
//!   1-based epochs the JEPA code writes (0 when a log starts at epoch 0). Iterations per epoch
//!   come from `--ipe`, the log's own statement, the params YAML, or else the largest `itr` + 1
//!   (said so in the report: with sparse console lines it underestimates).
//! - Several tables (ranks, or parts of one run) merge by the mean per step and series; the spread
//!   between ranks on the main loss is reported.
//! - Roles come from names unless a flag says otherwise; with only `loss` and `loss-jepa` logged and
//!   `reg_coeff > 0` in the config, the reg-loss is derived as `(loss - loss-jepa) / reg_coeff`.

use crate::error::{IngestError, UsageError};
use crate::ingest::roles::role_from_name;
use crate::ingest::table::{ColumnData, KeyKind, SKIPPED_REASONS_KEPT, Table, split_epoch_itr};
use crate::ingest::{Loaded, Parsed, Source};
use crate::model::{
    InputSummary, Ipe, IpeSource, KindRun, MAX_STEP, MISSING, RankSpread, Role, Run, Series,
    StepAxis, ValueKind, is_missing,
};
use crate::progression::Progressions;
use rayon::prelude::*;

/// Choices that shape the clean run (from flags).
#[derive(Clone, Debug, Default)]
pub struct CleanOptions {
    /// `--ipe`: iterations per epoch.
    pub ipe: Option<u64>,
    pub jepa_col: Option<String>,
    pub reg_col: Option<String>,
    pub loss_col: Option<String>,
}

/// Builds the run from everything that was read.
pub fn clean(loaded: Loaded, opts: &CleanOptions) -> Result<Run, IngestError> {
    let Loaded {
        parsed,
        params,
        notes,
    } = loaded;
    let mut input = InputSummary {
        sources: parsed.iter().map(|(s, _)| s.name.clone()).collect(),
        format: format_label(&parsed),
        config: params.as_ref().map(|p| p.path.clone()),
        warnings: notes,
        ..InputSummary::default()
    };
    let ipe = resolve_ipe(
        &parsed,
        opts.ipe,
        params.as_ref().and_then(|p| p.ipe),
        &mut input,
    );
    input.ipe = ipe;
    input.ranks = count_ranks(&parsed);

    let mut tables = Vec::with_capacity(parsed.len());
    for (source, p) in parsed {
        input.rows.add(&p.table.account);
        input.restarts += p.table.restarts;
        input.lines_ignored += p.lines_ignored;
        for skip in &p.table.skipped {
            if input.skipped.len() < SKIPPED_REASONS_KEPT {
                input.skipped.push(skip.clone());
            }
        }
        input.warnings.extend(p.table.warnings.iter().cloned());
        let steps = global_steps(&p, ipe, &source)?;
        tables.push((steps, p.table));
    }
    input.duplicates_replaced = input.rows.rows_replaced;

    let (steps, mut series, spread) = merge(tables);
    if steps.is_empty() {
        let first = input
            .skipped
            .first()
            .map(|s| format!("; first: {s}"))
            .unwrap_or_default();
        return Err(IngestError::unusable(
            &input.sources.join(", "),
            format!(
                "no usable rows ({} read, {} skipped{first})",
                input.rows.rows_read, input.rows.rows_skipped
            ),
        ));
    }
    input.rank_spread = spread;
    apply_role_overrides(&mut series, opts)?;
    let mut run = Run {
        steps: StepAxis::from_progressions(steps),
        series,
        input,
        params,
    };
    derive_reg(&mut run);
    Ok(run)
}

fn format_label(parsed: &[(Source, Parsed)]) -> String {
    let mut formats: Vec<&str> = parsed.iter().map(|(_, p)| p.format.as_str()).collect();
    formats.dedup();
    match formats.as_slice() {
        [one] => (*one).to_string(),
        _ => "mixed".to_string(),
    }
}

fn count_ranks(parsed: &[(Source, Parsed)]) -> u64 {
    let mut ranks: Vec<u32> = parsed.iter().filter_map(|(s, _)| s.rank).collect();
    ranks.sort_unstable();
    ranks.dedup();
    ranks.len().max(1) as u64
}

/// Decides iterations per epoch for tables keyed by (epoch, itr).
fn resolve_ipe(
    parsed: &[(Source, Parsed)],
    flag: Option<u64>,
    config: Option<u64>,
    input: &mut InputSummary,
) -> Option<Ipe> {
    let keyed: Vec<&Parsed> = parsed
        .iter()
        .map(|(_, p)| p)
        .filter(|p| p.key_kind == KeyKind::EpochItr)
        .collect();
    if keyed.is_empty() {
        return flag
            .or(config)
            .map(|value| Ipe {
                value,
                source: if flag.is_some() {
                    IpeSource::Flag
                } else {
                    IpeSource::Config
                },
            })
            .filter(|i| i.value > 0);
    }
    let max_itr = keyed
        .iter()
        .flat_map(|p| p.table.keys.iter().map(|k| split_epoch_itr(k).1))
        .max()
        .unwrap_or(0);
    let log_hint = keyed.iter().find_map(|p| p.ipe_hint);
    let candidates = [
        (flag, IpeSource::Flag),
        (log_hint, IpeSource::Log),
        (config, IpeSource::Config),
    ];
    for (value, source) in candidates {
        let Some(value) = value.filter(|v| *v > 0) else {
            continue;
        };
        if max_itr < value {
            return Some(Ipe { value, source });
        }
        input.warnings.push(format!(
            "iterations per epoch {value} (from {}) is not above the largest logged itr {max_itr}; ignored",
            match source {
                IpeSource::Flag => "--ipe",
                IpeSource::Log => "the log",
                IpeSource::Config => "the config",
                IpeSource::Inferred => "inference",
            }
        ));
    }
    input.warnings.push(format!(
        "iterations per epoch inferred as {} (largest itr + 1); pass --ipe or a params YAML if not every iteration is logged",
        max_itr + 1
    ));
    Some(Ipe {
        value: max_itr + 1,
        source: IpeSource::Inferred,
    })
}

fn global_steps(
    p: &Parsed,
    ipe: Option<Ipe>,
    source: &Source,
) -> Result<Progressions, IngestError> {
    match p.key_kind {
        KeyKind::Step => Ok(p.table.keys.clone()),
        KeyKind::EpochItr => {
            let ipe = ipe.map_or(1, |i| i.value);
            let base = p
                .table
                .keys
                .first()
                .map_or(1, |k| split_epoch_itr(k).0.min(1));
            // The largest step must fit; then every smaller key maps too.
            if let Some(last) = p.table.keys.last() {
                let (epoch, itr) = split_epoch_itr(last);
                epoch
                    .checked_sub(base)
                    .and_then(|e| e.checked_mul(ipe))
                    .and_then(|s| s.checked_add(itr))
                    .filter(|s| *s <= MAX_STEP)
                    .ok_or_else(|| {
                        IngestError::unusable(
                            &source.name,
                            format!("epoch {epoch} itr {itr} does not map to a global step"),
                        )
                    })?;
            }
            // (epoch, itr) ↦ (epoch − base)·ipe + itr is affine within an epoch, and each
            // progression of keys lies within one epoch (an epoch change jumps by ~2^32).
            Ok(p.table.keys.map_affine(|k| {
                let (epoch, itr) = split_epoch_itr(k);
                (epoch - base) * ipe + itr
            }))
        }
    }
}

type Merged = (Progressions, Vec<Series>, Option<RankSpread>);

/// Merges tables on one step axis: the mean per step and series over the tables that have it,
/// summed in table order. Columns are merged in parallel (each on its own, so the sums are
/// the same to the bit); ranks logging the same steps (the usual case) share one axis without
/// sorting.
fn merge(tables: Vec<(Progressions, Table)>) -> Merged {
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
        sums[at] += f64::from(v);
        counts[at] += 1;
        if let Some(e) = ext.as_mut()
            && v.is_finite()
        {
            let v = f64::from(v);
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
            (sum / f64::from(*n)) as f32
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

/// `--jepa-col` / `--reg-col` / `--loss-col`: the named series takes the role; any other series
/// that had it becomes `other`.
pub fn apply_role_overrides(series: &mut [Series], opts: &CleanOptions) -> Result<(), UsageError> {
    let overrides = [
        (&opts.jepa_col, Role::Jepa, "--jepa-col"),
        (&opts.reg_col, Role::Reg, "--reg-col"),
        (&opts.loss_col, Role::Total, "--loss-col"),
    ];
    for (wanted, role, flag) in overrides {
        let Some(wanted) = wanted else { continue };
        let Some(target) = series.iter().position(|s| &s.name == wanted) else {
            let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
            return Err(UsageError(format!(
                "{flag} '{wanted}' is not a series of this run (series: {})",
                crate::human::names(&names)
            )));
        };
        for (i, s) in series.iter_mut().enumerate() {
            if i == target {
                s.role = role;
                s.note = Some(format!("role {} set by {flag}", role.as_str()));
            } else if s.role == role {
                s.role = Role::Other;
                s.note = Some(format!(
                    "role {} given to '{wanted}' by {flag}",
                    role.as_str()
                ));
            }
        }
    }
    Ok(())
}

/// With `loss` and `loss-jepa` but no reg series, and `reg_coeff > 0` known, derive the reg-loss.
pub fn derive_reg(run: &mut Run) {
    if run.first_with_role(Role::Reg).is_some() {
        return;
    }
    let Some(coeff) = run
        .params
        .as_ref()
        .and_then(|p| p.reg_coeff)
        .filter(|c| *c > 0.0)
    else {
        return;
    };
    let (Some(total), Some(jepa)) = (
        run.first_with_role(Role::Total),
        run.first_with_role(Role::Jepa),
    ) else {
        return;
    };
    let values = total
        .values
        .iter()
        .zip(&jepa.values)
        .map(|(t, j)| {
            if is_missing(*t) || is_missing(*j) {
                MISSING
            } else {
                ((f64::from(*t) - f64::from(*j)) / coeff) as f32
            }
        })
        .collect();
    let note = format!(
        "derived as ({} - {}) / reg_coeff {coeff}",
        total.name, jepa.name
    );
    run.series.push(Series {
        name: "reg-loss (derived)".into(),
        role: Role::Reg,
        values,
        kinds: Vec::new(),
        note: Some(note),
    });
}
