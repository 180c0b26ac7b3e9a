//! Spikes: isolated large excursions of a loss, on every raw point, in O(n).
//!
//! The reference level of a point is the de-spiked, smoothed block curve of the rebound detector
//! at the point's block; the local scale is `1.4826 ×` the median absolute residual of the
//! surrounding blocks (a rolling median over ±5 blocks, so noise that changes over the run is
//! followed). A point is a spike when it is far above its level in both senses: a robust z-score
//! of at least 6 and at least 1.25× the level, or at least 2× the level (DESIGN §5's ratio rule)
//! and 3 robust σ above it — and at least 5% of the curve's range above it, so a wiggle near a
//! floor of ~0 is not "2× the level". Consecutive spike points form one event. Regular intervals between
//! four or more events are reported as a period ([`crate::stats::period`], the rule the periodic
//! crashes use).

use crate::model::{Series, StepAxis};
use crate::stats::period::regular_period;
use crate::stats::smooth::{MAD_TO_SIGMA, median_in_place};

use super::rebound::Prepared;

/// One spike event (a run of adjacent spike points).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpikeEvent {
    pub first_step: u64,
    pub last_step: u64,
    /// The step of the largest point and its value as a multiple of the level there.
    pub peak_step: u64,
    pub peak_value: f64,
    pub ratio: f64,
    pub z: f64,
    pub points: usize,
}

/// The spikes of a series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spikes {
    pub events: Vec<SpikeEvent>,
    /// Median interval between event peaks when they come regularly ([`regular_period`]).
    pub period: Option<f64>,
    pub points: usize,
}

impl Spikes {
    pub fn worst(&self) -> Option<&SpikeEvent> {
        self.events
            .iter()
            .max_by(|a, b| a.ratio.total_cmp(&b.ratio))
    }
}

/// Robust z-score a spike needs (with the 1.25× ratio).
pub const SPIKE_Z: f64 = 6.0;

/// Finds spikes of `series` against its prepared curve.
pub fn detect(series: &Series, axis: &StepAxis, prepared: &Prepared) -> Spikes {
    let b = prepared.blocks.len();
    if b < 5 {
        return Spikes::default();
    }
    let level = &prepared.smoothed;
    // Median absolute residual per block.
    let mut mad = Vec::with_capacity(b);
    let mut scratch = Vec::new();
    let mut block = 0usize;
    let mut left = prepared.blocks.counts[0];
    for (_, v) in series.finite_points(axis) {
        scratch.push((v - level[block]).abs());
        left -= 1;
        if left == 0 {
            mad.push(median_in_place(&mut scratch));
            scratch.clear();
            block += 1;
            if block == b {
                break;
            }
            left = prepared.blocks.counts[block];
        }
    }
    if mad.len() != b {
        return Spikes::default();
    }
    let sigma: Vec<f64> = (0..b)
        .map(|i| {
            let mut w: Vec<f64> = mad[i.saturating_sub(5)..(i + 6).min(b)].to_vec();
            MAD_TO_SIGMA * median_in_place(&mut w)
        })
        .collect();

    // An excursion must also matter on the curve's own scale (5% of its range): near a floor of
    // ~0 any wiggle is "2× the level".
    let (top, bottom) = super::shape::smoothed_range(prepared);
    let min_excursion = 0.05 * (top - bottom);
    let mut spikes = Spikes::default();
    let mut current: Option<SpikeEvent> = None;
    let mut previous_step: Option<u64> = None;
    let (mut block, mut left) = (0usize, prepared.blocks.counts[0]);
    for (step, v) in series.finite_points(axis) {
        let (l, s) = (level[block], sigma[block]);
        let z = if s > 0.0 {
            (v - l) / s
        } else {
            f64::INFINITY * (v - l).signum()
        };
        let ratio = if l > 0.0 { v / l } else { f64::NAN };
        let is_spike = v - l >= min_excursion
            && ((z >= SPIKE_Z && ratio >= 1.25) || (ratio >= 2.0 && z >= 3.0));
        if is_spike {
            spikes.points += 1;
            match current.as_mut() {
                Some(e) if previous_step == Some(e.last_step) => {
                    e.last_step = step;
                    e.points += 1;
                    if ratio > e.ratio {
                        (e.peak_step, e.peak_value, e.ratio, e.z) = (step, v, ratio, z);
                    }
                }
                _ => {
                    if let Some(done) = current.take() {
                        spikes.events.push(done);
                    }
                    current = Some(SpikeEvent {
                        first_step: step,
                        last_step: step,
                        peak_step: step,
                        peak_value: v,
                        ratio,
                        z,
                        points: 1,
                    });
                }
            }
        }
        previous_step = Some(step);
        left -= 1;
        if left == 0 {
            block += 1;
            if block == b {
                break;
            }
            left = prepared.blocks.counts[block];
        }
    }
    if let Some(done) = current {
        spikes.events.push(done);
    }
    let peaks: Vec<u64> = spikes.events.iter().map(|e| e.peak_step).collect();
    spikes.period = regular_period(&peaks);
    spikes
}
