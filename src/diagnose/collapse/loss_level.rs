//! Collapse read from the loss alone (DESIGN §6): a JEPA regression-to-target loss (L1/L2 to EMA
//! targets) that ends below 10% of its pre-fall level has collapsed however long the fall took,
//! and a sudden drop to under 10% of the start that lasts is collapse too. Runs that did not
//! collapse bottom out at 15–30% of their start (V-JEPA 0.83 → 0.23, I-JEPA 0.46 → 0.12,
//! data2vec 3.77 → 0.59). [`super`] (collapse) calls this only when no monitor shows the
//! predictions still spread.

use serde_json::json;

use crate::human;
use crate::model::{Series, round_reported};
use crate::stats::smooth::median;

use super::{LOSS_LEVEL_SHARE, Monitor, recommendations};
use crate::diagnose::finding::{Code, Finding, Severity};
use crate::diagnose::playbook::Context;
use crate::diagnose::rebound::Prepared;
use crate::diagnose::shape;

/// The highest smoothed level after warmup and the end level (median of the last 5% of blocks).
pub fn loss_levels(prepared: &Prepared) -> (f64, f64) {
    let b = prepared.cleaned.len();
    let (start, _) = shape::smoothed_range(prepared);
    let end = median(&prepared.cleaned[b - (b / 20).max(3).min(b)..]);
    (start, end)
}

/// A regression-to-target loss that ends below 10% of its pre-fall level.
pub fn by_loss_level(
    ctx: &Context,
    jepa: &Series,
    prepared: &Prepared,
    monitor: Option<&Monitor>,
    drops: &[shape::Drop],
) -> Option<Finding> {
    let b = prepared.cleaned.len();
    if b < 20 || !regression_loss(ctx, jepa) {
        return None;
    }
    let warm = ctx
        .warmup
        .map_or(prepared.blocks.first_step[0], |w| w.end_step);
    let from = prepared
        .blocks
        .first_at_or_after(warm)
        .unwrap_or(0)
        .max(b / 20)
        .min(b - 1);
    let (pre_k, pre) = (from..b)
        .map(|k| (k, prepared.smoothed[k]))
        .max_by(|x, y| x.1.total_cmp(&y.1))?;
    let (_, end) = loss_levels(prepared);
    let tail_min = prepared.smoothed[pre_k..]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    if !(pre > 0.0 && end > 0.0 && tail_min > 0.0) {
        return historical_drop(ctx, jepa, prepared, drops);
    }
    let share = end / pre;
    if share >= LOSS_LEVEL_SHARE {
        return historical_drop(ctx, jepa, prepared, drops);
    }
    let gap = pre - end;
    let fall_start = (pre_k..b)
        .rev()
        .find(|k| prepared.smoothed[*k] >= pre - 0.1 * gap)
        .unwrap_or(pre_k);
    let fall_end = (fall_start..b)
        .find(|k| prepared.smoothed[*k] <= end + 0.1 * gap)
        .unwrap_or(b - 1);
    let (s0, s1) = (
        prepared.blocks.first_step[fall_start],
        prepared.blocks.first_step[fall_end],
    );
    let how = match monitor {
        None => "inferred from the loss alone: no std / variance monitor is logged — log the prediction std (or reg-loss) to confirm".to_string(),
        Some(m) => format!("{} ends at {}", m.series.name, m.describe(m.end())),
    };
    let mut f = Finding::new(
        Code::Collapse,
        Severity::Error,
        format!(
            "{name} fell from {from} to {to} ({of_it} of it, smoothed levels) between steps {s0} and {s1} ({span} steps) and stayed there: a regression-to-target loss this close to zero means the predictions match the targets trivially — collapse ({how})",
            name = jepa.name,
            from = human::value(pre),
            to = human::value(end),
            of_it = human::percent(share),
            span = s1.saturating_sub(s0)
        ),
    )
    .series(&jepa.name)
    .steps(Some(s0), prepared.blocks.last_step.last().copied())
    .evidence(json!({
        "kind": "loss-level",
        "pre_fall_level": round_reported(pre),
        "end_level": round_reported(end),
        "share_of_pre_fall": round_reported(share),
        "fall_start_step": s0,
        "fall_end_step": s1,
        "fall_steps": s1.saturating_sub(s0),
        "monitor": monitor.map(|m| m.series.name.clone()),
        "loss_start": round_reported(pre),
        "loss_end": round_reported(end),
    }))
    .because(format!(
        "end level (median of the last 5% of blocks) {} is {} of the highest smoothed level after warmup {} (< {}); runs that did not collapse bottom out at 15–30% of their start",
        human::value(end),
        human::percent(share),
        human::value(pre),
        human::percent(LOSS_LEVEL_SHARE)
    ));
    f.recommendations = recommendations(ctx);
    Some(f)
}

/// Whether `jepa` is known to be a JEPA regression-to-target loss: a `jepa`-role series, or the
/// loss of a V-JEPA / V-JEPA 2 / I-JEPA log, or of a run with a JEPA params YAML. A bare `loss`
/// column of a generic log may be anything (a cross-entropy falls toward 0 by design).
pub fn regression_loss(ctx: &Context, jepa: &Series) -> bool {
    jepa.role == crate::model::Role::Jepa
        || ctx.params.is_some()
        || matches!(
            ctx.run.input.format.as_str(),
            "vjepa-csv" | "vjepa2-csv" | "ijepa-csv" | "console-log"
        )
}

/// "NAME dropped suddenly at step S (epoch E) from A to B": one wording for a drop, in the
/// sudden-drop finding and in collapse by a drop.
pub fn dropped_suddenly(ctx: &Context, name: &str, drop: &shape::Drop) -> String {
    format!(
        "{name} dropped suddenly at {} from {} to {}",
        ctx.when(drop.step),
        human::value(drop.before),
        human::value(drop.after)
    )
}

/// A sudden level drop to < 10% of the start that lasts (end < 15% of the start).
fn historical_drop(
    ctx: &Context,
    jepa: &Series,
    prepared: &Prepared,
    drops: &[shape::Drop],
) -> Option<Finding> {
    let (start, end) = loss_levels(prepared);
    let drop = drops
        .iter()
        .find(|d| d.after <= 0.1 * start && end <= 0.15 * start)?;
    let mut f = Finding::new(
        Code::Collapse,
        Severity::Error,
        format!(
            "{} ({} of its start) and stayed there: the prediction task became trivial — collapse",
            dropped_suddenly(ctx, &jepa.name, drop),
            human::percent(drop.after / start)
        ),
    )
    .series(&jepa.name)
    .steps(Some(drop.step), prepared.blocks.last_step.last().copied())
    .evidence(json!({
        "kind": "sudden-drop",
        "step": drop.step,
        "before": round_reported(drop.before),
        "after": round_reported(drop.after),
        "loss_start": round_reported(start),
        "loss_end": round_reported(end),
    }))
    .because(
        "a sudden level drop to under 10% of the starting loss that lasts to the end of the run",
    );
    f.recommendations = recommendations(ctx);
    Some(f)
}
