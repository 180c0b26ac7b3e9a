//! Block reduction: the resolution the statistics work at.
//!
//! Training curves are long and autocorrelated. Tests that assume independent points (Mann–Kendall)
//! or cost O(n²) (Sen's slope) run on block summaries instead. **Rule**: a series of `n` finite
//! points is cut into `B = min(n, max_blocks)` consecutive blocks of equal count (block `k` holds
//! points `⌊k·n/B⌋ .. ⌊(k+1)·n/B⌋`), so the block size is `⌈n/B⌉` or one less. Each block is
//! summarised by its **median** (robust to spikes inside the block), its mean, and its centre step
//! (mean of its steps). With `n ≤ max_blocks` every point is its own block: nothing is averaged.
//! The reduction is one streaming pass plus a selection per block: O(n).

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
    pub counts: Vec<usize>,
    /// Points in the series.
    pub points: usize,
}

impl Blocks {
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
/// blocks. `points` is iterated once; `n` must be its length.
pub fn reduce(points: impl Iterator<Item = (u64, f64)>, n: usize, max_blocks: usize) -> Blocks {
    let b = block_count(n, max_blocks);
    let mut blocks = Blocks {
        points: n,
        ..Blocks::default()
    };
    if b == 0 {
        return blocks;
    }
    for v in [&mut blocks.medians, &mut blocks.means, &mut blocks.steps] {
        v.reserve(b);
    }
    let mut scratch: Vec<f64> = Vec::with_capacity(n / b + 1);
    let (mut step_sum, mut first) = (0.0f64, 0u64);
    let mut k = 0usize;
    let mut end = boundary(1, n, b);
    for (i, (step, value)) in points.take(n).enumerate() {
        if scratch.is_empty() {
            first = step;
            step_sum = 0.0;
        }
        scratch.push(value);
        step_sum += step as f64;
        if i + 1 == end {
            let last = step;
            let count = scratch.len();
            let mean = scratch.iter().sum::<f64>() / count as f64;
            blocks.means.push(mean);
            blocks
                .medians
                .push(super::smooth::median_in_place(&mut scratch));
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

/// End index (exclusive) of block `k - 1`: `⌊k·n/b⌋`.
fn boundary(k: usize, n: usize, b: usize) -> usize {
    ((k as u128 * n as u128) / b as u128) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_keep_every_point() {
        let pts: Vec<(u64, f64)> = (0..10).map(|i| (i * 5, i as f64)).collect();
        let b = reduce(pts.iter().copied(), pts.len(), 100);
        assert_eq!(b.len(), 10);
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
        let b = reduce(pts.iter().copied(), n, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(b.counts.iter().sum::<usize>(), n);
        assert!(b.counts.iter().all(|c| *c == 10 || *c == 11));
        // The spike moves the mean of its block, not the median.
        assert_eq!(b.medians[0], 1.0);
        assert!(b.means[0] > 1000.0);
        assert_eq!(b.first_step[0], 0);
        assert_eq!(*b.last_step.last().unwrap(), 1002);
    }
}
