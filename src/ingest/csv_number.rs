//! Number fields of the CSV fast path ([`super::csv_fast`]), read in place from the line's bytes,
//! and the exact decimal-to-`f64` conversion the JSON-lines and console fast paths share
//! ([`exact_f64`]).
//!
//! Every function reads a prefix of a field and returns its value and length, or says it cannot
//! (`None`, a length of 0): the caller then asks the full parser (`fast-float2`), and if that
//! fails too, the fast path gives up and the general parser decides. What these functions accept
//! they read to the same bits as `str::parse::<f32>` — checked on every input form in the tests
//! below and, through the whole fast path, against the general parser in `tests/fast_path.rs`.
//!
//! The exact conversion is Clinger's fast path (W. D. Clinger, "How to read floating point numbers
//! accurately", PLDI 1990): a decimal `m / 10^k` with `m < 2^24` and `10^k` both exact in `f32` is
//! correctly rounded by one IEEE division. The `%.5f` values V-JEPA's CSV logger writes below 10
//! (`d.ddddd`) are read with one 8-byte load (SWAR: "SIMD within a register", the digit trick of
//! simdjson and fast_float, Lemire 2021, "Number parsing at a gigabyte per second").

/// Exact powers of ten in `f32` (10^10 = 2^10·5^10 with 5^10 < 2^24).
const POW10_F32: [f32; 11] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// The common case of a logged value, `[-]digits[.digits]` with a mantissa below 2^24 and at most
/// 10 decimals, parsed straight to `f32` (Clinger's fast path, see the module comment). `None` for
/// anything else (exponents, long mantissas, `nan`, …).
#[inline]
pub fn simple_decimal(s: &[u8]) -> Option<(f32, usize)> {
    if let Some(parsed) = one_digit_five_decimals(s) {
        return Some(parsed);
    }
    let (negative, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        _ => (false, 0),
    };
    let mut m: u64 = 0;
    let mut digits = 0;
    let mut decimals: usize = 0;
    let mut seen_point = false;
    while let Some(&b) = s.get(i) {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            // At most 18 digits are accumulated, so `m` cannot overflow a u64.
            if digits == 18 {
                return None;
            }
            m = m * 10 + u64::from(d);
            digits += 1;
            decimals += usize::from(seen_point);
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else if b == b'e' || b == b'E' {
            return None;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 || m >= 1 << 24 || decimals > 10 {
        return None;
    }
    let v = if decimals == 0 {
        m as f32
    } else {
        m as f32 / POW10_F32[decimals]
    };
    Some((if negative { -v } else { v }, i))
}

/// `d.ddddd` — the `%.5f` the JEPA CSV loggers write for values below 10 — from one 8-byte load:
/// the point is dropped, the six digits are checked and combined in a `u64` without a loop, and
/// the eighth byte must end the number. `None` for any other shape.
#[inline]
pub fn one_digit_five_decimals(s: &[u8]) -> Option<(f32, usize)> {
    let bytes: [u8; 8] = s.get(..8)?.try_into().ok()?;
    let after = bytes[7];
    if bytes[1] != b'.' || after.is_ascii_digit() || matches!(after, b'.' | b'e' | b'E') {
        return None;
    }
    let word = u64::from_le_bytes(bytes);
    // "00" then d, d, d, d, d, d: eight digit characters, first in the lowest byte.
    let first = word & 0xff;
    let decimals = (word >> 16) & 0xff_ffff_ffff;
    let digits = 0x3030 | (first << 16) | (decimals << 24);
    let m = eight_digits(digits)?;
    Some((m as f32 / 1e5, 7))
}

/// Eight ASCII digits in a little-endian `u64` (most significant first in memory) as a number;
/// `None` when a byte is not a digit.
#[inline]
fn eight_digits(word: u64) -> Option<u32> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // Each byte in 0x30..=0x39: its high nibble is 3, and adding 6 does not carry into it.
    let high = 0xf0f0_f0f0_f0f0_f0f0;
    if word & high != ZEROS || (word.wrapping_add(0x0606_0606_0606_0606) & high) != ZEROS {
        return None;
    }
    let mut v = word - ZEROS;
    v = (v * 10) + (v >> 8); // pairs of digits in every other byte
    let pairs = v & 0x00ff_00ff_00ff_00ff;
    // Pairs 1 and 3 (×100, ×1) and pairs 0 and 2 (×1,000,000, ×10,000) summed in the top half.
    let v = ((pairs & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32))
        + ((pairs >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v as u32)
}

/// For a column whose values are not kept: whether a plain `[-]digits[.digits]` starts `s` (a
/// finite value, represented by 1.0) and its length, without computing the number; `(_, 0)`
/// when it is something else (`nan`, exponents, …), which the full parser then reads.
#[inline]
pub fn plain_number_kind(s: &[u8]) -> (f32, usize) {
    let mut i = usize::from(s.first() == Some(&b'-'));
    let start = i;
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - start;
    if int_digits > 38 {
        return (0.0, 0); // may overflow f32 to infinity: let the real parser decide
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        let frac = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if int_digits == 0 && i == frac {
            return (0.0, 0);
        }
    } else if int_digits == 0 {
        return (0.0, 0);
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        return (0.0, 0);
    }
    (1.0, i)
}

/// A run of ASCII digits at the start of `s` (a step, epoch or itr), as a number and its length;
/// `None` when there is none or it is beyond [`crate::model::MAX_STEP`] (2^53, the step rule of
/// every reader, `values::parse_whole`).
#[inline]
pub fn digits(s: &[u8]) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut len = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d >= 10 {
            break;
        }
        if len == 16 {
            return None; // beyond MAX_STEP (16 digits): the general parser decides
        }
        n = n * 10 + u64::from(d);
        len += 1;
    }
    (len > 0 && n <= crate::model::MAX_STEP).then_some((n, len))
}

