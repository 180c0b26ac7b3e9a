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

use crate::ingest::csv_number::exact_f64;
use crate::ingest::values::{narrow, whole_f64};
use crate::model::MAX_STEP;

/// One `"key": value` of a flat record.
#[derive(Clone, Debug)]
pub(super) struct FlatField {
    /// Where the key's bytes (between the quotes) are in the batch text.
    pub(super) key: Range<u32>,
    /// The value as stored (`values::narrow` of the JSON number, as the general path stores it).
    pub(super) value: f32,
    /// The step it stands for when it is the record's key: a whole number from 0 to 2^53 as
    /// `record::step_of_number` reads it, `None` when it is not one (the general path then
    /// decides, with its message).
    pub(super) step: Option<u64>,
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
        let (value, step, len) = value(&line[i..])?;
        out.push(FlatField {
            key: base + u32::try_from(key_start).ok()?..base + u32::try_from(key_end).ok()?,
            value,
            step,
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
    let end = memchr::memchr2(b'"', b'\\', s)?;
    (s[end] == b'"' && s[..end].iter().all(|b| *b >= 0x20)).then_some(end)
}

/// A value: (stored value, step, length), for a JSON number or a bare Python token.
fn value(s: &[u8]) -> Option<(f32, Option<u64>, usize)> {
    for (token, v) in [
        (&b"NaN"[..], f32::NAN),
        (b"Infinity", f32::INFINITY),
        (b"-Infinity", f32::NEG_INFINITY),
    ] {
        if s.starts_with(token) {
            // `sentinel_value` in the general path; never a step.
            return Some((v, None, token.len()));
        }
    }
    let len = json_number_len(s)?;
    let text = &s[..len];
    let x = match exact_f64(text) {
        Some(x) => x,
        None => {
            // The full conversion; values `serde_json` refuses (out of range) or may read
            // otherwise (underflow, subnormals) are left to it.
            let x: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
            if !x.is_normal() {
                return None;
            }
            x
        }
    };
    Some((narrow(x), step_of(text, x), len))
}

/// The step a number stands for, as `record::step_of_number` reads it: a non-negative integer
/// up to [`MAX_STEP`], or a fraction or exponent form holding a whole number (`1200.0`).
/// Negative numbers and integers too long for a `u64` are `None` (give up when used as a step).
fn step_of(text: &[u8], x: f64) -> Option<u64> {
    if text.first() == Some(&b'-') {
        return None;
    }
    if text.iter().all(u8::is_ascii_digit) {
        if text.len() > 19 {
            return None;
        }
        let n = text.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        return (n <= MAX_STEP).then_some(n);
    }
    whole_f64(x)
}

/// The length of a JSON number at the start of `s` (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`);
/// `None` when `s` does not start with one.
fn json_number_len(s: &[u8]) -> Option<usize> {
    let digits_from = |i: usize| {
        i + s[i.min(s.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = usize::from(s.first() == Some(&b'-'));
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_from(i),
        _ => return None,
    }
    if s.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
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
                    (key.to_string(), f.value, f.step)
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
