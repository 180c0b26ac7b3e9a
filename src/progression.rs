//! Integer sequences stored as runs of arithmetic progressions: the steps of a run and the keys
//! of a parsed log. Training logs count up one iteration (or one logging interval) at a time, so
//! 10M steps are a handful of runs instead of 80 MB; anything irregular still works (a run of one).

/// One arithmetic progression: `start, start + stride, …` (`count` values, `stride > 0` when
/// `count > 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progression {
    pub start: u64,
    pub stride: u64,
    pub count: u64,
}

impl Progression {
    pub fn last(&self) -> u64 {
        self.start + self.stride * (self.count - 1)
    }
    pub fn nth(&self, k: u64) -> u64 {
        self.start + self.stride * k
    }
}

/// A sequence of `u64` as consecutive progressions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progressions {
    runs: Vec<Progression>,
    /// `ends[r]`: number of values in runs `0..=r`.
    ends: Vec<usize>,
}

impl Progressions {
    pub fn new() -> Progressions {
        Progressions::default()
    }

    /// Compresses a slice.
    pub fn from_values(values: &[u64]) -> Progressions {
        let mut p = Progressions::new();
        for v in values {
            p.push(*v);
        }
        p
    }

    pub fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Number of progressions (the storage cost).
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Appends a value, extending the last progression when it continues it upward.
    #[inline]
    pub fn push(&mut self, v: u64) {
        if let Some(last) = self.runs.last_mut() {
            let extends = if last.count == 1 {
                v > last.start
            } else {
                v == last.start + last.stride * last.count
            };
            if extends {
                if last.count == 1 {
                    last.stride = v - last.start;
                }
                last.count += 1;
                if let Some(e) = self.ends.last_mut() {
                    *e += 1;
                }
                return;
            }
        }
        self.runs.push(Progression {
            start: v,
            stride: 0,
            count: 1,
        });
        self.ends.push(self.len() + 1);
    }

    /// Appends a whole progression, with the same result as pushing its values one by one (so a
    /// sequence has one representation however it was built).
    pub fn push_progression(&mut self, p: Progression) {
        if p.count == 0 {
            return;
        }
        self.push(p.start);
        if p.count == 1 {
            return;
        }
        let rest = p.count - 1;
        let len = self.len();
        match self.runs.last_mut() {
            // The first value began a run, or the last run already climbs by this stride: the
            // rest continues it.
            Some(last) if last.count == 1 || last.stride == p.stride => {
                last.stride = p.stride;
                last.count += rest;
                if let Some(e) = self.ends.last_mut() {
                    *e += rest as usize;
                }
            }
            _ => {
                self.runs.push(Progression {
                    start: p.start + p.stride,
                    stride: if rest > 1 { p.stride } else { 0 },
                    count: rest,
                });
                self.ends.push(len + rest as usize);
            }
        }
    }

    /// Appends another sequence.
    pub fn extend_from(&mut self, other: &Progressions) {
        for p in &other.runs {
            self.push_progression(*p);
        }
    }

    /// The `i`-th value.
    pub fn get(&self, i: usize) -> Option<u64> {
        let r = self.ends.partition_point(|e| *e <= i);
        let run = self.runs.get(r)?;
        let before = if r == 0 { 0 } else { self.ends[r - 1] };
        Some(run.nth((i - before) as u64))
    }

    pub fn first(&self) -> Option<u64> {
        self.runs.first().map(|r| r.start)
    }

    pub fn last(&self) -> Option<u64> {
        self.runs.last().map(Progression::last)
    }

    /// The progressions.
    pub fn runs(&self) -> &[Progression] {
        &self.runs
    }

    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + Clone + '_ {
        self.runs
            .iter()
            .flat_map(|r| (0..r.count).map(move |k| r.start + k * r.stride))
    }

    /// The progressions, each with the index of its first value.
    pub fn progressions(&self) -> impl Iterator<Item = (usize, Progression)> + '_ {
        self.runs
            .iter()
            .enumerate()
            .map(|(r, p)| (if r == 0 { 0 } else { self.ends[r - 1] }, *p))
    }

    /// Whether every value is larger than the one before.
    pub fn is_strictly_increasing(&self) -> bool {
        self.runs.windows(2).all(|w| w[1].start > w[0].last())
    }

    /// Index of `v` in a strictly increasing sequence.
    pub fn position(&self, v: u64) -> Option<usize> {
        let r = self.runs.partition_point(|p| p.last() < v);
        let run = self.runs.get(r)?;
        if v < run.start {
            return None;
        }
        let offset = v - run.start;
        if run.count > 1 && !offset.is_multiple_of(run.stride) {
            return None;
        }
        let k = if run.count > 1 {
            offset / run.stride
        } else {
            offset
        };
        if k >= run.count {
            return None;
        }
        let before = if r == 0 { 0 } else { self.ends[r - 1] };
        Some(before + k as usize)
    }

    /// The values at indices `range` (a contiguous slice of the sequence).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Progressions {
        let mut out = Progressions::new();
        if range.is_empty() {
            return out;
        }
        let mut r = self.ends.partition_point(|e| *e <= range.start);
        while r < self.runs.len() {
            let before = if r == 0 { 0 } else { self.ends[r - 1] };
            if before >= range.end {
                break;
            }
            let run = self.runs[r];
            let from = range.start.max(before) - before;
            let to = range.end.min(self.ends[r]) - before;
            out.push_progression(Progression {
                start: run.nth(from as u64),
                stride: if to - from > 1 { run.stride } else { 0 },
                count: (to - from) as u64,
            });
            r += 1;
        }
        out
    }

    /// Applies a strictly increasing map to every value, progression by progression: `f` must map
    /// `start + k·stride` to `f(start) + k·(f(start + stride) − f(start))` (an affine map on each
    /// progression), which holds for turning (epoch, itr) keys within an epoch into steps.
    pub fn map_affine(&self, f: impl Fn(u64) -> u64) -> Progressions {
        let mut out = Progressions::new();
        for p in &self.runs {
            let start = f(p.start);
            let stride = if p.count > 1 {
                f(p.start + p.stride) - start
            } else {
                0
            };
            out.push_progression(Progression {
                start,
                stride,
                count: p.count,
            });
        }
        out
    }
}

