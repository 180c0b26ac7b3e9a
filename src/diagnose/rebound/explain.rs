//! The rebound decision in words: the one-sentence summary and the `--explain` lines saying what
//! the p-value means and how the minimum's selection was handled.

use super::{Power, Rebound, ReboundSettings, WANDER_MARGIN};
use crate::human;

/// The one-sentence summary of a decided rebound section.
pub(super) fn summary(
    out: &Rebound,
    settings: &ReboundSettings,
    magnitude: f64,
    rising_significant: bool,
    above_wander: bool,
) -> String {
    let min_step = out.min_step.unwrap_or(0);
    let pct = human::percent(magnitude);
    let pv = human::p_eq(out.p_value.unwrap_or(1.0));
    if out.detected {
        return match out.jump_step.filter(|j| Some(*j) == out.onset_step) {
            Some(jump) => format!(
                "the loss fell to its minimum at step {min_step}, then jumped up at step {jump} and stayed up, {pct} of its descent given back ({pv})"
            ),
            None => format!(
                "the loss fell to its minimum at step {min_step}, then rose back {pct} of its descent ({pv})"
            ),
        };
    }
    if out.power == Power::Insufficient {
        let detail = out
            .test
            .as_ref()
            .map(|t| {
                if persistence_unknown(t) {
                    format!(
                        "{}, too few to estimate how persistent the noise is,",
                        human::count(t.points as u64, "point")
                    )
                } else {
                    format!(
                        "{} with a correlation length of {}",
                        human::count(t.points as u64, "point"),
                        human::value(t.correlation_length)
                    )
                }
            })
            .unwrap_or_default();
        return format!(
            "after its minimum at step {min_step} the loss moved {pct} of its descent, but {detail} cannot establish a trend at p < {} (smallest attainable p = {})",
            settings.alpha,
            human::p_value(out.min_attainable_p.unwrap_or(1.0))
        );
    }
    if rising_significant && magnitude < settings.min_magnitude {
        return format!(
            "after its minimum at step {min_step} the loss rose significantly ({pv}) but only {pct} of its descent, below the {} threshold",
            human::percent(settings.min_magnitude)
        );
    }
    if rising_significant && !above_wander {
        return format!(
            "after its minimum at step {min_step} the loss ends {pct} of its descent higher ({pv}), but no higher than its plateau's own wander ({} peak to peak): an oscillating plateau, not a rebound",
            human::value(out.plateau_wander.unwrap_or(f64::NAN))
        );
    }
    if rising_significant {
        return format!(
            "after its minimum at step {min_step} the loss rose {pct} of its descent ({pv}), but the level shift does not stay above the minimum by more than the noise"
        );
    }
    if magnitude >= 2.0 * settings.min_magnitude {
        return format!(
            "the loss ends {pct} of its descent above its minimum at step {min_step}, but without a significant rise once its persistence is accounted for ({pv}): wander or an unstable stretch rather than a drift"
        );
    }
    format!(
        "after its minimum at step {min_step} the loss shows no significant rise ({pv}, {pct} of the descent)"
    )
}

impl Rebound {
    /// How the decision was reached, for `--explain`: the meaning of the p-value, the selection
    /// gap, the effect size against the plateau, and the flat bottom.
    pub fn method_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(t) = &self.test {
            let persistence = if persistence_unknown(t) {
                "too few points to estimate how persistent the noise is, so the most persistent noise allowed is assumed".to_string()
            } else {
                format!(
                    "AR(1) coefficient up to {}, one independent point per {} blocks",
                    human::value(t.ar1_upper),
                    human::value(t.correlation_length)
                )
            };
            lines.push(format!(
                "{} is the chance of a rise at least this clear on a loss with no trend after its minimum, with noise as persistent as this run's ({persistence}; at least as persistent as the plateau's own slow wander, so an oscillating plateau does not make a small p): Mann–Kendall for a drift ({}) and Pettitt / the largest Mann–Whitney split for a jump ({}), variances inflated for that persistence, the smallest of the three tripled (Bonferroni)",
                human::p_eq(self.p_value.unwrap_or(1.0)),
                human::p_eq(t.p_trend),
                human::p_eq(t.p_shift)
            ));
            lines.push(format!(
                "the minimum was picked as the lowest point, so the points right after it are low by that choice: the test starts at step {} (two correlation lengths or smoothing spans later) on {} blocks; the calibration test runs this whole choice on trend-free runs and finds ≤ 1.5% false alarms at p < 0.01",
                t.start_step, t.points
            ));
        }
        if let (Some(plateau), Some(wander), Some(end)) =
            (self.plateau_value, self.plateau_wander, self.end_value)
        {
            lines.push(format!(
                "effect against the plateau: the end ({}) must exceed the post-descent plateau ({}) by more than {}× its wander ({} peak to peak around a monotone fit): {}",
                human::value(end),
                human::value(plateau),
                WANDER_MARGIN,
                human::value(wander),
                if end - plateau > WANDER_MARGIN * wander {
                    "it does"
                } else {
                    "it does not"
                }
            ));
        }
        if let Some([a, b]) = self.min_step_range {
            lines.push(format!(
                "the bottom is flat within the noise from step {a} to step {b}: probe checkpoints at steps {}",
                self.probe_steps
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        lines
    }
}

/// Whether the persistence bound says nothing: at its cap, or a correlation length longer than the
/// points tested (the bound then reflects the sample size, not the noise).
fn persistence_unknown(t: &super::RiseTestDetail) -> bool {
    t.ar1_upper >= crate::stats::persistence::PHI_MAX || t.correlation_length >= t.points as f64
}
