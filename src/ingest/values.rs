//! Turning the text of one cell into a number, the same way for every format.
//!
//! Training code writes `nan`, `inf`, `-inf` (Python's `str(float)`), `NaN`/`Infinity` (JSON from
//! Python), and sometimes `None`. The first are *values* (a diverged loss is an event to report);
//! `None`, `null` and the empty cell mean "nothing logged here".

use crate::model::wide::is_marker;
use crate::model::{MAX_STEP, MISSING};

/// `x` as stored (`f32`): a finite value beyond the `f32` range is kept exactly beside the
/// column and never becomes an infinity, which would read as divergence ([`crate::model::wide`]).
pub use crate::model::narrow;

/// Why a cell is not a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellError {
    NotUtf8,
    NotANumber,
}

/// Parses a value cell: empty / `None` / `null` → [`MISSING`]; `nan`, `inf`, `Infinity` (any case,
/// signed) → non-finite values; anything else must be a decimal number. A finite number beyond
/// the `f32` range (`1e39`, `-2.5e300`) keeps its value ([`narrow`]); beyond `f64` (`1e309`) it
/// is an infinity.
pub fn parse_value(cell: &[u8]) -> Result<f32, CellError> {
    let cell = cell.trim_ascii();
    if cell.is_empty() {
        return Ok(MISSING);
    }
    let text = std::str::from_utf8(cell).map_err(|_| CellError::NotUtf8)?;
    match text.parse::<f32>() {
        Ok(v) if (v.is_infinite() && !is_infinity_word(text)) || is_marker(v) => {
            Ok(text.parse::<f64>().map_or(v, narrow))
        }
        Ok(v) => Ok(v),
        Err(_) if is_null_word(text) => Ok(MISSING),
        Err(_) => Err(CellError::NotANumber),
    }
}

/// `inf`, `+Infinity`, `-INF`, ... (what `f32::from_str` reads as an infinity by name).
fn is_infinity_word(text: &str) -> bool {
    let word = text.trim_start_matches(['+', '-']);
    word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity")
}

fn is_null_word(text: &str) -> bool {
    ["none", "null", "na", "n/a"]
        .iter()
        .any(|w| text.eq_ignore_ascii_case(w))
}

/// Parses a step / epoch / iteration cell: a non-negative whole number up to [`MAX_STEP`], also
/// when written as a float (`1200.0`, `1.2e3`).
pub fn parse_whole(cell: &[u8]) -> Option<u64> {
    let cell = cell.trim_ascii();
    if cell.is_empty() {
        return None;
    }
    if cell.iter().all(u8::is_ascii_digit) {
        let n: u64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
        return (n <= MAX_STEP).then_some(n);
    }
    let x: f64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
    whole_f64(x)
}

/// `x` as a step when it is a non-negative whole number up to [`MAX_STEP`].
pub fn whole_f64(x: f64) -> Option<u64> {
    (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= MAX_STEP as f64).then_some(x as u64)
}

/// What a number written with a locale's separators probably meant, for error messages:
/// `1,234,567` (thousands separators) or `0,8125` (a decimal comma). `None` for anything else.
pub fn locale_hint(cell: &[u8]) -> Option<&'static str> {
    let cell = cell.trim_ascii();
    let digits = cell.strip_prefix(b"-").unwrap_or(cell);
    let groups: Vec<&[u8]> = digits.split(|b| *b == b',').collect();
    if groups.len() < 2
        || groups
            .iter()
            .any(|g| g.is_empty() || !g.iter().all(u8::is_ascii_digit))
    {
        return None;
    }
    let thousands =
        groups[0].len() <= 3 && groups[0][0] != b'0' && groups[1..].iter().all(|g| g.len() == 3);
    Some(if thousands {
        "thousands separators? write plain numbers like 1234567"
    } else if groups.len() == 2 {
        "a decimal comma? jepa-doctor reads '.' as the decimal point"
    } else {
        return None;
    })
}

/// A short, printable rendering of a cell for error messages.
pub fn show_cell(cell: &[u8]) -> String {
    let text = String::from_utf8_lossy(cell);
    let mut shown: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        shown.push('…');
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_missing;

    #[test]
    fn non_finite_tokens_are_values_and_empty_is_missing() {
        assert!(parse_value(b"nan").is_ok_and(f32::is_nan));
        assert!(parse_value(b"NaN").is_ok_and(|v| !is_missing(v)));
        assert_eq!(parse_value(b"-inf"), Ok(f32::NEG_INFINITY));
        assert_eq!(parse_value(b"+inf"), Ok(f32::INFINITY));
        assert_eq!(parse_value(b"Infinity"), Ok(f32::INFINITY));
        assert_eq!(parse_value(b"1e309"), Ok(f32::INFINITY));
        assert_eq!(parse_value(b"-1e309"), Ok(f32::NEG_INFINITY));
        assert_eq!(parse_value(b"-INF"), Ok(f32::NEG_INFINITY));
        assert!(parse_value(b"").is_ok_and(is_missing));
        assert!(parse_value(b"  ").is_ok_and(is_missing));
        assert!(parse_value(b"None").is_ok_and(is_missing));
        assert_eq!(parse_value(b" 0.82586 "), Ok(0.82586));
        assert_eq!(parse_value(b"-0"), Ok(0.0));
    }

    #[test]
    fn values_beyond_f32_keep_their_value() {
        use crate::model::widen;
        for (cell, x) in [
            (&b"1e39"[..], 1e39),
            (b"-1e39", -1e39),
            (b" 2.5E+300 ", 2.5e300),
            (b"3e38", 3e38),
            (b"1.7976931348623157e308", f64::MAX),
        ] {
            let v = parse_value(cell);
            assert!(v.clone().is_ok_and(f32::is_finite), "{cell:?}");
            assert_eq!(v.map(widen), Ok(x), "{cell:?}");
        }
        assert_eq!(parse_value(b"1e38").map(widen), Ok(f64::from(1e38f32)));
    }

    #[test]
    fn locale_spellings_get_a_hint() {
        assert!(locale_hint(b"1,234").is_some_and(|h| h.contains("thousands")));
        assert!(locale_hint(b"-12,345,678").is_some_and(|h| h.contains("thousands")));
        assert!(locale_hint(b"0,81250").is_some_and(|h| h.contains("decimal comma")));
        assert!(locale_hint(b"12,5").is_some_and(|h| h.contains("decimal comma")));
        assert_eq!(locale_hint(b"1,2,3"), None);
        assert_eq!(locale_hint(b"0.5"), None);
        assert_eq!(locale_hint(b"a,b"), None);
        assert_eq!(locale_hint(b","), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(parse_value(b"1,234"), Err(CellError::NotANumber));
        assert_eq!(parse_value(b"abc"), Err(CellError::NotANumber));
        assert_eq!(parse_value(b"\xff\xfe"), Err(CellError::NotUtf8));
    }

    #[test]
    fn whole_numbers_accept_float_spelling() {
        assert_eq!(parse_whole(b"42"), Some(42));
        assert_eq!(parse_whole(b"1200.0"), Some(1200));
        assert_eq!(parse_whole(b"1.2e3"), Some(1200));
        assert_eq!(parse_whole(b"1.5"), None);
        assert_eq!(parse_whole(b"-1"), None);
        assert_eq!(parse_whole(b"nan"), None);
        assert_eq!(parse_whole(b""), None);
    }
}
