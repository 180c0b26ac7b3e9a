//! One series of a run and the step axis it is aligned with.
//!
//! A series keeps its values densely (one `f32` per axis step, [`MISSING`] where nothing was
//! logged) or, for the timings and counters the diagnosis does not read, only the kind of each
//! value as runs of axis indices ([`KindRun`]): a column logged at every step is one run, and a
//! key that a JSON log names at a few steps costs a few runs, not one byte per step of the run.

use super::{MISSING, Role, is_missing, widen};
use crate::progression::{Aligned, Progressions};

/// The sorted, duplicate-free global steps a run has values at, stored as progressions (a
/// 10M-step run that logs every iteration is one run, not 80 MB).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepAxis {
    steps: Progressions,
}

impl StepAxis {
    /// Wraps steps that must already be strictly increasing.
    pub fn from_sorted(steps: Vec<u64>) -> StepAxis {
        debug_assert!(steps.windows(2).all(|w| w[0] < w[1]));
        StepAxis {
            steps: Progressions::from_values(&steps),
        }
    }
    /// Wraps strictly increasing progressions.
    pub fn from_progressions(steps: Progressions) -> StepAxis {
        debug_assert!(steps.is_strictly_increasing());
        StepAxis { steps }
    }
    pub fn len(&self) -> usize {
        self.steps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
    /// The steps in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + Clone + '_ {
        self.steps.iter()
    }
    /// `(step, value)` for a slice aligned with the axis.
    pub fn aligned<'a, T>(&'a self, values: &'a [T]) -> Aligned<'a, T> {
        Aligned::new(&self.steps, values)
    }
    pub fn first(&self) -> Option<u64> {
        self.steps.first()
    }
    pub fn last(&self) -> Option<u64> {
        self.steps.last()
    }
    /// The step at axis index `i`.
    pub fn get(&self, i: usize) -> Option<u64> {
        self.steps.get(i)
    }
    /// Index of `step` on the axis, if present.
    pub fn position(&self, step: u64) -> Option<usize> {
        self.steps.position(step)
    }
}

/// What kind of value a row holds, for series whose values are not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueKind {
    Missing = 0,
    Finite = 1,
    Nan = 2,
    PosInf = 3,
    NegInf = 4,
}

impl ValueKind {
    #[inline]
    pub fn of(v: f32) -> ValueKind {
        if is_missing(v) {
            ValueKind::Missing
        } else if v.is_finite() {
            ValueKind::Finite
        } else if v.is_nan() {
            ValueKind::Nan
        } else if v > 0.0 {
            ValueKind::PosInf
        } else {
            ValueKind::NegInf
        }
    }
    /// A value of this kind (for reports: the kind is all that is known).
    pub fn representative(self) -> f32 {
        match self {
            ValueKind::Missing => MISSING,
            ValueKind::Finite => 0.0,
            ValueKind::Nan => f32::NAN,
            ValueKind::PosInf => f32::INFINITY,
            ValueKind::NegInf => f32::NEG_INFINITY,
        }
    }
    /// The kind stored as byte `b` (see `ColumnData::Kinds` in `ingest::table`).
    pub fn from_byte(b: u8) -> ValueKind {
        match b {
            1 => ValueKind::Finite,
            2 => ValueKind::Nan,
            3 => ValueKind::PosInf,
            4 => ValueKind::NegInf,
            _ => ValueKind::Missing,
        }
    }
}

/// Consecutive axis indices `start..start + len` holding values of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindRun {
    pub start: u32,
    pub len: u32,
    pub kind: ValueKind,
}

impl KindRun {
    /// The axis indices of the run.
    pub fn indices(&self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }

    /// Run-length encodes `(axis index, kind)` pairs in ascending index order (missing values
    /// are left out). Indices beyond `u32` end the runs (no run goes that far).
    pub fn encode(present: impl Iterator<Item = (usize, ValueKind)>) -> Vec<KindRun> {
        let mut runs: Vec<KindRun> = Vec::new();
        for (i, kind) in present {
            if kind == ValueKind::Missing {
                continue;
            }
            let Ok(i) = u32::try_from(i) else { break };
            match runs.last_mut() {
                Some(r) if r.kind == kind && r.start + r.len == i => r.len += 1,
                _ => runs.push(KindRun {
                    start: i,
                    len: 1,
                    kind,
                }),
            }
        }
        runs
    }
}

/// One named column of a run, aligned with the run's [`StepAxis`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Series {
    pub name: String,
    pub role: Role,
    /// One value per axis step; [`MISSING`] where nothing was logged. Empty when only the kinds
    /// of the values were kept (timings and counters the diagnosis does not read).
    pub values: Vec<f32>,
    /// When the values were not kept: the runs of axis indices holding a value, with their
    /// kind, ascending and disjoint (memory follows the runs, not the axis).
    pub kinds: Vec<KindRun>,
    /// How the series came to be when it was not read verbatim (derived, role forced by a flag, ...).
    pub note: Option<String>,
}