/// Exact powers of ten in `f64` (10^22 = 2^22·5^22 with 5^22 < 2^53).
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A whole decimal text `[+-]digits[.digits][(e|E)[+-]digits]` (a digit on either side of the
/// point) as `f64`, to the same bits as `str::parse::<f64>`, by Clinger's fast path (see the
/// module comment): a mantissa below 2^53 times or divided by an exact power of ten up to 10^22 is
/// one correctly rounded IEEE operation. `None` when the text has another shape or the fast path
/// does not apply (more than 19 digits, a mantissa of 2^53 or more, a power of ten beyond ±22):
/// the caller then uses `str::parse`.
#[inline]
pub fn exact_f64(text: &[u8]) -> Option<f64> {
    let d = scan_decimal(text, true);
    if d.digits() == 0 || d.dangling_exponent || d.len != text.len() {
        return None;
    }
    d.exact()
}

/// The parts of a decimal number at the start of a text, `[sign] digits [. digits] [(e|E) [sign]
/// digits]`, gathered in one pass by [`scan_decimal`] for Clinger's fast path. The JSON-lines,
/// console and whole-cell readers each check their own grammar on these parts (a leading `+`, a
/// leading zero, digits around the point) and convert with [`Decimal::exact`], else `str::parse`
/// of the first `len` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    pub negative: bool,
    /// Bytes of the sign (0 or 1).
    pub sign_len: usize,
    /// The first 19 significant digits (no `u64` overflow).
    pub mantissa: u64,
    /// More than 19 digits: `mantissa` is not the value's, only `str::parse` is exact.
    pub too_many_digits: bool,
    /// Digits before and after the point.
    pub int_digits: usize,
    pub frac_digits: usize,
    pub has_point: bool,
    /// The exponent (0 without one; its magnitude capped at 100,000).
    pub exponent: i32,
    pub has_exponent: bool,
    /// An `e`/`E` (and sign) with no digits after it: not part of the number (not in `len`).
    pub dangling_exponent: bool,
    /// Bytes of the number, up to its last complete part.
    pub len: usize,
}

impl Decimal {
    /// Digits of the mantissa, both sides of the point.
    #[inline]
    pub fn digits(&self) -> usize {
        self.int_digits + self.frac_digits
    }

    /// The value by Clinger's fast path, when it applies (see [`clinger_f64`]).
    #[inline]
    pub fn exact(&self) -> Option<f64> {
        let decimals = i32::try_from(self.frac_digits).ok()?;
        (!self.too_many_digits)
            .then(|| clinger_f64(self.negative, self.mantissa, self.exponent - decimals))
            .flatten()
    }
}

