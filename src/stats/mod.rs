//! The statistics, as pure functions over slices (or iterators of points): no files, flags or
//! colour here. Each module states its method, formula and reference; `tests/stats_reference.rs`
//! checks them against ruptures and pymannkendall (values from `tools/reference.py`).

pub mod blocks;
pub mod changepoint;
pub mod persistence;
pub mod rise;
pub mod smooth;
pub mod trend;
