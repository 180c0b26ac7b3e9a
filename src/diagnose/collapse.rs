//! Collapse, decided by **level** as well as by change (DESIGN §6): a predictor whose outputs lost
//! their spread is collapsed whatever the trend of its monitor, and a regression-to-target loss
//! that ends near zero is collapsed however long the fall took.
//!
//! Every monitor is read on one scale, the *collapse index* `c ∈ [0, 1]` of each de-spiked block
//! median: for V-JEPA's `reg-loss = mean(relu(1 − std))` (values in [0, 1]) `c` is the value
//! itself, so `c ≥ 0.95` is a prediction std ≤ 0.05; for a std / variance / rank monitor where
//! higher means more spread (`pred_var`, `pred_std`) `c = 1 − v / v₀` with `v₀` the median of its
//! first 10% of blocks, so `c ≥ 0.95` is "≤ 5% of its early value". Then:
//!
//! - **Pinned collapse** (error): `c ≥ 0.95` on at least half the blocks after the first 5%, and
//!   the run ends at `c ≥ 0.9` — collapsed from (nearly) the start, so it never *rises*.
//! - **Collapse by change** (error): the run ends at `c ≥ 0.9` after rising ≥ 0.3 from its lowest.
//! - **Transient collapse** (warning): stretches with `c ≥ max(0.8, usual + 0.3)` (the usual
//!   level is the median after the first 5%; merged across gaps shorter than 2% of the run),
//!   starting after the first 5% and after the monitor was below that level, peaking at ≥ 0.9,
//!   holding ≥ 1% of the blocks, after which the monitor falls back below halfway to its usual
//!   level and ends there: the predictions collapsed and recovered. Not recovered by the end:
//!   collapse (error).
//! - **Collapse by the loss level** (error): a regression-to-target JEPA loss (L1/L2 to EMA
//!   targets: a `jepa` series, or the loss of a JEPA log format or of a run with a params YAML)
//!   whose end level (median of the last 5% of blocks) is below 10% of its highest
//!   smoothed level after warmup, however long the fall took. Runs that did not collapse bottom
//!   out at 15–30% of their start (V-JEPA 0.83 → 0.23, I-JEPA 0.46 → 0.12, data2vec 3.77 →
//!   0.59). When a monitor shows the predictions still spread (`c < 0.5` at the end, no
//!   collapse episode) the monitor wins and the fall is not called collapse; with no monitor the
//!   message says the conclusion is inferred from the loss alone.
//!
//! The loss-level rule lives in [`loss_level`] (a submodule).
//!
//! Thresholds follow the V-JEPA reg-loss definition (facebookresearch/jepa, `app/vjepa/train.py`:
//! `reg_fn = mean(relu(1 − sqrt(var + 1e-4)))`).

use serde_json::json;

use crate::human;
use crate::ingest::roles::higher_means_spread;
use crate::model::{Series, round_reported};
use crate::stats::smooth::median;

use super::finding::{Code, Finding, Severity};
use super::playbook::{self, Context};
use super::rebound::Prepared;
use super::shape;
use loss_level::loss_levels;

pub mod loss_level;

/// Collapse index at or above which predictions count as collapsed (std ≤ 5% of healthy).
pub const PINNED: f64 = 0.95;
/// Collapse index of a burst (std ≤ 20%).
pub const BURST: f64 = 0.8;
/// Below this the monitor has recovered.
pub const RECOVERED: f64 = 0.5;
/// A regression-to-target loss ending below this share of its pre-fall level has collapsed.
pub const LOSS_LEVEL_SHARE: f64 = 0.10;

/// A collapse monitor read as a collapse index per block.
pub struct Monitor<'a> {
    pub series: &'a Series,
    pub prepared: &'a Prepared,
    /// `c` per block (see the module doc).
    pub index: Vec<f64>,
    /// True for std / variance monitors (higher = more spread).
    pub spread_sense: bool,
    /// `v₀`, the early level of a spread monitor.
    pub early: Option<f64>,
}