/// Scans the decimal number at the start of `s` (`allow_plus`: whether a leading `+` is a sign).
/// Never fails: a text with no digits gives `digits() == 0`, and the caller decides.
// Measured (callgrind, 200k-line console log): left to the compiler this stays a call per
// number and the console reader runs 10% more instructions.
#[allow(clippy::inline_always)]
#[inline(always)]
pub fn scan_decimal(s: &[u8], allow_plus: bool) -> Decimal {
    let negative = s.first() == Some(&b'-');
    let sign_len = usize::from(negative || (allow_plus && s.first() == Some(&b'+')));
    let mut d = Decimal {
        negative,
        sign_len,
        mantissa: 0,
        too_many_digits: false,
        int_digits: 0,
        frac_digits: 0,
        has_point: false,
        exponent: 0,
        has_exponent: false,
        dangling_exponent: false,
        len: sign_len,
    };
    let mut i = sign_len;
    let mut significant = 0;
    let mut take = |digit: u8, d: &mut Decimal| {
        if significant < 19 {
            d.mantissa = d.mantissa * 10 + u64::from(digit);
            significant += 1;
        } else {
            d.too_many_digits = true;
        }
    };
    while let Some(digit) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|x| *x < 10) {
        take(digit, &mut d);
        d.int_digits += 1;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        d.has_point = true;
        i += 1;
        while let Some(digit) = s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|x| *x < 10) {
            take(digit, &mut d);
            d.frac_digits += 1;
            i += 1;
        }
    }
    d.len = i;
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut k = i + 1;
        let negative_exponent = s.get(k) == Some(&b'-');
        k += usize::from(matches!(s.get(k), Some(b'-' | b'+')));
        let start = k;
        let mut exponent = 0i32;
        while let Some(digit) = s.get(k).map(|b| b.wrapping_sub(b'0')).filter(|x| *x < 10) {
            exponent = (exponent * 10 + i32::from(digit)).min(100_000);
            k += 1;
        }
        if k > start {
            d.has_exponent = true;
            d.exponent = if negative_exponent {
                -exponent
            } else {
                exponent
            };
            d.len = k;
        } else {
            d.dangling_exponent = true;
        }
    }
    d
}

