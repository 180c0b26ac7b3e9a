//! The statistics, as pure functions over slices (or iterators of points): no files, flags or
//! colour here. Each module states its method, formula and reference; `tests/stats_reference.rs`
//! checks them against ruptures and pymannkendall (values from `tools/reference.py`).

pub mod blocks;
pub mod changepoint;
pub mod period;
pub mod persistence;
pub mod rise;
pub mod smooth;
pub mod trend;

/// Deterministic uniform noise in [0, 1) (xorshift64), for the statistics' unit tests.
#[cfg(test)]
pub(crate) fn test_uniform_noise(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.max(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}
