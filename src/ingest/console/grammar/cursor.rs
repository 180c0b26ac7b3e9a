//! A byte cursor with the few primitives the console line grammar needs.

use crate::ingest::csv_number::exact_f64;

pub(super) struct Cursor<'a> {
    pub(super) s: &'a [u8],
    pub(super) i: usize,
}

impl Cursor<'_> {
    pub(super) fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    pub(super) fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    pub(super) fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|b| b == b' ' || b == b'\t') {
            self.i += 1;
        }
    }
    pub(super) fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i.min(self.s.len())..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    pub(super) fn skip_until(&mut self, end: u8) {
        while let Some(b) = self.peek() {
            self.i += 1;
            if b == end {
                break;
            }
        }
    }

    /// A decimal number (or nan / inf), with the digits it had after the point. The text is
    /// converted exactly (`csv_number::exact_f64`, else `str::parse`: the same bits either way).
    pub(super) fn number(&mut self) -> Option<(f64, u32)> {
        let rest = &self.s[self.i.min(self.s.len())..];
        if matches!(rest.first(), Some(b'n' | b'N' | b'i' | b'I' | b'-')) {
            for word in [&b"nan"[..], b"-nan", b"inf", b"-inf"] {
                if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
                    self.i += word.len();
                    let v = std::str::from_utf8(word).ok()?.parse().ok()?;
                    return Some((v, 0));
                }
            }
        }
        let mut j = 0;
        if matches!(rest.first(), Some(b'-' | b'+')) {
            j += 1;
        }
        let digits_start = j;
        while rest.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        let mut decimals = 0;
        if rest.get(j) == Some(&b'.') {
            j += 1;
            while rest.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
                decimals += 1;
            }
        }
        if j == digits_start || (j == digits_start + 1 && rest[digits_start] == b'.') {
            return None;
        }
        if matches!(rest.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            if matches!(rest.get(k), Some(b'-' | b'+')) {
                k += 1;
            }
            let exp_start = k;
            while rest.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            if k > exp_start {
                j = k;
            }
        }
        let text = &rest[..j];
        let v: f64 = match exact_f64(text) {
            Some(v) => v,
            None => std::str::from_utf8(text).ok()?.parse().ok()?,
        };
        self.i += j;
        Some((v, decimals))
    }

    /// A whole number of at most 12 digits (an epoch, an iteration, a rank).
    pub(super) fn whole(&mut self) -> Option<u64> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i == start || self.i - start > 12 {
            return None;
        }
        Some(
            self.s[start..self.i]
                .iter()
                .fold(0, |n, d| n * 10 + u64::from(d - b'0')),
        )
    }
}