/// The values of a sequence zipped with a slice of the same length: a plain state machine, so
/// loops over millions of points stay tight.
#[derive(Clone, Debug)]
pub struct Aligned<'a, T> {
    runs: std::slice::Iter<'a, Progression>,
    step: u64,
    stride: u64,
    left: u64,
    values: &'a [T],
    i: usize,
}

impl<'a, T> Aligned<'a, T> {
    pub fn new(steps: &'a Progressions, values: &'a [T]) -> Aligned<'a, T> {
        Aligned {
            runs: steps.runs.iter(),
            step: 0,
            stride: 0,
            left: 0,
            values,
            i: 0,
        }
    }
}

impl<'a, T> Iterator for Aligned<'a, T> {
    type Item = (u64, &'a T);

    #[inline]
    fn next(&mut self) -> Option<(u64, &'a T)> {
        while self.left == 0 {
            let p = self.runs.next()?;
            self.step = p.start;
            self.stride = p.stride;
            self.left = p.count;
        }
        let v = self.values.get(self.i)?;
        self.i += 1;
        let s = self.step;
        // The step after the last one is never used (and may not fit a u64).
        self.step = self.step.wrapping_add(self.stride);
        self.left -= 1;
        Some((s, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending_progressions_equals_pushing_their_values() {
        let chunks: [&[u64]; 5] = [&[1], &[2, 3, 4], &[6, 8], &[9], &[10, 20, 30, 40]];
        let mut by_value = Progressions::new();
        let mut by_run = Progressions::new();
        for chunk in chunks {
            chunk.iter().for_each(|v| by_value.push(*v));
            by_run.extend_from(&Progressions::from_values(chunk));
        }
        assert_eq!(by_run, by_value);
        assert_eq!(
            by_run.iter().collect::<Vec<_>>(),
            [1, 2, 3, 4, 6, 8, 9, 10, 20, 30, 40]
        );
    }

    #[test]
    fn contiguous_and_strided_runs_compress() {
        let p = Progressions::from_values(&(0..1000).collect::<Vec<u64>>());
        assert_eq!(p.run_count(), 1);
        assert_eq!(p.len(), 1000);
        let q = Progressions::from_values(&(0..100).map(|i| i * 10).collect::<Vec<u64>>());
        assert_eq!(q.run_count(), 1);
        assert_eq!(q.get(7), Some(70));
        assert_eq!(q.position(70), Some(7));
        assert_eq!(q.position(75), None);
    }

    #[test]
    fn irregular_values_round_trip() {
        let values = [5, 6, 7, 3, 3, 10, 20, 30, 31, 100, 2];
        let p = Progressions::from_values(&values);
        assert_eq!(p.iter().collect::<Vec<_>>(), values);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(p.get(i), Some(*v));
        }
        assert_eq!(p.get(values.len()), None);
        assert!(!p.is_strictly_increasing());
        assert_eq!(p.slice(2..8).iter().collect::<Vec<_>>(), &values[2..8]);
    }

    #[test]
    fn positions_in_increasing_sequences() {
        let values = [0, 1, 2, 10, 20, 30, 31, 50];
        let p = Progressions::from_values(&values);
        assert!(p.is_strictly_increasing());
        for (i, v) in values.iter().enumerate() {
            assert_eq!(p.position(*v), Some(i));
        }
        for missing in [3, 15, 32, 49, 51] {
            assert_eq!(p.position(missing), None);
        }
    }

    #[test]
    fn aligned_iteration() {
        let p = Progressions::from_values(&[0, 1, 2, 10, 20, 21]);
        let v = ['a', 'b', 'c', 'd', 'e', 'f'];
        let got: Vec<(u64, char)> = Aligned::new(&p, &v).map(|(s, c)| (s, *c)).collect();
        assert_eq!(
            got,
            [
                (0, 'a'),
                (1, 'b'),
                (2, 'c'),
                (10, 'd'),
                (20, 'e'),
                (21, 'f')
            ]
        );
        assert_eq!(Aligned::new(&p, &v[..3]).count(), 3);
    }

    #[test]
    fn appending_and_mapping() {
        let mut a = Progressions::from_values(&[0, 1, 2]);
        a.extend_from(&Progressions::from_values(&[3, 4, 5]));
        assert_eq!(a.run_count(), 1);
        let keys = Progressions::from_values(&[(1 << 32), (1 << 32) + 1, (2 << 32), (2 << 32) + 1]);
        let steps = keys.map_affine(|k| ((k >> 32) - 1) * 100 + (k & 0xffff_ffff));
        assert_eq!(steps.iter().collect::<Vec<_>>(), [0, 1, 100, 101]);
    }
}