/// `±m · 10^power` correctly rounded when Clinger's fast path applies (`m` below 2^53, `power`
/// within ±22), `None` otherwise.
#[inline]
pub fn clinger_f64(negative: bool, m: u64, power: i32) -> Option<f64> {
    if m >= 1 << 53 {
        return None;
    }
    let scale = *POW10_F64.get(power.unsigned_abs() as usize)?;
    let v = if power >= 0 {
        m as f64 * scale
    } else {
        m as f64 / scale
    };
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_decimals_match_std_to_the_bit() -> Result<(), Box<dyn std::error::Error>> {
        for text in [
            "0.82586",
            "0.00000",
            "1758",
            "-0.25",
            "0.1",
            "16777215",
            "3.141592",
            "0.0000001234",
            "100.5",
            "-0",
        ] {
            let (v, n) = simple_decimal(text.as_bytes()).ok_or(text)?;
            assert_eq!(n, text.len());
            assert_eq!(v.to_bits(), text.parse::<f32>()?.to_bits(), "{text}");
        }
        for text in [
            "1e5",
            "nan",
            "inf",
            "16777216",
            "3.1415926",
            "0.12345678901",
            "",
            "-",
            ".",
        ] {
            assert!(simple_decimal(text.as_bytes()).is_none(), "{text}");
        }
        assert_eq!(simple_decimal(b"0.5,0.25"), Some((0.5, 3)));
        assert_eq!(simple_decimal(b"0.123456,"), Some((0.123456, 8)));
        Ok(())
    }

    #[test]
    fn five_decimals_from_one_load_match_std_to_the_bit() -> Result<(), Box<dyn std::error::Error>>
    {
        assert_eq!(one_digit_five_decimals(b"0.82586,1"), Some((0.82586, 7)));
        assert_eq!(one_digit_five_decimals(b"9.99999\n"), Some((9.99999, 7)));
        assert_eq!(one_digit_five_decimals(b"0.00000\r"), Some((0.0, 7)));
        for not_it in [
            &b"1.00000e5,"[..],
            b"0.123456,",
            b"0.1234,56",
            b"0.12a45,0",
            b"0.12/45,0", // '/' is '0' - 1
            b"0.12:45,0", // ':' is '9' + 1
            b"-0.1234,0",
            b"10.12345,",
            b"0,12345,0",
            b"0.12345", // fewer than 8 bytes: the loop reads it
            b"0.12345.1",
        ] {
            assert_eq!(one_digit_five_decimals(not_it), None, "{not_it:?}");
        }
        for x in 0..200_000u32 {
            let text = format!("{}.{:05},", x % 10, (x * 7919 + x / 10) % 100_000);
            let (v, n) = one_digit_five_decimals(text.as_bytes()).ok_or("not d.ddddd")?;
            assert_eq!(n, 7);
            assert_eq!(v.to_bits(), text[..7].parse::<f32>()?.to_bits(), "{text}");
        }
        Ok(())
    }

    #[test]
    fn eight_digits_reads_every_digit_in_every_place() {
        for (text, n) in [
            (b"00000000", 0),
            (b"12345678", 12_345_678),
            (b"99999999", 99_999_999),
            (b"00000001", 1),
            (b"10000000", 10_000_000),
        ] {
            assert_eq!(eight_digits(u64::from_le_bytes(*text)), Some(n));
        }
        for place in 0..8 {
            for bad in [b'/', b':', b' ', b'.', 0x00, 0xb0, b'a'] {
                let mut text = *b"12345678";
                text[place] = bad;
                assert_eq!(eight_digits(u64::from_le_bytes(text)), None, "{text:?}");
            }
        }
    }

    #[test]
    fn kinds_only_fields_are_validated_not_converted() {
        assert_eq!(plain_number_kind(b"1758,"), (1.0, 4));
        assert_eq!(plain_number_kind(b"-0.5\n"), (1.0, 4));
        assert_eq!(plain_number_kind(b".5,"), (1.0, 2));
        assert_eq!(plain_number_kind(b"nan,"), (0.0, 0));
        assert_eq!(plain_number_kind(b"1e5,"), (0.0, 0));
        assert_eq!(plain_number_kind(b"-,"), (0.0, 0));
        assert_eq!(plain_number_kind(b".,"), (0.0, 0));
        let huge = format!("{},", "9".repeat(39));
        assert_eq!(plain_number_kind(huge.as_bytes()), (0.0, 0));
    }

    #[test]
    fn digits_follow_the_step_rule() {
        assert_eq!(digits(b"1758,"), Some((1758, 4)));
        assert_eq!(digits(b"0"), Some((0, 1)));
        assert_eq!(digits(b",1"), None);
        assert_eq!(digits(b"9007199254740992"), Some((1 << 53, 16)));
        assert_eq!(digits(b"9007199254740993"), None);
        assert_eq!(digits(b"12345678901234567"), None);
    }

    #[test]
    fn exact_f64_matches_std_to_the_bit_or_declines() -> Result<(), Box<dyn std::error::Error>> {
        for text in [
            "0.82586",
            "0",
            "-0",
            "-0.0",
            "+1.5",
            "1758",
            "6.250e-04",
            "4.25e-02",
            "1.85e+03",
            "1E5",
            "5.",
            ".5",
            "0.7912345678901234",
            "9007199254740991",
            "1e22",
            "1e-22",
            "12345678.12345678",
        ] {
            let v = exact_f64(text.as_bytes()).ok_or(text)?;
            assert_eq!(v.to_bits(), text.parse::<f64>()?.to_bits(), "{text}");
        }
        for text in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1e23",
            "1e-23",
            "9007199254740993",
            "0.79123456789012345",
            "123456789.123456789",
            "3.4028235e38",
            "nan",
            "inf",
            "1,5",
            "1e5x",
            "1e12345",
        ] {
            assert!(exact_f64(text.as_bytes()).is_none(), "{text}");
        }
        // Every 4-digit mantissa at every decimal shift and exponent the loggers print.
        for m in (0..10_000u32).step_by(7) {
            for shift in 0..5 {
                for exp in [-30, -12, -4, 0, 3, 17] {
                    let digits = format!("{m:04}");
                    let text = format!("{}.{}e{exp}", &digits[..4 - shift], &digits[4 - shift..]);
                    let text = text.replace(".e", "e");
                    let text = if text.starts_with('.') {
                        format!("0{text}")
                    } else {
                        text
                    };
                    if let Some(v) = exact_f64(text.as_bytes()) {
                        assert_eq!(v.to_bits(), text.parse::<f64>()?.to_bits(), "{text}");
                    }
                }
            }
        }
        Ok(())
    }
}