impl<'a> Monitor<'a> {
    /// Reads `series` as a monitor, when its scale is known: a [0, 1] hinge monitor or a
    /// positive spread monitor. `None` for other regularizers (`vc_loss`, `cov_loss`).
    pub fn new(series: &'a Series, prepared: &'a Prepared) -> Option<Monitor<'a>> {
        let b = prepared.cleaned.len();
        if b < 5 {
            return None;
        }
        if higher_means_spread(&series.name) {
            let head = (b / 10).max(3).min(b);
            let early = median(&prepared.cleaned[..head]);
            if !(early > 0.0 && early.is_finite()) {
                return None;
            }
            let index = prepared
                .cleaned
                .iter()
                .map(|v| (1.0 - v / early).clamp(0.0, 1.0))
                .collect();
            return Some(Monitor {
                series,
                prepared,
                index,
                spread_sense: true,
                early: Some(early),
            });
        }
        let b = &prepared.blocks;
        let unit = b.mins.iter().all(|v| *v >= 0.0) && b.maxs.iter().all(|v| *v <= 1.0);
        unit.then(|| Monitor {
            series,
            prepared,
            index: prepared.cleaned.clone(),
            spread_sense: false,
            early: None,
        })
    }

    /// Median collapse index of the last 5% of blocks (at least 3).
    pub fn end(&self) -> f64 {
        let b = self.index.len();
        median(&self.index[b - (b / 20).max(3).min(b)..])
    }

    /// The monitor's own value for a collapse index (for messages).
    fn value_of(&self, c: f64) -> f64 {
        match self.early {
            Some(early) => early * (1.0 - c),
            None => c,
        }
    }

    /// "reg-loss 0.99 (prediction std ≈ 0.01)" or "pred_var 0.01 (3% of its early 0.36)".
    pub fn describe(&self, c: f64) -> String {
        let v = self.value_of(c);
        match self.early {
            Some(early) => format!(
                "{} {} ({} of its early {})",
                self.series.name,
                human::value(v),
                human::percent(v / early),
                human::value(early)
            ),
            None => format!(
                "{} {} (prediction std ≈ {})",
                self.series.name,
                human::value(v),
                human::value((1.0 - v).max(0.0))
            ),
        }
    }

    /// The value alone: "0.957 (prediction std ≈ 0.043)".
    fn describe_value(&self, c: f64) -> String {
        let full = self.describe(c);
        full.strip_prefix(&format!("{} ", self.series.name))
            .map_or(full.clone(), str::to_string)
    }

    fn step(&self, k: usize) -> u64 {
        self.prepared.blocks.first_step[k]
    }

    fn last_step(&self) -> u64 {
        self.prepared.blocks.last_step.last().copied().unwrap_or(0)
    }
}

/// A stretch where the monitor said the predictions had collapsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub first_step: u64,
    pub last_step: u64,
    /// Highest collapse index (de-spiked block median) in the stretch, and the monitor's value.
    pub peak_index: f64,
    pub peak_value: f64,
    pub peak_step: u64,
    /// Blocks at or above [`BURST`].
    pub blocks: usize,
    /// First step after the stretch where the monitor is back below [`RECOVERED`].
    pub recovered_step: Option<u64>,
}

/// The monitor's usual level: the median collapse index after the first 5% of blocks.
pub fn baseline(m: &Monitor) -> f64 {
    let b = m.index.len();
    median(&m.index[b / 20..])
}

/// The level a burst must reach, for a monitor whose usual level is `baseline`: [`BURST`], and
/// at least 0.3 above the usual level (a V-JEPA reg-loss logged with `reg_coeff` 0 sits near
/// 0.85–0.9 in healthy runs).
pub fn burst_level(baseline: f64) -> f64 {
    BURST.max(baseline + 0.3)
}

/// The collapse episodes of a monitor (see the module doc), in step order. A burst must start
/// after the first 5% of the run and after the monitor was below the burst level (a monitor that
/// starts high at initialisation and falls is learning, not recovering).
pub fn episodes(m: &Monitor) -> Vec<Episode> {
    let c = &m.index;
    let b = c.len();
    let base = baseline(m);
    let high = burst_level(base);
    let back = base + 0.5 * (high - base);
    let merge_gap = (b / 40).max(2);
    let Some(was_low) = (0..b).find(|k| c[*k] < high) else {
        return Vec::new();
    };
    let begin = (b / 20).max(was_low);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut k = begin;
    while k < b {
        if c[k] >= high {
            let start = k;
            while k < b && c[k] >= high {
                k += 1;
            }
            match runs.last_mut() {
                Some(last) if start - last.1 <= merge_gap => last.1 = k,
                _ => runs.push((start, k)),
            }
        } else {
            k += 1;
        }
    }
    let min_blocks = (b / 100).max(3);
    runs.into_iter()
        .filter_map(|(a, z)| {
            let count = c[a..z].iter().filter(|v| **v >= high).count();
            let (at, peak) = (a..z)
                .map(|j| (j, c[j]))
                .fold((a, 0.0), |best, x| if x.1 > best.1 { x } else { best });
            (count >= min_blocks && peak >= 0.9).then(|| Episode {
                peak_step: m.step(at),
                first_step: m.step(a),
                last_step: m.prepared.blocks.last_step[z - 1],
                peak_index: peak,
                peak_value: m.value_of(peak),
                blocks: count,
                recovered_step: (z..b).find(|j| c[*j] < back).map(|j| m.step(j)),
            })
        })
        .collect()
}