impl Series {
    /// The value at axis index `i`, `None` when nothing was logged there (NaN/inf are values).
    #[inline]
    pub fn get(&self, i: usize) -> Option<f32> {
        self.values.get(i).copied().filter(|v| !is_missing(*v))
    }

    /// The exact value at axis index `i` (a value beyond `f32` as its `f64`, see
    /// [`super::wide`]), `None` when nothing was logged there.
    #[inline]
    pub fn value(&self, i: usize) -> Option<f64> {
        self.get(i).map(widen)
    }

    /// Present `(step, value)` pairs in step order, non-finite values included (as stored: a
    /// value beyond `f32` is a huge finite marker; [`Self::finite_points`] widens it).
    pub fn points<'a>(&'a self, axis: &'a StepAxis) -> impl Iterator<Item = (u64, f32)> + 'a {
        axis.aligned(&self.values)
            .filter(|(_, v)| !is_missing(**v))
            .map(|(s, v)| (s, *v))
    }

    /// Present, finite `(step, value)` pairs: what the statistics run on, each value exact (a
    /// value beyond `f32` as the `f64` that was logged, [`super::wide`]).
    pub fn finite_points<'a>(
        &'a self,
        axis: &'a StepAxis,
    ) -> impl Iterator<Item = (u64, f64)> + 'a {
        self.points(axis)
            .filter(|(_, v)| v.is_finite())
            .map(|(s, v)| (s, widen(v)))
    }

    /// Number of finite values (a tight count over the stored values; 0 when only kinds are kept).
    pub fn finite_count(&self) -> usize {
        self.values.iter().filter(|v| v.is_finite()).count()
    }

    /// Whether the values are kept (else only their kinds).
    pub fn has_values(&self) -> bool {
        self.kinds.is_empty()
    }

    /// `(step, kind)` of every present value, whether the values or only the kinds were kept.
    pub fn kinds<'a>(&'a self, axis: &'a StepAxis) -> impl Iterator<Item = (u64, ValueKind)> + 'a {
        let (values, kinds) = if self.has_values() {
            (
                Some(self.points(axis).map(|(s, v)| (s, ValueKind::of(v)))),
                None,
            )
        } else {
            let kinds = self.kinds.iter().flat_map(move |r| {
                r.indices()
                    .map_while(move |i| axis.get(i))
                    .map(move |s| (s, r.kind))
            });
            (None, Some(kinds))
        };
        values
            .into_iter()
            .flatten()
            .chain(kinds.into_iter().flatten())
    }

    /// Counts of present values and of non-finite ones among them, and the step range covered.
    /// One tight pass over the stored values (or runs of kinds); steps are looked up only for
    /// the first and last present index.
    pub fn summary(&self, axis: &StepAxis) -> SeriesSummary {
        let (points, non_finite, first, last) = if self.has_values() {
            count_present(&self.values, |v| !is_missing(*v), |v| !v.is_finite())
        } else {
            let points = self.kinds.iter().map(|r| r.len as usize).sum();
            let non_finite = (self.kinds.iter())
                .filter(|r| r.kind != ValueKind::Finite)
                .map(|r| r.len as usize)
                .sum();
            let first = self.kinds.first().map(|r| r.start as usize);
            let last = self.kinds.last().map(|r| r.indices().end - 1);
            (points, non_finite, first, last)
        };
        SeriesSummary {
            points,
            non_finite,
            first_step: first.and_then(|i| axis.get(i)),
            last_step: last.and_then(|i| axis.get(i)),
        }
    }

    /// The first non-finite value and its step.
    pub fn first_non_finite(&self, axis: &StepAxis) -> Option<(u64, ValueKind)> {
        if self.has_values() {
            return self.kinds(axis).find(|(_, k)| *k != ValueKind::Finite);
        }
        let run = self.kinds.iter().find(|r| r.kind != ValueKind::Finite)?;
        Some((axis.get(run.start as usize)?, run.kind))
    }
}

/// (present, non-finite among them, first and last present index).
fn count_present<T>(
    items: &[T],
    present: impl Fn(&T) -> bool,
    non_finite: impl Fn(&T) -> bool,
) -> (usize, usize, Option<usize>, Option<usize>) {
    let (mut n, mut bad) = (0usize, 0usize);
    for item in items {
        let p = present(item);
        n += p as usize;
        bad += (p && non_finite(item)) as usize;
    }
    let first = items.iter().position(&present);
    let last = items.iter().rposition(&present);
    (n, bad, first, last)
}

/// What [`Series::summary`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeriesSummary {
    pub points: usize,
    pub non_finite: usize,
    pub first_step: Option<u64>,
    pub last_step: Option<u64>,
}
