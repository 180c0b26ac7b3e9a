//! The fast path of JSON lines: the common record shape, one flat object of plain keys and
//! numbers (`{"epoch": 1, "itr": 0, "loss": 0.82586, "lr": 6.25e-04}`), read from the borrowed
//! line without building a `serde_json::Value`, flattening into owned names or allocating.
//!
//! [`read_flat_line`] accepts a line only when it is sure to read it as the general path
//! (`serde_json` after [`super::translate_python_tokens`], then `record::flatten_record`) does:
//! keys without escapes or control characters, values that are JSON numbers or Python's bare
//! `NaN`, `Infinity`, `-Infinity`, nothing nested, nothing after the closing brace. Anything else
//! (strings, nesting, escapes, `null`, malformed text, a number `serde_json` would refuse or that
//! the exact conversion cannot read) gives up, and the line goes to the general path, which also
//! writes every skip reason. `tests/json_fast_path.rs`-style random files check the two paths
//! agree to the bit (`json/fast_tests.rs`).

use std::ops::Range;

use crate::ingest::csv_number::scan_decimal;
use crate::ingest::values::{narrow, whole_f64};
use crate::model::MAX_STEP;

/// One `"key": number` of a flat record.
#[derive(Clone, Debug)]
pub(super) struct FlatField {
    /// Where the key's bytes (between the quotes) are in the batch text.
    pub(super) key: Range<u32>,
    /// The number as `serde_json` reads it (NaN and ±infinity for Python's tokens).
    x: f64,
    /// The number when it is written as a non-negative integer of at most 19 digits, else
    /// [`NOT_AN_INTEGER`] (what `serde_json` keeps as a `u64` and as a float tells the step apart).
    integer: u64,
}

const NOT_AN_INTEGER: u64 = u64::MAX;

impl FlatField {
    /// The value as stored (`values::narrow`, as the general path stores a JSON number).
    pub(super) fn value(&self) -> f32 {
        narrow(self.x)
    }

    /// The step it stands for as the record's key, as `record::step_of_number` reads it: an
    /// integer up to [`MAX_STEP`], or a float holding a whole number (`1200.0`, `-0`); `None`
    /// when it is not one (the general path then decides, with its message).
    pub(super) fn step(&self) -> Option<u64> {
        if self.integer == NOT_AN_INTEGER {
            whole_f64(self.x)
        } else {
            (self.integer <= MAX_STEP).then_some(self.integer)
        }
    }
}

/// Reads `line` (its first byte at `base` in the batch text) as a flat record, appending its
/// fields to `out`; `false` (and `out` as it was) when the line is not of that shape.
pub(super) fn read_flat_line(line: &[u8], base: usize, out: &mut Vec<FlatField>) -> bool {
    let start = out.len();
    let ok = fields(line, base, out).is_some();
    if !ok {
        out.truncate(start);
    }
    ok
}

/// Whether two lines' fields have the same keys in the same order (`text`: the batch text).
pub(super) fn same_keys(text: &[u8], a: &[FlatField], b: &[FlatField]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let key = |f: &FlatField| &text[f.key.start as usize..f.key.end as usize];
            key(x) == key(y)
        })
}

fn fields(line: &[u8], base: usize, out: &mut Vec<FlatField>) -> Option<()> {
    let base = u32::try_from(base).ok()?;
    let mut i = skip_space(line, usize::from(*line.first()? == b'{'));
    if i == 0 || line.get(i) == Some(&b'}') {
        return None; // not an object, or an empty one (the general path words it)
    }
    loop {
        if line.get(i) != Some(&b'"') {
            return None;
        }
        let key_start = i + 1;
        let key_len = plain_key(&line[key_start..])?;
        let key_end = key_start + key_len;
        i = skip_space(line, key_end + 1);
        if line.get(i) != Some(&b':') {
            return None;
        }
        i = skip_space(line, i + 1);
        let (x, integer, len) = value(&line[i..])?;
        out.push(FlatField {
            key: base + u32::try_from(key_start).ok()?..base + u32::try_from(key_end).ok()?,
            x,
            integer,
        });
        i = skip_space(line, i + len);
        match line.get(i) {
            Some(b',') => i = skip_space(line, i + 1),
            Some(b'}') => return (skip_space(line, i + 1) == line.len()).then_some(()),
            _ => return None,
        }
    }
}

