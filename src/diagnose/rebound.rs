//! The rebound detector: does the JEPA loss descend, reach a minimum, and climb back?
//!
//! Method (each step a function of [`crate::stats`]):
//! 1. Reduce the finite points to at most `max_blocks` block medians ([`blocks`]) and replace
//!    spikes with a Hampel filter, so a burst neither creates nor hides a trend.
//! 2. Smooth with the zero-phase debiased EMA (time constant 1/80 of the series unless the user
//!    set `--smoothing`) and take the minimum of the smoothed curve **after warmup** (an early rise
//!    while the learning rate warms up is healthy, DESIGN §1). The flat bottom around it — where
//!    the smoothed level is within the noise of the minimum — is reported as `min_step_range`.
//! 3. After the minimum, skip the selection gap ([`crate::stats::rise`]) and test for a rise with
//!    the persistence-calibrated Mann–Kendall and Pettitt tests ([`crate::stats::persistence`]):
//!    a drift and a persistent jump are both rises; one Bonferroni-combined p-value.
//! 4. Measure the effect: `magnitude = (end − min)/(start − min)`, the share of the descent given
//!    back, with `start` the highest smoothed level before the minimum, `min` the smoothed minimum,
//!    `end` the median of the last smoothing window; and the end against the **plateau** (the
//!    isotonic fit at the minimum) and its **wander**. Sen's slope gives the rate; a flat-then-rise
//!    hinge fit, or for a jump the PELT level shift, gives the onset.
//! 5. A rebound is **detected** when the rise is significant (`p < alpha`, upward), gives back at
//!    least `min_magnitude` of the descent, ends above the plateau by more than its wander, and
//!    the part after the minimum spans at least `min_span_fraction` of the run. A rise carried by
//!    a level shift also needs the segment after the shift to stay above the minimum by more than
//!    the noise. When the test cannot reach `alpha` with the points and persistence at hand, the
//!    report says it lacks power instead of guessing.
//! 6. The regularization series gets the same trend test over the same steps; a direction needs
//!    both `p < alpha` and a change that matters on its own scale (2% of the [0, 1] range for a
//!    V-JEPA reg-loss, 5% of its robust range otherwise): `falling`, `flat`, `rising`, `absent`.
//!
//! Everything here is invariant to shifting or positively scaling the loss (ranks, medians,
//! ratios), which the property tests check.

mod explain;
mod prepare;

pub use prepare::{
    MIN_POINTS, Prepared, SPIKE_SIGMAS, hampel_half_window, prepare, prepare_values,
};

use serde::Serialize;

use crate::human;
use crate::model::{Series, StepAxis, serialize_reported_opt};
use crate::stats::blocks;
use crate::stats::changepoint::{MeanShift, changepoints, flat_then_rise, hinge, noise_variance};
use crate::stats::persistence::persistent_trend;
use crate::stats::rise;
use crate::stats::smooth::median;
use crate::stats::trend::sens_slope_xy;

/// Tunable thresholds of the detector (flags override the defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct ReboundSettings {
    /// Significance level of the rise (two-sided Mann–Kendall p-value).
    pub alpha: f64,
    /// Least share of the descent given back.
    pub min_magnitude: f64,
    /// Least share of the run (in steps) after the minimum.
    pub min_span_fraction: f64,
    /// Resolution of the analysis (see [`blocks`]).
    pub max_blocks: usize,
    /// EMA weight on the raw points (TensorBoard's smoothing); `None` chooses from the length.
    pub smoothing: Option<f64>,
}

impl Default for ReboundSettings {
    fn default() -> Self {
        ReboundSettings {
            alpha: 0.01,
            min_magnitude: 0.05,
            min_span_fraction: 0.05,
            max_blocks: blocks::DEFAULT_MAX_BLOCKS,
            smoothing: None,
        }
    }
}

/// Direction of the regularization series after the minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegTrend {
    Falling,
    Flat,
    Rising,
    Absent,
    /// The monitor burst to collapse and recovered inside the span (set by the diagnosis from
    /// [`crate::diagnose::collapse`]): no single trend describes it.
    Burst,
}

impl RegTrend {
    pub fn as_str(self) -> &'static str {
        match self {
            RegTrend::Falling => "falling",
            RegTrend::Flat => "flat",
            RegTrend::Rising => "rising",
            RegTrend::Absent => "absent",
            RegTrend::Burst => "burst",
        }
    }
}

