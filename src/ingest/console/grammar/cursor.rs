//! A byte cursor with the few primitives the console line grammar needs.

use crate::ingest::csv_number::scan_decimal;

/// How a field's value may end besides a delimiter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueEnd {
    /// The losses (`loss: 0.826 | p0.826 r0.883`): nothing but a delimiter; letters or a comma
    /// and a digit after the number are an error.
    Bare,
    /// A side field (`[gpu: 1758.5 ms]`, `[mem: 1.39e+03]`): a unit may follow the number
    /// directly (`1758.5ms`); a comma and a digit is an error (a decimal comma).
    Unit,
    /// A value of a list (`[0.31,0.20]`): a unit may follow, a comma separates values.
    List,
}

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
    /// converted exactly (Clinger's fast path, else `str::parse`: the same bits either way).
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
        // Sign, digits around the point and a complete exponent; Clinger's fast path where it
        // applies, else `str::parse` of the same bytes.
        let d = scan_decimal(rest, true);
        if d.digits() == 0 {
            return None;
        }
        let j = d.len;
        let v: f64 = match d.exact() {
            Some(v) => v,
            None => std::str::from_utf8(&rest[..j]).ok()?.parse().ok()?,
        };
        let decimals = u32::try_from(d.frac_digits).ok()?;
        self.i += j;
        Some((v, decimals))
    }

    /// A field's value: [`Self::number`] where a value ends — at a space, `|`, `,`, `]`, `)` or
    /// the line's end. `Ok(None)` when no number starts here; an error naming the text when one
    /// runs on into a point, a digit group or an unfinished exponent or prefix (`1e`, `1e+`,
    /// `0x10`, `1.2.3`, `1e5e5`, `0_5`), or, by [`ValueEnd`], into letters (`0.5abc`) or a comma
    /// and a digit (`1,5`): never read as its longest numeric prefix.
    pub(super) fn value(&mut self, end: ValueEnd) -> Result<Option<(f64, u32)>, String> {
        let start = self.i;
        let Some(v) = self.number() else {
            return Ok(None);
        };
        let after = |k: usize| self.s.get(self.i + k).copied();
        let runs_on = match self.peek() {
            Some(b'.' | b'_' | b'+') => true,
            Some(b) if b.is_ascii_digit() => true,
            // `1e`, `1e+`, `0x10`: an exponent or a prefix that never came; `1.5em`, `2xl`
            // would be units.
            Some(b'e' | b'E' | b'x' | b'X')
                if !after(1).is_some_and(|b| b.is_ascii_alphabetic()) =>
            {
                true
            }
            Some(b) if b.is_ascii_alphabetic() => end == ValueEnd::Bare,
            Some(b',') => end != ValueEnd::List && after(1).is_some_and(|b| b.is_ascii_digit()),
            _ => false,
        };
        if !runs_on {
            return Ok(Some(v));
        }
        let end = self.s[start..]
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b'|' | b']' | b')'))
            .map_or(self.s.len(), |n| start + n);
        let text = String::from_utf8_lossy(&self.s[start..end]);
        Err(format!(
            "`{}` is not a number",
            text.chars().take(30).collect::<String>()
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every number read equals `str::parse` of the bytes it consumed, to the bit.
    #[test]
    fn numbers_are_read_to_the_bits_of_std() {
        let mut texts: Vec<String> = [
            "0.826",
            "-0.000",
            "+1.5",
            ".5",
            "5.",
            "6.25e-04",
            "1.85e+03",
            "1E5",
            "1e",
            "1e+",
            "12345678901234567890.5",
            "0.79123456789012345",
            "1e400",
            "-1e-400",
            "nan",
            "-inf",
            "4.9e-324",
            "3.4028235e38",
            "007.50",
            "1.5ms",
            "2.0]",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        for m in (0..100_000u64).step_by(97) {
            for shift in 0..6 {
                let digits = format!("{m:06}");
                texts.push(format!("{}.{}", &digits[..6 - shift], &digits[6 - shift..]));
                texts.push(format!("-{}.{}e-{shift}", &digits[..1], &digits[1..]));
            }
        }
        for text in &texts {
            let mut c = Cursor {
                s: text.as_bytes(),
                i: 0,
            };
            if let Some((v, _)) = c.number() {
                let consumed = &text[..c.i];
                let expected: f64 = consumed.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(v.to_bits(), expected.to_bits(), "{text} ({consumed})");
            }
        }
    }
}