/// What the monitors and the loss level say about collapse.
pub struct CollapseReading {
    /// The collapse (error) or transient collapse (warning) finding, if any.
    pub finding: Option<Finding>,
    /// Episodes of the monitor that recovered (for the figure and the reg-trend wording).
    pub transient: Vec<Episode>,
}

/// Reads collapse from the monitor (`reg`), then from the loss level. `drops` are the sudden
/// drops of the loss (a drop to < 10% of the start is the historical sudden-collapse rule).
pub fn collapse(
    ctx: &Context,
    jepa: &Series,
    prepared: &Prepared,
    reg: Option<(&Series, &Prepared)>,
    drops: &[shape::Drop],
) -> CollapseReading {
    let monitor = reg.and_then(|(s, rp)| Monitor::new(s, rp));
    let mut out = CollapseReading {
        finding: None,
        transient: Vec::new(),
    };
    if let Some(m) = &monitor {
        if let Some(f) = by_monitor_level(ctx, jepa, prepared, m) {
            out.finding = Some(f);
            return out;
        }
        let found = episodes(m);
        let end = m.end();
        let base = baseline(m);
        if let Some(last) = found.last()
            && end >= base + 0.5 * (burst_level(base) - base)
        {
            out.finding = Some(unrecovered(ctx, m, last, end));
            return out;
        }
        out.transient = found.clone();
        if !found.is_empty() {
            out.finding = Some(transient(ctx, m, &found));
            return out;
        }
    }
    let spread_shown = monitor
        .as_ref()
        .is_some_and(|m| m.end() < RECOVERED && out.transient.is_empty());
    if !spread_shown {
        out.finding = loss_level::by_loss_level(ctx, jepa, prepared, monitor.as_ref(), drops);
    }
    out
}

/// Pinned or risen to collapse, by the monitor.
fn by_monitor_level(
    ctx: &Context,
    jepa: &Series,
    prepared: &Prepared,
    m: &Monitor,
) -> Option<Finding> {
    let c = &m.index;
    let b = c.len();
    let from = b / 20;
    let after = &c[from..];
    let pinned_share = after.iter().filter(|v| **v >= PINNED).count() as f64 / after.len() as f64;
    let end = m.end();
    let lowest = m
        .prepared
        .smoothed
        .iter()
        .map(|v| match m.early {
            Some(e) => (1.0 - v / e).clamp(0.0, 1.0),
            None => *v,
        })
        .fold(f64::INFINITY, f64::min);
    let pinned = pinned_share >= 0.5 && end >= 0.9;
    let risen = end >= 0.9 && end - lowest >= 0.3;
    let spread_gone = m.spread_sense && end >= PINNED;
    if !(pinned || risen || spread_gone) {
        return None;
    }
    let (start, loss_end) = loss_levels(prepared);
    // Where it collapsed: the first block at 0.9 when pinned; else where, after its lowest
    // point, the monitor is past halfway from the lowest to the end level.
    let lowest_at = (0..b)
        .min_by(|x, y| m.prepared.smoothed[*x].total_cmp(&m.prepared.smoothed[*y]))
        .unwrap_or(0);
    let first_high = if pinned {
        (from..b).find(|k| c[*k] >= 0.9).unwrap_or(from)
    } else {
        let smoothed_index = |k: usize| match m.early {
            Some(e) => (1.0 - m.prepared.smoothed[k] / e).clamp(0.0, 1.0),
            None => m.prepared.smoothed[k],
        };
        let half = lowest + 0.5 * (end - lowest);
        let range = if m.spread_sense { 0..b } else { lowest_at..b };
        range
            .into_iter()
            .find(|k| smoothed_index(*k) >= half)
            .unwrap_or(from)
    };
    let message = if pinned {
        format!(
            "{} sits at the collapse level from {} to the end ({} on {} of the run): {} — the predictions have no spread; {} falling from {} to {} (smoothed) is the collapsed predictor matching the targets trivially — collapse",
            m.series.name,
            ctx.when(m.step(first_high)),
            if m.spread_sense {
                "≤ 5% of its early level".to_string()
            } else {
                format!("≥ {PINNED}")
            },
            human::percent(pinned_share),
            m.describe(end),
            jepa.name,
            human::value(start),
            human::value(loss_end)
        )
    } else {
        format!(
            "{} ended at {} after a low of {}: the predictions' spread is gone — collapse; {} went from {} to {} (smoothed)",
            m.series.name,
            m.describe_value(end),
            human::value(m.value_of(lowest)),
            jepa.name,
            human::value(start),
            human::value(loss_end)
        )
    };
    let mut f = Finding::new(Code::Collapse, Severity::Error, message)
        .series(&m.series.name)
        .steps(Some(m.step(first_high)), Some(m.last_step()))
        .evidence(json!({
            "kind": if pinned { "pinned" } else { "risen" },
            "monitor": m.series.name,
            "monitor_end": round_reported(m.value_of(end)),
            "collapse_index_end": round_reported(end),
            "implied_std": (!m.spread_sense).then(|| round_reported((1.0 - m.value_of(end)).max(0.0))),
            "share_of_run_pinned": round_reported(pinned_share),
            "reg_end": round_reported(m.value_of(end)),
            "reg_lowest": round_reported(m.value_of(lowest)),
            "loss_start": round_reported(start),
            "loss_end": round_reported(loss_end),
        }))
        .because(if m.spread_sense {
            format!(
                "{} is a spread monitor (higher = more spread): it ends at {} of its early level {} (≤ 5% is collapse)",
                m.series.name,
                human::percent(1.0 - end),
                human::value(m.early.unwrap_or(f64::NAN))
            )
        } else {
            format!(
                "{} = mean(relu(1 − std)) lives in [0, 1]: ≥ {PINNED} on {} of the blocks after the first 5%, ends at {} (collapse when held ≥ 0.95 over most of the run, or ending ≥ 0.9 after rising ≥ 0.3)",
                m.series.name,
                human::percent(pinned_share),
                human::value(end)
            )
        });
    f.recommendations = recommendations(ctx);
    Some(f)
}