/// Whether the post-minimum test could reach the significance level at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    Adequate,
    /// Too few points after the minimum: the smallest attainable p-value exceeds alpha.
    Insufficient,
    /// Nothing to test (no minimum before the end, or too little data).
    NotApplicable,
}

/// The trend of the regularization series over the rebound span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegTrendDetail {
    pub series: String,
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub p_value: f64,
    /// Sen-slope change over the span, in the series' units.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub change: f64,
    /// The change that counts as a direction on this series' scale.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub change_threshold: f64,
    pub points: usize,
}

/// Where warmup ends and how that was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Warmup {
    pub end_step: u64,
    pub source: WarmupSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarmupSource {
    /// `--warmup-steps`.
    Flag,
    /// `optimization.warmup × ipe` from the params YAML.
    Config,
    /// Where the logged learning rate first reaches its peak.
    LrColumn,
    /// No information: the first 5% of the run.
    Default,
}

/// The `rebound` section of the report (DESIGN §7), with what led to the decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rebound {
    pub detected: bool,
    pub series: Option<String>,
    pub min_step: Option<u64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub min_value: Option<f64>,
    pub onset_step: Option<u64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub end_value: Option<f64>,
    /// Share of the descent given back: (end − min)/(start − min).
    #[serde(serialize_with = "serialize_reported_opt")]
    pub magnitude: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub p_value: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub slope_per_1k_steps: Option<f64>,
    pub reg_trend_after_min: RegTrend,
    /// Highest smoothed level before the minimum.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub start_value: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub z: Option<f64>,
    /// Points (blocks) after the minimum that the trend test saw.
    pub points_after_min: usize,
    pub power: Power,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub min_attainable_p: Option<f64>,
    pub last_step: Option<u64>,
    pub warmup: Option<Warmup>,
    pub reg: Option<RegTrendDetail>,
    /// Points per block of the analysis (1 = every point).
    pub block_size: usize,
    /// One sentence saying what was seen and why it is or is not a rebound.
    pub summary: String,
    /// Steps `[first, last]` around `min_step` whose smoothed level is within the noise of the
    /// minimum: the flat bottom, where checkpoints are worth probing.
    pub min_step_range: Option<[u64; 2]>,
    /// Checkpoint steps worth a downstream probe: across `min_step_range`, and the end.
    pub probe_steps: Vec<u64>,
    /// The post-descent plateau: the increasing isotonic fit of the smoothed loss at the minimum.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub plateau_value: Option<f64>,
    /// Peak-to-peak of the smoothed loss around that monotone fit after the minimum.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub plateau_wander: Option<f64>,
    /// Where a persistent upward level shift happened, when the rise is a jump.
    pub jump_step: Option<u64>,
    /// How the p-value was computed.
    pub test: Option<RiseTestDetail>,
}

/// The calibrated test behind `p_value` (see [`crate::stats::persistence`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiseTestDetail {
    /// First step of the tested span (the selection gap after the minimum skipped).
    pub start_step: u64,
    /// Blocks tested.
    pub points: usize,
    /// Bias-corrected upper bound of the noise's AR(1) coefficient.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub ar1_upper: f64,
    /// Points per independent point, `(1 + φ)/(1 − φ)`.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub correlation_length: f64,
    /// Mann–Kendall p-value (variance inflated for the persistence).
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub p_trend: f64,
    /// Pettitt level-shift p-value (inflated likewise).
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub p_shift: f64,
}

impl Rebound {
    /// The section when the run has no loss series at all.
    pub fn nothing_found() -> Rebound {
        Rebound::nothing(None, "no loss series found (name one with --jepa-col)")
    }

    fn nothing(series: Option<&str>, summary: impl Into<String>) -> Rebound {
        Rebound {
            detected: false,
            series: series.map(str::to_string),
            min_step: None,
            min_value: None,
            onset_step: None,
            end_value: None,
            magnitude: None,
            p_value: None,
            slope_per_1k_steps: None,
            reg_trend_after_min: RegTrend::Absent,
            start_value: None,
            z: None,
            points_after_min: 0,
            power: Power::NotApplicable,
            min_attainable_p: None,
            last_step: None,
            warmup: None,
            reg: None,
            block_size: 0,
            summary: summary.into(),
            min_step_range: None,
            probe_steps: Vec::new(),
            plateau_value: None,
            plateau_wander: None,
            jump_step: None,
            test: None,
        }
    }
}