/// JSON's whitespace.
fn skip_space(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The length of a key up to its closing quote; `None` for an escape, a control character or
/// no closing quote (the general path decodes those).
fn plain_key(s: &[u8]) -> Option<usize> {
    // Keys are short: a plain loop beats a vectorised search here.
    let end = s
        .iter()
        .position(|b| matches!(b, b'"' | b'\\') || *b < 0x20)?;
    (s[end] == b'"').then_some(end)
}

/// A value: (number, integer, length), for a JSON number or a bare Python token.
fn value(s: &[u8]) -> Option<(f64, u64, usize)> {
    match s.first()? {
        b'N' if s.starts_with(b"NaN") => Some((f64::NAN, NOT_AN_INTEGER, 3)),
        b'I' if s.starts_with(b"Infinity") => Some((f64::INFINITY, NOT_AN_INTEGER, 8)),
        b'-' if s.starts_with(b"-Infinity") => Some((f64::NEG_INFINITY, NOT_AN_INTEGER, 9)),
        _ => json_number(s),
    }
}

/// A JSON number at the start of `s` (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`) in one
/// pass: (value, integer, length). The value is exact (Clinger's fast path, else `str::parse`);
/// `None` when `s` does not start with a number, or for values `serde_json` refuses (beyond
/// `f64`) or might read otherwise (underflow to zero or subnormals): the general path decides.
fn json_number(s: &[u8]) -> Option<(f64, u64, usize)> {
    let d = scan_decimal(s, false);
    let leading_zero = d.int_digits > 1 && s[d.sign_len] == b'0';
    if d.int_digits == 0
        || leading_zero
        || (d.has_point && d.frac_digits == 0)
        || d.dangling_exponent
    {
        return None;
    }
    let x = match d.exact() {
        Some(x) => x,
        None => {
            let x: f64 = std::str::from_utf8(&s[..d.len]).ok()?.parse().ok()?;
            if !x.is_normal() {
                return None;
            }
            x
        }
    };
    let integer_form = !d.has_point && !d.has_exponent;
    let integer = if integer_form && !d.negative && !d.too_many_digits {
        d.mantissa
    } else {
        NOT_AN_INTEGER
    };
    Some((x, integer, d.len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Option<Vec<(String, f32, Option<u64>)>> {
        let mut out = Vec::new();
        read_flat_line(line.as_bytes(), 0, &mut out).then(|| {
            out.iter()
                .map(|f| {
                    let key = &line[f.key.start as usize..f.key.end as usize];
                    (key.to_string(), f.value(), f.step())
                })
                .collect()
        })
    }

    #[test]
    fn flat_numeric_records_are_read_in_place() {
        let fields = read(r#"{"epoch": 1, "itr": 0, "loss": 0.82586, "lr": 6.250e-04, "x":-0}"#);
        let fields = fields.expect("a flat record");
        assert_eq!(fields[0], ("epoch".into(), 1.0, Some(1)));
        assert_eq!(fields[2], ("loss".into(), 0.82586, None));
        assert_eq!(fields[3].1, 6.25e-4);
        assert_eq!(fields[4].1.to_bits(), (-0.0f32).to_bits());
        let python = read(r#"{"step":1200.0,"a":NaN,"b":-Infinity}"#).expect("flat");
        assert_eq!(python[0].2, Some(1200));
        assert!(python[1].1.is_nan());
        assert_eq!(python[2].1, f32::NEG_INFINITY);
    }

    #[test]
    fn anything_else_is_left_to_the_general_path() {
        for line in [
            "{}",
            r#"{"a": "text"}"#,
            r#"{"a": {"b": 1}}"#,
            r#"{"a\"b": 1}"#,
            r#"{"a": 1,}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": +1}"#,
            r#"{"a": 1e400}"#,
            r#"{"a": 1e-400}"#,
            r#"{"a": null}"#,
            r#"{"a": true}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1"#,
            "[1]",
            "{\"a\u{1}\": 1}",
            r#"{"a": NaNx}"#,
        ] {
            assert!(read(line).is_none(), "{line}");
        }
    }
}
