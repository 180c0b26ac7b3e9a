//! From parsed tables to one clean [`Run`]: global steps, ranks merged, roles assigned.
//!
//! - Global step for (epoch, itr) keys: `(epoch - base) * ipe + itr`, with `base` 1 for the
//!   1-based epochs the JEPA code writes (0 when a log starts at epoch 0). Iterations per epoch
//!   come from `--ipe`, the log's own statement, the params YAML, or else the largest `itr` + 1
//!   (said so in the report: with sparse console lines it underestimates).
//! - Parts of a resumed run in separate logs: a later part replaces the earlier ones' rows from
//!   its first step on (`parts`), as a restart inside one log does.
//! - Several tables (ranks, or parts of one run) merge by the mean per step and series; the spread
//!   between ranks on the main loss is reported (`merge`).
//! - Roles come from names unless a flag says otherwise; with only `loss` and `loss-jepa` logged and
//!   `reg_coeff > 0` in the config, the reg-loss is derived as `(loss - loss-jepa) / reg_coeff`.

mod merge;
pub mod parts;

use crate::error::{IngestError, UsageError};
use crate::ingest::table::{KeyKind, SKIPPED_REASONS_KEPT, split_epoch_itr};
use crate::ingest::{Loaded, Parsed, Source};
use crate::model::{
    InputSummary, Ipe, IpeSource, MAX_STEP, MISSING, Role, Run, Series, StepAxis, is_missing,
    narrow, widen,
};
use crate::progression::Progressions;
use merge::merge;
use parts::replace_resumed_overlaps;

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
    let mut sources = Vec::with_capacity(parsed.len());
    for (source, p) in parsed {
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
        sources.push(source);
    }
    let resumed = replace_resumed_overlaps(&mut tables, &sources);
    input.restarts += resumed.len() as u64;
    input.warnings.extend(resumed);
    for (_, table) in &tables {
        input.rows.add(&table.account);
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
                narrow((widen(*t) - widen(*j)) / coeff)
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