/// The whole decision on prepared values (no regularization series): what
/// `tests/calibration.rs` runs on simulated trend-free series. `warmup_end_step` as in [`detect`].
pub fn decide_prepared(p: &Prepared, warmup_end_step: u64, settings: &ReboundSettings) -> Rebound {
    let warmup = Warmup {
        end_step: warmup_end_step,
        source: WarmupSource::Flag,
    };
    decide("loss", None, Some(warmup), settings, p)
}

/// Runs the detector on `jepa`, reading `reg` over the same span. Returns the decision and both
/// series as prepared (reduced, de-spiked, smoothed — each on its own core).
pub fn detect(
    jepa: &Series,
    reg: Option<&Series>,
    axis: &StepAxis,
    warmup: Option<Warmup>,
    settings: &ReboundSettings,
) -> (Rebound, Prepared, Option<Prepared>) {
    let (prepared, reg_prepared) = std::thread::scope(|scope| {
        let reg_job = reg.map(|r| scope.spawn(move || prepare(r, axis, settings)));
        let prepared = prepare(jepa, axis, settings);
        let reg_prepared = reg_job.map(|job| {
            job.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (prepared, reg_prepared)
    });
    let reg_pair = reg.zip(reg_prepared.as_ref());
    let rebound = decide(&jepa.name, reg_pair, warmup, settings, &prepared);
    (rebound, prepared, reg_prepared)
}

fn decide(
    name: &str,
    reg: Option<(&Series, &Prepared)>,
    warmup: Option<Warmup>,
    settings: &ReboundSettings,
    p: &Prepared,
) -> Rebound {
    let name = Some(name);
    let b = p.blocks.len();
    if p.blocks.points < MIN_POINTS {
        let mut out = Rebound::nothing(
            name,
            match p.blocks.points {
                0 => "no finite loss values: nothing to analyse".to_string(),
                n => format!(
                    "only {}: too few to analyse",
                    human::count(n as u64, "finite point")
                ),
            },
        );
        // Too little data is undecided, not a "no".
        out.power = Power::Insufficient;
        return out;
    }
    let steps = &p.blocks.steps;
    let (first, last) = (p.blocks.first_step[0], p.blocks.last_step[b - 1]);
    let run_span = (last - first).max(1) as f64;
    let warmup = warmup.unwrap_or(Warmup {
        end_step: first + (0.05 * run_span).round() as u64,
        source: WarmupSource::Default,
    });
    let mut out = Rebound::nothing(name, "");
    out.warmup = Some(warmup);
    out.block_size = p.blocks.block_size();
    out.last_step = Some(last);
    let Some(search_from) = steps.iter().position(|s| *s >= warmup.end_step as f64) else {
        out.summary = format!(
            "the run ends inside warmup (step {}): no minimum to judge yet",
            warmup.end_step
        );
        return out;
    };
    let m = (search_from..b)
        .min_by(|i, j| p.smoothed[*i].total_cmp(&p.smoothed[*j]))
        .unwrap_or(search_from);
    let min_level = p.smoothed[m];
    let start_level = p.smoothed[..=m]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let noise = noise_variance(&p.cleaned).sqrt();
    let (lo, hi) = rise::within_noise(&p.smoothed, m, noise);
    let lo = lo.max(search_from);
    let m = refine_minimum(p, m, search_from, (lo, hi));
    let min_step = steps[m].round() as u64;
    let range = [p.blocks.first_step[lo], p.blocks.last_step[hi]];
    out.min_step_range = Some(range);
    out.probe_steps = vec![range[0], min_step.clamp(range[0], range[1]), range[1]];
    out.probe_steps.dedup();
    out.min_step = Some(min_step);
    out.min_value = Some(min_level);
    out.start_value = Some(start_level);
    let descent = start_level - min_level;
    let after = b - m;
    let tail = (p.span_blocks.round() as usize)
        .max(3)
        .min((after / 2).max(1));
    let end_level = median(&p.cleaned[b - tail.min(b)..]);
    out.end_value = Some(end_level);
    out.points_after_min = after.saturating_sub(1);
    if descent <= 0.0 {
        out.summary = "the loss never fell below its level at the end of warmup".into();
        return out;
    }
    let magnitude = (end_level - min_level) / descent;
    out.magnitude = Some(magnitude);
    let span_fraction = (last as f64 - steps[m]) / run_span;
    if after < 3 || span_fraction < settings.min_span_fraction {
        out.summary = format!(
            "the minimum is at step {min_step}, {} of the run before its end: still descending or too little left to judge",
            crate::human::percent(span_fraction)
        );
        return out;
    }
    let post = &p.cleaned[m..];
    let post_steps = &steps[m..];
    let rise = rise::assess(&p.cleaned, &p.smoothed, m, search_from, p.span_blocks);
    let test = &rise.test;
    let slope = sens_slope_xy(post_steps, post);
    out.p_value = Some(test.p);
    out.z = Some(test.mk.z);
    out.slope_per_1k_steps = Some(slope * 1000.0);
    out.min_attainable_p = Some(test.min_attainable_p);
    out.power = if test.min_attainable_p < settings.alpha {
        Power::Adequate
    } else {
        Power::Insufficient
    };
    out.plateau_value = Some(rise.plateau_level);
    out.plateau_wander = Some(rise.wander);
    out.test = Some(RiseTestDetail {
        start_step: p.blocks.first_step[m + rise.gap],
        points: post.len() - rise.gap,
        ar1_upper: test.ar1.phi_upper,
        correlation_length: test.ar1.correlation_length(),
        p_trend: test.mk.p,
        p_shift: test.p_shift,
    });
    let (trend, detail) = reg_trend(reg, p.blocks.first_step[m], last, settings);
    out.reg_trend_after_min = trend;
    out.reg = detail;

    let rising = test.upward();
    let significant = test.p < settings.alpha;
    let by_shift = test.p_shift < test.mk.p;
    // PELT is only run when there is a significant rise to place.
    let jump = (rising && significant)
        .then(|| persistent_jump(post, &p.smoothed[m..], p.span_blocks, min_level, noise))
        .flatten();
    let above_wander = end_level - rise.plateau_level > WANDER_MARGIN * rise.wander;
    // Where a rise sets in is only defined when there is one: on a flat stretch the knot of the
    // fit would follow the noise.
    if rising && significant {
        // The rise is a jump when a step describes it better than flat-then-rise.
        let ramp = flat_then_rise(post_steps, post, 2).filter(|h| h.slope_after > 0.0);
        let step_better = jump.is_some_and(|k| ramp.is_none_or(|h| step_sse(post, k) < h.sse));
        out.jump_step = jump
            .filter(|_| step_better)
            .map(|k| p.blocks.first_step[m + k]);
        out.onset_step = if out.jump_step.is_some() {
            out.jump_step
        } else {
            ramp.map(|h| post_steps[h.knot].round() as u64)
        };
    }
    out.detected = rising
        && significant
        && magnitude >= settings.min_magnitude
        && above_wander
        && (!by_shift || jump.is_some())
        && out.power == Power::Adequate;
    out.summary = explain::summary(
        &out,
        settings,
        magnitude,
        rising && significant,
        above_wander,
    );
    out
}

/// Squared error of two levels (the means) split at `k`.
fn step_sse(y: &[f64], k: usize) -> f64 {
    let sse = |s: &[f64]| {
        let m = s.iter().sum::<f64>() / s.len().max(1) as f64;
        s.iter().map(|v| (v - m).powi(2)).sum::<f64>()
    };
    sse(&y[..k]) + sse(&y[k..])
}

/// How far above the plateau a rebound must end, in units of the plateau's wander.
pub const WANDER_MARGIN: f64 = 2.0;

/// A persistent upward level shift after the minimum (DESIGN §5): the first PELT mean-shift
/// changepoint of `post` after which every segment's mean stays above `min_level + noise` and the
/// smoothed curve does not come back within the noise of the minimum. Returns its index in `post`.
fn persistent_jump(
    post: &[f64],
    post_smoothed: &[f64],
    span: f64,
    min_level: f64,
    noise: f64,
) -> Option<usize> {
    let min_size = (span.round() as usize).max(3);
    let mut cuts = changepoints(post, MeanShift::new, min_size, 0.01);
    cuts.push(post.len());
    let mut start = 0;
    let means: Vec<(usize, usize, f64)> = cuts
        .iter()
        .map(|&end| {
            let seg = (start, end, median(&post[start..end]));
            start = end;
            seg
        })
        .collect();
    (1..means.len()).find_map(|i| {
        let (c, _, _) = means[i];
        let stays = means[i..].iter().all(|(_, _, v)| *v > min_level + noise)
            && post_smoothed[c..].iter().all(|v| *v > min_level + noise)
            && means[i].2 > means[i - 1].2 + noise;
        stays.then_some(c)
    })
}

/// Sharpens the smoothed argmin `m`: a symmetric smoother drags the minimum of an asymmetric V
/// toward its gentler side by about `τ·ln((a+c)/2c)` (slopes `−a`, `+c`). A continuous hinge fit on
/// the unsmoothed blocks within four time constants of `m` puts the knot at the kink instead;
/// it is used when it describes a minimum (falling, then not falling). Flat bottoms keep a knot
/// somewhere on the flat, which is where their minimum is anyway.
///
/// The knot must fall inside `bottom`, the contiguous flat bottom around `m` whose smoothed
/// level is within the noise of the minimum ([`rise::within_noise`]), so that `min_step` always
/// lies in `min_step_range`. Between a kink and the smoothed argmin the smoothed curve falls
/// monotonically, so a real kink is inside it; a knot in another dip of a wandering plateau,
/// cut off from the bottom by a hump higher than the noise, is not the minimum's kink.
fn refine_minimum(p: &Prepared, m: usize, search_from: usize, bottom: (usize, usize)) -> usize {
    if p.cleaned.len() < 30 {
        return m;
    }
    let reach = (4.0 * p.span_blocks).ceil() as usize;
    let lo = m.saturating_sub(reach).max(search_from);
    let hi = (m + reach + 1).min(p.cleaned.len());
    if hi - lo < 7 {
        return m;
    }
    match hinge(&p.blocks.steps[lo..hi], &p.cleaned[lo..hi], 3) {
        Some(h)
            if h.slope_before < 0.0
                && h.slope_after >= 0.0
                && (bottom.0..=bottom.1).contains(&(lo + h.knot)) =>
        {
            lo + h.knot
        }
        _ => m,
    }
}

/// The trend of `reg` over steps `[from, to]`, on its prepared blocks (de-spiked block medians)
/// whose centres fall in the span.
fn reg_trend(
    reg: Option<(&Series, &Prepared)>,
    from: u64,
    to: u64,
    settings: &ReboundSettings,
) -> (RegTrend, Option<RegTrendDetail>) {
    let Some((reg, p)) = reg else {
        return (RegTrend::Absent, None);
    };
    let steps = &p.blocks.steps;
    let k0 = steps.partition_point(|s| *s < from as f64);
    let k1 = steps.partition_point(|s| *s <= to as f64);
    if k1.saturating_sub(k0) < MIN_POINTS {
        return (RegTrend::Absent, None);
    }
    let span = &p.cleaned[k0..k1];
    let mk = persistent_trend(span);
    let slope = sens_slope_xy(&steps[k0..k1], span);
    let change = slope * (to - from) as f64;
    let threshold = reg_change_threshold(p);
    let trend = if mk.mk.p >= settings.alpha || change.abs() < threshold {
        RegTrend::Flat
    } else if change > 0.0 {
        RegTrend::Rising
    } else {
        RegTrend::Falling
    };
    let detail = RegTrendDetail {
        series: reg.name.clone(),
        p_value: mk.mk.p,
        change,
        change_threshold: threshold,
        points: span.len(),
    };
    (trend, Some(detail))
}

/// A change that matters for a regularization series: 0.02 when it lives in [0, 1] (V-JEPA's
/// `mean(relu(1 − std))`), else 5% of the 5–95% range of its block medians over the run.
fn reg_change_threshold(p: &Prepared) -> f64 {
    let b = &p.blocks;
    let unit = b.mins.iter().all(|v| *v >= 0.0) && b.maxs.iter().all(|v| *v <= 1.0);
    if unit {
        return 0.02;
    }
    let mut values = b.medians.clone();
    values.sort_by(f64::total_cmp);
    let q = |f: f64| values[((values.len() - 1) as f64 * f).round() as usize];
    (0.05 * (q(0.95) - q(0.05))).max(f64::MIN_POSITIVE)
}
