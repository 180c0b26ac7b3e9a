//! Did the loss descend at all? A run whose loss is flat from step 0, or rises during warmup and
//! then stays pinned, has not learned; calling it "healthy: descended from 11.09 to 11.09" is the
//! wrong story (DESIGN §6 `no-descent`, verdict `stalled`).
//!
//! On the detector's de-spiked block medians: the **descent** is the highest smoothed level up to
//! the smoothed minimum after warmup, minus that minimum. It is *significant* when it is at least
//! 5% of the highest level's magnitude and at least 6 noise σ (σ from second differences of the
//! block medians, so a trend does not inflate it). Without a significant descent the run gets a
//! `no-descent` finding (warning).
//!
//! **Uniform-output collapse**: a K-way softmax cross-entropy (DINO, iBOT, SwAV) whose outputs
//! are uniform has loss exactly `ln K`. When the level over the second half of the run is within
//! 0.002 of `ln K` for a K the head plausibly has (a power of two, or 10, 100, 1000 … 10,000 and
//! their multiples of 1000), and it varies by less than 0.1% of itself, the finding is an error
//! naming the uniform-output level (Caron et al. 2021, DINO §5: collapse to the uniform
//! distribution, which centering alone produces without sharpening).

use serde_json::json;

use crate::human;
use crate::model::{Series, round_reported};
use crate::stats::changepoint::noise_variance;
use crate::stats::smooth::median;

use super::finding::{Code, Finding, Severity};
use super::playbook::{self, Context};
use super::rebound::Prepared;

/// Least descent, as a share of the highest level, that counts as having descended.
pub const MIN_DESCENT_SHARE: f64 = 0.05;

/// The descent of a prepared loss: (highest smoothed level before the minimum, the minimum, σ).
pub fn descent(prepared: &Prepared, warmup_end: Option<u64>) -> Option<(f64, f64, f64)> {
    let b = prepared.smoothed.len();
    if b < 8 {
        return None;
    }
    let first = prepared.blocks.first_step[0];
    let last = prepared.blocks.last_step[b - 1];
    let warm = warmup_end.unwrap_or(first + (last - first) / 20);
    let from = prepared
        .blocks
        .first_at_or_after(warm)
        .unwrap_or(0)
        .min(b - 1);
    let m = (from..b).min_by(|i, j| prepared.smoothed[*i].total_cmp(&prepared.smoothed[*j]))?;
    let high = prepared.smoothed[..=m]
        .iter()
        .chain(prepared.cleaned[..(b / 50).max(1)].iter())
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    Some((
        high,
        prepared.smoothed[m],
        noise_variance(&prepared.cleaned).sqrt(),
    ))
}

/// Whether the loss descended significantly (see the module doc).
pub fn descended(prepared: &Prepared, warmup_end: Option<u64>) -> bool {
    match descent(prepared, warmup_end) {
        Some((high, min, sigma)) => {
            let d = high - min;
            d >= MIN_DESCENT_SHARE * high.abs() && d >= 6.0 * sigma
        }
        None => true,
    }
}

/// `K` when `level` is `ln K` of a plausible K-way softmax.
pub fn uniform_level(level: f64) -> Option<u64> {
    if !(0.5..=16.0).contains(&level) {
        return None;
    }
    let k = level.exp();
    let mut candidates = vec![2f64.powf(k.log2().round())];
    let decade = 10f64.powf(k.log10().round());
    candidates.push(decade);
    if (1000.0..=10_000.0).contains(&k) {
        candidates.push((k / 1000.0).round() * 1000.0);
    }
    candidates
        .into_iter()
        .filter(|c| *c >= 2.0)
        .find(|c| (c.ln() - level).abs() <= 0.002)
        .map(|c| c.round() as u64)
}

/// The `no-descent` finding, when the loss never fell significantly.
pub fn no_descent(ctx: &Context, jepa: &Series, prepared: &Prepared) -> Option<Finding> {
    if descended(prepared, ctx.warmup.map(|w| w.end_step)) {
        return None;
    }
    let (high, min, sigma) = descent(prepared, ctx.warmup.map(|w| w.end_step))?;
    let b = prepared.cleaned.len();
    let half = &prepared.cleaned[b / 2..];
    let level = median(half);
    let mut deviations: Vec<f64> = half.iter().map(|v| (v - level).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let spread = 1.4826 * median(&deviations);
    let uniform = uniform_level(level).filter(|_| spread <= 1e-3 * level.abs());
    let first = prepared.blocks.first_step[0];
    let last = prepared.blocks.last_step[b - 1];
    let start = prepared.cleaned[0];
    let (severity, message) = match uniform {
        Some(k) => (
            Severity::Error,
            format!(
                "{} never descended: it sits at {} = ln {k}, the loss of uniform outputs over {k} classes / prototypes — uniform-output collapse (the head predicts the same flat distribution for every input)",
                jepa.name,
                human::value(level)
            ),
        ),
        None => (
            Severity::Warning,
            format!(
                "{} never descended significantly: it starts at {} and stays around {} (at most {} below its highest level {}, under 5%): the run is not learning",
                jepa.name,
                human::value(start),
                human::value(level),
                human::value((high - min).max(0.0)),
                human::value(high)
            ),
        ),
    };
    let mut f = Finding::new(Code::NoDescent, severity, message)
        .series(&jepa.name)
        .steps(Some(first), Some(last))
        .evidence(json!({
            "start": round_reported(start),
            "highest": round_reported(high),
            "minimum": round_reported(min),
            "level": round_reported(level),
            "descent": round_reported(high - min),
            "noise_sigma": round_reported(sigma),
            "uniform_classes": uniform,
            "uniform_level": uniform.map(|k| round_reported((k as f64).ln())),
        }))
        .because(format!(
            "descent {} (highest smoothed level before the minimum after warmup − the minimum) is under max(5% of {}, 6σ = {})",
            human::value(high - min),
            human::value(high),
            human::value(6.0 * sigma)
        ));
    if uniform.is_some() {
        f = f.because(
            "a K-way softmax cross-entropy equals ln K exactly when the outputs are uniform",
        );
        f.recommendations.push("Collapse to uniform outputs: check the teacher temperature and its warmup, the centering momentum and the sharpening (a teacher temperature too high or centering without sharpening gives a uniform output); lower the LR or lengthen warmup if the loss rose during warmup.".into());
    }
    f.recommendations.push(playbook::raise_lr(ctx));
    f.recommendations.push(playbook::watch_features(ctx));
    Some(f)
}
