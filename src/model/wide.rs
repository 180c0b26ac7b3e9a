//! Values beyond the `f32` range, kept exactly while the columns stay `f32`.
//!
//! Series are stored as `f32` (half the memory of `f64` on 10M-row runs), whose largest finite
//! value is ≈ 3.4e38. A run that blows up can log a finite loss of 1e39 or 1e200: read as `f32`
//! it would become an infinity ("non-finite", a different finding), and clamped to ±`f32::MAX`
//! it would be finite but no longer its value. Such cells are rare, so they are kept on the side:
//! the `f32` cell holds a *marker*, a finite `f32` whose biased exponent is 254 (magnitude in
//! [2^127, `f32::MAX`], ≈ [1.7e38, 3.4e38]) and whose 23 mantissa bits index a process-wide,
//! append-only table of the exact `f64` values; the sign is the value's. Every code that reads a
//! stored `f32` as a number sees a finite, huge value of the right sign (kinds, counts, finite
//! checks need nothing), and [`widen`] turns a cell back into its exact `f64` where values are
//! computed on or written out (`model::Series::finite_points`, the `--export` writer, the rank
//! merge). Logged values that are themselves in [2^127, `f32::MAX`] go to the table too, so every
//! cell with that exponent is a marker.
//!
//! Why a table beside the columns rather than per column: the marker moves with its cell through
//! every reordering the readers and the cleaning do (restarts, duplicate keys, sparse columns
//! turning dense, ranks put on one axis), so nothing has to follow rows; and every reader gets it
//! from the one conversion they already call ([`narrow`], through `ingest::values::parse_value`).
//!
//! Bounds: equal values share an entry; at most [`WIDE_VALUES_KEPT`] distinct values are kept
//! per process (8 bytes each plus the index: a few MiB at most). Beyond that a value is stored
//! as ±`f32::MAX`, finite with its sign, as before this table existed. Arithmetic on stored `f32`
//! cells must [`widen`] first and [`narrow`] the result: a sum of two markers is not a marker.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

/// Distinct values beyond `f32` kept exactly per process (2^16).
pub const WIDE_VALUES_KEPT: usize = 1 << 16;

/// The exponent and mantissa bits of an `f32`.
const EXPONENT_MASK: u32 = 0x7f80_0000;
/// Exponent bits of a marker: biased exponent 254, the largest finite one.
const MARKER_EXPONENT: u32 = 0x7f00_0000;
const MANTISSA_MASK: u32 = 0x007f_ffff;

/// The kept values and, for sharing equal ones, their index by bit pattern.
struct Table {
    values: Vec<f64>,
    index: BTreeMap<u64, u32>,
}

static TABLE: RwLock<Table> = RwLock::new(Table {
    values: Vec::new(),
    index: BTreeMap::new(),
});

/// Whether `v` is a marker cell (a finite `f32` with the largest finite exponent).
#[inline]
pub fn is_marker(v: f32) -> bool {
    v.to_bits() & EXPONENT_MASK == MARKER_EXPONENT
}

/// `x` as stored: the nearest `f32` when its magnitude is below 2^127 (≈ 1.7e38); a NaN as the
/// canonical NaN (never the `MISSING` payload); ±∞ as ±∞; a finite value beyond as a marker
/// whose exact value [`widen`] returns (or ±`f32::MAX` when [`WIDE_VALUES_KEPT`] are kept
/// already).
#[inline]
pub fn narrow(x: f64) -> f32 {
    if x.is_nan() {
        return f32::NAN;
    }
    let v = x as f32;
    if !x.is_finite() || !(is_marker(v) || v.is_infinite()) {
        return v;
    }
    keep(x)
}

/// The exact value of a stored cell: the kept `f64` for a marker, the `f32` widened otherwise.
#[inline]
pub fn widen(v: f32) -> f64 {
    if !is_marker(v) {
        return f64::from(v);
    }
    let i = (v.to_bits() & MANTISSA_MASK) as usize;
    let table = TABLE.read().unwrap_or_else(PoisonError::into_inner);
    table.values.get(i).copied().unwrap_or(f64::from(v))
}

/// Puts `x` (finite, |x| ≥ 2^127) in the table and returns its marker.
#[cold]
fn keep(x: f64) -> f32 {
    let mut table = TABLE.write().unwrap_or_else(PoisonError::into_inner);
    let i = match table.index.get(&x.to_bits()) {
        Some(i) => *i,
        None if table.values.len() < WIDE_VALUES_KEPT => {
            let i = table.values.len() as u32;
            table.values.push(x);
            table.index.insert(x.to_bits(), i);
            i
        }
        None => return f32::MAX.copysign(x as f32),
    };
    let sign = if x.is_sign_negative() { 1 << 31 } else { 0 };
    f32::from_bits(sign | MARKER_EXPONENT | i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_beyond_f32_come_back_exactly_and_stay_finite_as_f32() {
        for x in [1e39, -1e39, 2.5e38, -3e38, 1.5e200, f64::MAX, -f64::MAX] {
            let stored = narrow(x);
            assert!(stored.is_finite(), "{x}");
            assert!(is_marker(stored), "{x}");
            assert_eq!(stored.is_sign_negative(), x < 0.0);
            assert_eq!(widen(stored), x);
        }
        assert_eq!(narrow(1e39).to_bits(), narrow(1e39).to_bits(), "shared");
    }

    #[test]
    fn ordinary_values_are_plain_f32_and_non_finite_stay_so() {
        for x in [0.0, -0.0, 0.82586, -1e-30, 1e38, 1.7e38] {
            assert!(!is_marker(narrow(x)), "{x}");
            assert_eq!(narrow(x), x as f32);
            assert_eq!(widen(narrow(x)), f64::from(x as f32));
        }
        assert_eq!(narrow(f64::INFINITY), f32::INFINITY);
        assert_eq!(narrow(f64::NEG_INFINITY), f32::NEG_INFINITY);
        let payload = f64::from_bits(0x7ff8_0000_0000_0bad);
        assert_eq!(narrow(payload).to_bits(), f32::NAN.to_bits());
        assert!(!crate::model::is_missing(narrow(f64::from(
            crate::model::MISSING
        ))));
    }

    #[test]
    fn a_cell_that_is_no_marker_of_a_kept_value_reads_as_itself() {
        let unknown = f32::from_bits(MARKER_EXPONENT | (MANTISSA_MASK - 1));
        assert_eq!(widen(unknown), f64::from(unknown));
        assert_eq!(widen(f32::MAX), f64::from(f32::MAX));
    }
}
