//! Step 6 of the rebound detector ([`super`]): the regularization series's trend over the steps
//! after the JEPA minimum, with the same persistence-calibrated test, and the change that counts
//! as a direction on that series's own scale.

use super::ReboundSettings;
use super::prepare::{MIN_POINTS, Prepared};
use super::section::{RegTrend, RegTrendDetail};
use crate::model::Series;
use crate::stats::persistence::persistent_trend;
use crate::stats::trend::sens_slope_xy;

/// The trend of `reg` over steps `[from, to]`, on its prepared blocks (de-spiked block medians)
/// whose centres fall in the span.
pub(super) fn reg_trend(
    reg: Option<(&Series, &Prepared)>,
    from: u64,
    to: u64,
    settings: &ReboundSettings,
) -> (RegTrend, Option<RegTrendDetail>) {
    let Some((series, prepared)) = reg else {
        return (RegTrend::Absent, None);
    };
    let steps = &prepared.blocks.steps;
    let k0 = steps.partition_point(|s| *s < from as f64);
    let k1 = steps.partition_point(|s| *s <= to as f64);
    if k1.saturating_sub(k0) < MIN_POINTS {
        return (RegTrend::Absent, None);
    }
    let span = &prepared.cleaned[k0..k1];
    let mk = persistent_trend(span);
    let slope = sens_slope_xy(&steps[k0..k1], span);
    let change = slope * (to - from) as f64;
    let threshold = reg_change_threshold(prepared);
    let trend = if mk.mk.p >= settings.alpha || change.abs() < threshold {
        RegTrend::Flat
    } else if change > 0.0 {
        RegTrend::Rising
    } else {
        RegTrend::Falling
    };
    let detail = RegTrendDetail {
        series: series.name.clone(),
        p_value: mk.mk.p,
        change,
        change_threshold: threshold,
        points: span.len(),
    };
    (trend, Some(detail))
}

/// A change that matters for a regularization series: 0.02 when it lives in [0, 1] (V-JEPA's
/// `mean(relu(1 − std))`), else 5% of the 5–95% range of its block medians over the run.
fn reg_change_threshold(prepared: &Prepared) -> f64 {
    let b = &prepared.blocks;
    let unit = b.mins.iter().all(|v| *v >= 0.0) && b.maxs.iter().all(|v| *v <= 1.0);
    if unit {
        return 0.02;
    }
    let mut values = b.medians.clone();
    values.sort_by(f64::total_cmp);
    let q = |f: f64| values[((values.len() - 1) as f64 * f).round() as usize];
    (0.05 * (q(0.95) - q(0.05))).max(f64::MIN_POSITIVE)
}
