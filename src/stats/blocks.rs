//! Block reduction: the resolution the statistics work at.
//!
//! Training curves are long and autocorrelated. Tests that assume independent points (Mann–Kendall)
//! or cost O(n²) (Sen's slope) run on block summaries instead. **Rule**: a series of `n` finite
//! points is cut into `B = min(n, max_blocks)` consecutive blocks of equal count (block `k` holds
//! points `⌊k·n/B⌋ .. ⌊(k+1)·n/B⌋`), so the block size is `⌈n/B⌉` or one less. Each block is
//! summarised by its **median** (robust to spikes inside the block), its mean, and its centre step
//! (mean of its steps). With `n ≤ max_blocks` every point is its own block: nothing is averaged.
//! The reduction is one streaming pass plus a selection per block: O(n).

use super::smooth::DebiasedEma;

/// Default maximum number of blocks.
pub const DEFAULT_MAX_BLOCKS: usize = 1000;

/// A series reduced to blocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Blocks {
    /// Centre step of each block (mean of its steps).
    pub steps: Vec<f64>,
    pub first_step: Vec<u64>,
    pub last_step: Vec<u64>,
    pub medians: Vec<f64>,
    pub means: Vec<f64>,
    pub mins: Vec<f64>,
    pub maxs: Vec<f64>,
    /// TensorBoard's debiased EMA of the points (with the weight given to [`reduce`]) at the
    /// last point of each block: the display curve, at block resolution.
    pub ema: Vec<f64>,
    pub counts: Vec<usize>,
    /// Points in the series.
    pub points: usize,
}

impl Blocks {
    /// The first block whose centre step is at or after `step`, if any.
    pub fn first_at_or_after(&self, step: u64) -> Option<usize> {
        self.steps.iter().position(|s| *s >= step as f64)
    }
    pub fn len(&self) -> usize {
        self.medians.len()
    }
    pub fn is_empty(&self) -> bool {
        self.medians.is_empty()
    }
    /// Largest block size.
    pub fn block_size(&self) -> usize {
        self.counts.iter().copied().max().unwrap_or(0)
    }
}

/// Number of blocks for `n` points.
pub fn block_count(n: usize, max_blocks: usize) -> usize {
    n.min(max_blocks.max(1))
}

/// Reduces `(step, value)` points (finite values, steps increasing) to at most `max_blocks`
/// blocks, following a debiased EMA of weight `ema_weight` on the way. `points` is iterated once;
/// `n` must be its length.
pub fn reduce(
    points: impl Iterator<Item = (u64, f64)>,
    n: usize,
    max_blocks: usize,
    ema_weight: f64,
) -> Blocks {
    let b = block_count(n, max_blocks);
    let mut blocks = Blocks {
        points: n,
        ..Blocks::default()
    };
    if b == 0 {
        return blocks;
    }
    for v in [
        &mut blocks.medians,
        &mut blocks.means,
        &mut blocks.steps,
        &mut blocks.mins,
        &mut blocks.maxs,
        &mut blocks.ema,
    ] {
        v.reserve(b);
    }
    let mut ema = DebiasedEma::new(ema_weight);
    let mut scratch: Vec<u64> = Vec::with_capacity(n / b + 1);
    let (mut step_sum, mut first, mut sum) = (0.0f64, 0u64, 0.0f64);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut k = 0usize;
    let mut end = boundary(1, n, b);
    for (i, (step, value)) in points.take(n).enumerate() {
        if scratch.is_empty() {
            first = step;
            step_sum = 0.0;
            sum = 0.0;
            lo = f64::INFINITY;
            hi = f64::NEG_INFINITY;
        }
        scratch.push(sortable(value));
        step_sum += step as f64;
        sum += value;
        lo = lo.min(value);
        hi = hi.max(value);
        let smoothed = ema.push(value);
        if i + 1 == end {
            let last = step;
            let count = scratch.len();
            blocks.means.push(sum / count as f64);
            blocks.medians.push(median_of_keys(&mut scratch));
            blocks.mins.push(lo);
            blocks.maxs.push(hi);
            blocks.ema.push(smoothed);
            blocks.steps.push(step_sum / count as f64);
            blocks.first_step.push(first);
            blocks.last_step.push(last);
            blocks.counts.push(count);
            scratch.clear();
            k += 1;
            end = boundary(k + 1, n, b);
        }
    }
    blocks
}

/// A key that orders finite `f64` values like the values (integer compares make the per-block
/// selection several times faster than `total_cmp` on floats).
#[inline]
fn sortable(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

#[inline]
fn unsortable(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// The median of the values behind `keys` (reordered); even counts average the middle two.
fn median_of_keys(keys: &mut [u64]) -> f64 {
    let n = keys.len();
    let mid = n / 2;
    let (lower, upper, _) = keys.select_nth_unstable(mid);
    let upper = unsortable(*upper);
    if n % 2 == 1 {
        upper
    } else {
        let lower_max = lower.iter().copied().max().map_or(upper, unsortable);
        0.5 * (lower_max + upper)
    }
}

/// End index (exclusive) of block `k - 1`: `⌊k·n/b⌋`.
fn boundary(k: usize, n: usize, b: usize) -> usize {
    ((k as u128 * n as u128) / b as u128) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_keys_order_like_values() {
        let mut values = [-3.5, -0.0, 0.0, 1e-300, 2.0, -1e300, 7.25];
        let mut keys: Vec<u64> = values.iter().map(|v| sortable(*v)).collect();
        keys.sort_unstable();
        values.sort_by(f64::total_cmp);
        let back: Vec<f64> = keys.iter().map(|k| unsortable(*k)).collect();
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(median_of_keys(&mut [5.0, 1.0, 3.0].map(sortable)), 3.0);
        assert_eq!(median_of_keys(&mut [4.0, 1.0, 2.0, 3.0].map(sortable)), 2.5);
    }

    #[test]
    fn short_series_keep_every_point() {
        let pts: Vec<(u64, f64)> = (0..10).map(|i| (i * 5, i as f64)).collect();
        let b = reduce(pts.iter().copied(), pts.len(), 100, 0.0);
        assert_eq!(b.len(), 10);
        assert_eq!(b.ema, b.medians, "weight 0: the EMA is the series");
        assert_eq!(b.medians, (0..10).map(f64::from).collect::<Vec<_>>());
        assert_eq!(b.steps[3], 15.0);
        assert_eq!(b.block_size(), 1);
    }

    #[test]
    fn long_series_become_equal_blocks_of_medians() {
        let n = 1003;
        let pts: Vec<(u64, f64)> = (0..n as u64)
            .map(|i| (i, if i == 5 { 1e6 } else { 1.0 }))
            .collect();
        let b = reduce(pts.iter().copied(), n, 100, 0.5);
        assert_eq!(b.len(), 100);
        assert_eq!(b.maxs[0], 1e6);
        assert_eq!(b.mins[0], 1.0);
        assert_eq!(b.counts.iter().sum::<usize>(), n);
        assert!(b.counts.iter().all(|c| *c == 10 || *c == 11));
        // The spike moves the mean of its block, not the median.
        assert_eq!(b.medians[0], 1.0);
        assert!(b.means[0] > 1000.0);
        assert_eq!(b.first_step[0], 0);
        assert_eq!(b.last_step.last(), Some(&1002));
    }
}