/// The monitor collapsed in a burst and had not recovered by the end.
fn unrecovered(ctx: &Context, m: &Monitor, e: &Episode, end: f64) -> Finding {
    let mut f = Finding::new(
        Code::Collapse,
        Severity::Error,
        format!(
            "{} collapsed at {} (peak {}) and has not recovered: it ends at {} — collapse",
            m.series.name,
            ctx.when(e.first_step),
            human::value(e.peak_value),
            m.describe(end)
        ),
    )
    .series(&m.series.name)
    .steps(Some(e.first_step), Some(m.last_step()))
    .evidence(json!({
        "kind": "unrecovered",
        "monitor": m.series.name,
        "peak": round_reported(e.peak_value),
        "monitor_end": round_reported(m.value_of(end)),
    }))
    .because(format!(
        "a stretch at collapse index ≥ {BURST} with no return below {RECOVERED} before the end"
    ));
    f.recommendations = recommendations(ctx);
    f
}

/// Bursts that recovered: a transient collapse (warning).
fn transient(ctx: &Context, m: &Monitor, found: &[Episode]) -> Finding {
    let first = &found[0];
    let last = &found[found.len() - 1];
    let peak = found
        .iter()
        .max_by(|a, b| a.peak_index.total_cmp(&b.peak_index))
        .unwrap_or(first);
    let recovered = last.recovered_step.unwrap_or(last.last_step);
    let blocks: usize = found.iter().map(|e| e.blocks).sum();
    let steps_high = blocks * m.prepared.blocks.block_size().max(1);
    let mut f = Finding::new(
        Code::Collapse,
        Severity::Warning,
        format!(
            "{} burst to {} at {}, at ≥ {} for ~{} steps between steps {} and {}: a transient collapse, recovered at step {recovered}",
            m.series.name,
            m.describe_value(peak.peak_index),
            ctx.when(peak.peak_step),
            human::value(m.value_of(BURST)),
            steps_high,
            first.first_step,
            last.last_step,
        ),
    )
    .series(&m.series.name)
    .steps(Some(first.first_step), Some(recovered))
    .evidence(json!({
        "kind": "transient",
        "monitor": m.series.name,
        "peak": round_reported(peak.peak_value),
        "peak_step": peak.peak_step,
        "recovered_step": recovered,
        "steps_collapsed": steps_high,
        "episodes": found.iter().map(|e| json!({
            "first_step": e.first_step, "last_step": e.last_step, "peak_step": e.peak_step,
            "peak": round_reported(e.peak_value), "recovered_step": e.recovered_step,
        })).collect::<Vec<_>>(),
    }))
    .because(format!(
        "stretches at collapse index ≥ {BURST} peaking ≥ 0.9, then back below {RECOVERED} to the end"
    ));
    f.recommendations.push(playbook::explore_lr(ctx));
    f.recommendations.push(playbook::explore_ema(ctx));
    f.recommendations.push(playbook::watch_features(ctx));
    f
}

/// The playbook for a collapse.
pub(super) fn recommendations(ctx: &Context) -> Vec<String> {
    vec![
        playbook::watch_features(ctx),
        playbook::architecture(ctx),
        playbook::explore_lr(ctx),
        playbook::explore_ema(ctx),
    ]
}
