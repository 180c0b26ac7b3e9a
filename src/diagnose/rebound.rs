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
//!
//! Files: steps 1–2 in `prepare`, steps 3–5 here, step 6 in `reg_trend`; the report section's
//! types in `section`, its sentences in `explain`.

mod explain;
mod prepare;
mod reg_trend;
mod section;

pub use prepare::{
    MIN_POINTS, Prepared, SPIKE_SIGMAS, hampel_half_window, prepare, prepare_values,
};
pub use section::{Power, Rebound, RegTrend, RegTrendDetail, RiseTestDetail, Warmup, WarmupSource};

use crate::human;
use crate::model::{Series, StepAxis};
use crate::stats::blocks;
use crate::stats::changepoint::{MeanShift, changepoints, flat_then_rise, hinge, noise_variance};
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

/// The whole decision on prepared values (no regularization series): what
/// `tests/calibration.rs` runs on simulated trend-free series. `warmup_end_step` as in [`detect`].
pub fn decide_prepared(
    prepared: &Prepared,
    warmup_end_step: u64,
    settings: &ReboundSettings,
) -> Rebound {
    let warmup = Warmup {
        end_step: warmup_end_step,
        source: WarmupSource::Flag,
    };
    decide("loss", None, Some(warmup), settings, prepared)
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
    prepared: &Prepared,
) -> Rebound {
    let name = Some(name);
    let b = prepared.blocks.len();
    if prepared.blocks.points < MIN_POINTS {
        let mut out = Rebound::nothing(
            name,
            match prepared.blocks.points {
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
    let steps = &prepared.blocks.steps;
    let (first, last) = (
        prepared.blocks.first_step[0],
        prepared.blocks.last_step[b - 1],
    );
    let run_span = (last - first).max(1) as f64;
    let warmup = warmup.unwrap_or(Warmup {
        end_step: first + (0.05 * run_span).round() as u64,
        source: WarmupSource::Default,
    });
    let mut out = Rebound::nothing(name, "");
    out.warmup = Some(warmup);
    out.block_size = prepared.blocks.block_size();
    out.last_step = Some(last);
    let Some(search_from) = steps.iter().position(|s| *s >= warmup.end_step as f64) else {
        out.summary = format!(
            "the run ends inside warmup (step {}): no minimum to judge yet",
            warmup.end_step
        );
        return out;
    };
    let m = (search_from..b)
        .min_by(|i, j| prepared.smoothed[*i].total_cmp(&prepared.smoothed[*j]))
        .unwrap_or(search_from);
    let min_level = prepared.smoothed[m];
    let start_level = prepared.smoothed[..=m]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let noise = noise_variance(&prepared.cleaned).sqrt();
    let (lo, hi) = rise::within_noise(&prepared.smoothed, m, noise);
    let lo = lo.max(search_from);
    let m = refine_minimum(prepared, m, search_from, (lo, hi));
    let min_step = steps[m].round() as u64;
    let range = [
        prepared.blocks.first_step[lo],
        prepared.blocks.last_step[hi],
    ];
    out.min_step_range = Some(range);
    out.probe_steps = vec![range[0], min_step.clamp(range[0], range[1]), range[1]];
    out.probe_steps.dedup();
    out.min_step = Some(min_step);
    out.min_value = Some(min_level);
    out.start_value = Some(start_level);
    let descent = start_level - min_level;
    let after = b - m;
    let tail = (prepared.span_blocks.round() as usize)
        .max(3)
        .min((after / 2).max(1));
    let end_level = median(&prepared.cleaned[b - tail.min(b)..]);
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
    let post = &prepared.cleaned[m..];
    let post_steps = &steps[m..];
    let rise = rise::assess(
        &prepared.cleaned,
        &prepared.smoothed,
        m,
        search_from,
        prepared.span_blocks,
    );
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
        start_step: prepared.blocks.first_step[m + rise.gap],
        points: post.len() - rise.gap,
        ar1_upper: test.ar1.phi_upper,
        correlation_length: test.ar1.correlation_length(),
        p_trend: test.mk.p,
        p_shift: test.p_shift,
    });
    let (trend, detail) = reg_trend::reg_trend(reg, prepared.blocks.first_step[m], last, settings);
    out.reg_trend_after_min = trend;
    out.reg = detail;

    let rising = test.upward();
    let significant = test.p < settings.alpha;
    let by_shift = test.p_shift < test.mk.p;
    // PELT is only run when there is a significant rise to place.
    let jump = (rising && significant)
        .then(|| {
            persistent_jump(
                post,
                &prepared.smoothed[m..],
                prepared.span_blocks,
                min_level,
                noise,
            )
        })
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
            .map(|k| prepared.blocks.first_step[m + k]);
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
fn refine_minimum(
    prepared: &Prepared,
    m: usize,
    search_from: usize,
    bottom: (usize, usize),
) -> usize {
    if prepared.cleaned.len() < 30 {
        return m;
    }
    let reach = (4.0 * prepared.span_blocks).ceil() as usize;
    let lo = m.saturating_sub(reach).max(search_from);
    let hi = (m + reach + 1).min(prepared.cleaned.len());
    if hi - lo < 7 {
        return m;
    }
    match hinge(&prepared.blocks.steps[lo..hi], &prepared.cleaned[lo..hi], 3) {
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
