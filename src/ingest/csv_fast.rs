//! The fast path for large numeric CSV logs (what the JEPA trainers write): one pass over each
//! line that parses every field in place (digits for the keys, `fast-float2` for values), two
//! chunks of the file parsed at once on the two cores, rows appended in file order.
//!
//! It handles the known quirks exactly as [`super::csv`] does — the header written again after a
//! restart, a row cut short right before that header or at the end of the file, `nan`/`inf`
//! tokens, empty cells, V-JEPA's zero grad norms, a last line without its newline — and gives up
//! on anything else (quotes, text, a different header, a damaged row, a number it cannot read):
//! the caller then reads the file again with the general parser, which has the final say on what
//! is valid and on every message. Equivalence is tested on every fixture.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::progress::Progress;
use super::table::{Chunk, TableBuilder, epoch_itr_key};
use crate::model::MISSING;

/// Bytes parsed by each of the two workers at a time.
pub const CHUNK_BYTES: usize = 8 << 20;

/// How fields map to the key and to table columns (from the general parser's schema).
#[derive(Clone, Debug)]
pub struct FastSchema {
    pub header: Vec<u8>,
    pub fields: usize,
    pub key: FastKey,
    /// For each field: its table column, or `None` (a key field).
    pub targets: Vec<Option<usize>>,
    pub zero_is_missing: Vec<bool>,
    pub delimiter: u8,
    /// A last line without its newline is a row killed mid-write (JEPA family).
    pub withhold_unterminated: bool,
    /// Fields whose column keeps only the kind of value (and where zero means nothing special):
    /// validated, not converted.
    pub kinds_only: Vec<bool>,
}

#[derive(Clone, Copy, Debug)]
pub enum FastKey {
    Step(usize),
    EpochItr { epoch: usize, itr: usize },
}

/// What the fast path learned besides the rows.
#[derive(Clone, Debug, Default)]
pub struct FastOutcome {
    pub restarts: u64,
    pub zeros_missing: Vec<u64>,
}

/// Why the fast path stopped: the general parser must read the file.
#[derive(Debug)]
pub struct GiveUp;

/// Reads the data lines of the open `file` after the header (which ends at byte `data_start`, on line 1)
/// into `builder`, `chunk_bytes` per worker at a time.
pub fn parse(
    mut file: &File,
    data_start: u64,
    schema: &FastSchema,
    builder: &mut TableBuilder,
    chunk_bytes: usize,
    progress: &Progress,
) -> Result<FastOutcome, GiveUp> {
    file.seek(SeekFrom::Start(data_start)).map_err(|_| GiveUp)?;
    if let Ok(meta) = file.metadata() {
        // ~57 bytes a row for V-JEPA logs; reserving avoids regrowing the columns. A row takes
        // at least one byte per field, so a wide table (10,000 columns) reserves no more rows
        // than the file can hold: about 4 bytes of memory per byte of file at most.
        let row_bytes = bytes_per_row_at_least(schema.fields);
        builder.reserve((meta.len().saturating_sub(data_start) / row_bytes) as usize);
    }
    let columns = builder.names().len();
    let mut outcome = FastOutcome {
        restarts: 0,
        zeros_missing: vec![0; schema.fields],
    };
    let mut carry: Vec<u8> = Vec::new();
    let mut line_base = 1u64; // lines before the chunk (the header is line 1)
    let mut pending_ragged: Option<(u64, usize)> = None;
    let mut eof = false;
    let chunk_bytes = chunk_bytes.max(64);
    let (mut part_a, mut part_b) = (
        ChunkResult::new(columns, schema.fields),
        ChunkResult::new(columns, schema.fields),
    );
    let mut buf: Vec<u8> = Vec::with_capacity(2 * chunk_bytes + 4096);
    while !eof {
        buf.clear();
        buf.append(&mut carry);
        let want = 2 * chunk_bytes;
        if buf.len() < want {
            // read_to_end fills the spare capacity without zeroing it first.
            let asked = (want - buf.len()) as u64;
            let got = file.take(asked).read_to_end(&mut buf).map_err(|_| GiveUp)?;
            eof = (got as u64) < asked;
            progress.advance(got as u64);
        }
        // Whole lines only, unless the file ends here.
        let cut = if eof {
            buf.len()
        } else {
            // No newline in two chunks: not a metrics log line; the general parser decides.
            memchr::memrchr(b'\n', &buf).ok_or(GiveUp)? + 1
        };
        carry.extend_from_slice(&buf[cut..]);
        let data = &buf[..cut];
        // Two halves split at a newline, parsed in parallel.
        let mid = match memchr::memchr(b'\n', &data[data.len() / 2..]) {
            Some(i) => data.len() / 2 + i + 1,
            None => data.len(),
        };
        let (a, b) = data.split_at(mid);
        let last_part = eof;
        let (ra, rb) = std::thread::scope(|scope| {
            let hb = scope.spawn(|| parse_chunk(b, schema, last_part, &mut part_b));
            let ra = parse_chunk(a, schema, last_part && b.is_empty(), &mut part_a);
            // A worker's panic is a panic here too (the fuzzers must see it), never a give-up.
            let rb = hb
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (ra, rb)
        });
        ra?;
        rb?;
        for r in [&part_a, &part_b] {
            // A row cut short at the end of the previous part is judged by what follows it.
            if let Some((line, fields)) = pending_ragged.take() {
                match r.first_line_is_header {
                    Some(true) => {
                        builder.skip(line, cut_short_before_restart(fields, schema.fields))
                    }
                    Some(false) => return Err(GiveUp),
                    None => pending_ragged = Some((line, fields)),
                }
            }
            for (line, reason) in &r.skipped {
                builder.skip(line_base + line, reason.clone());
            }
            if let Some((line, fields)) = r.trailing_ragged {
                pending_ragged = Some((line_base + line, fields));
            }
            outcome.restarts += r.restarts;
            for (z, n) in outcome.zeros_missing.iter_mut().zip(&r.zeros) {
                *z += n;
            }
            line_base += r.lines;
            builder.append_chunk(&r.chunk);
        }
    }
    if let Some((line, fields)) = pending_ragged {
        builder.skip(
            line,
            format!(
                "incomplete last line, {fields} of {} fields (killed mid-write?)",
                schema.fields
            ),
        );
    }
    Ok(outcome)
}

/// The fewest bytes a data row of `fields` fields is assumed to take, for reservations: 48 (a
/// short V-JEPA row) or one per field (a delimiter or newline each), whichever is more.
fn bytes_per_row_at_least(fields: usize) -> u64 {
    (fields as u64).max(48)
}

fn cut_short_before_restart(fields: usize, expected: usize) -> String {
    format!("row cut short by the restart that follows it ({fields} of {expected} fields)")
}

/// What one chunk held.
struct ChunkResult {
    chunk: Chunk,
    /// Lines in the chunk (blank ones included).
    lines: u64,
    /// (line within the chunk, 1-based; reason).
    skipped: Vec<(u64, String)>,
    /// Whether the first non-blank line repeats the header (`None`: no such line).
    first_line_is_header: Option<bool>,
    /// A row cut short as the chunk's last non-blank line: (line within the chunk, fields).
    trailing_ragged: Option<(u64, usize)>,
    restarts: u64,
    zeros: Vec<u64>,
}

impl ChunkResult {
    fn new(columns: usize, fields: usize) -> ChunkResult {
        ChunkResult {
            chunk: Chunk::new(columns),
            lines: 0,
            skipped: Vec::new(),
            first_line_is_header: None,
            trailing_ragged: None,
            restarts: 0,
            zeros: vec![0; fields],
        }
    }
}

/// Parses one chunk into `r` (cleared first; its buffers are reused chunk after chunk, so the
/// columns are not reallocated and zero-filled by the kernel every 8 MB).
fn parse_chunk(
    data: &[u8],
    schema: &FastSchema,
    is_last: bool,
    r: &mut ChunkResult,
) -> Result<(), GiveUp> {
    // Quoted fields are the general parser's business (one SIMD scan for the whole chunk).
    if memchr::memchr(b'"', data).is_some() {
        return Err(GiveUp);
    }
    r.chunk.clear();
    r.lines = 0;
    r.skipped.clear();
    r.first_line_is_header = None;
    r.trailing_ragged = None;
    r.restarts = 0;
    r.zeros.iter_mut().for_each(|z| *z = 0);
    let columns = r.chunk.columns.len();
    let rows_hint = data.len() / bytes_per_row_at_least(schema.fields) as usize + 1;
    for c in &mut r.chunk.columns {
        c.reserve(rows_hint);
    }
    let mut row = vec![MISSING; columns];
    let mut pending_ragged: Option<(u64, usize)> = None;
    let mut pos = 0usize;
    while pos < data.len() {
        let (line, next, terminated) = match memchr::memchr(b'\n', &data[pos..]) {
            Some(i) => (&data[pos..pos + i], pos + i + 1, true),
            None => (&data[pos..], data.len(), false),
        };
        pos = next;
        r.lines += 1;
        let line_no = r.lines;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line == schema.header.as_slice() {
            r.first_line_is_header.get_or_insert(true);
            if let Some((l, fields)) = pending_ragged.take() {
                r.skipped
                    .push((l, cut_short_before_restart(fields, schema.fields)));
            }
            r.restarts += 1;
            r.chunk.segment_starts.push(r.chunk.keys.len());
            continue;
        }
        r.first_line_is_header.get_or_insert(false);
        if pending_ragged.is_some() {
            return Err(GiveUp); // a damaged row in the middle: the general parser reports it
        }
        match parse_line(line, schema, &mut row, &mut r.zeros)? {
            Line::Row(key) => {
                if is_last && !terminated && schema.withhold_unterminated {
                    r.skipped.push((
                        line_no,
                        "last line has no newline (killed mid-write?)".into(),
                    ));
                    continue;
                }
                r.chunk.keys.push(key);
                for (column, v) in r.chunk.columns.iter_mut().zip(&row) {
                    column.push(*v);
                }
            }
            Line::NoValues => r.skipped.push((line_no, "no values in the row".into())),
            Line::Ragged(fields) => pending_ragged = Some((line_no, fields)),
        }
    }
    r.trailing_ragged = pending_ragged;
    Ok(())
}

enum Line {
    Row(u64),
    NoValues,
    /// Fewer or more fields than the header.
    Ragged(usize),
}

/// Parses one data line into `row` (table column order) and returns its key.
#[inline]
fn parse_line(
    line: &[u8],
    schema: &FastSchema,
    row: &mut [f32],
    zeros: &mut [u64],
) -> Result<Line, GiveUp> {
    let d = schema.delimiter;
    let (mut epoch, mut itr, mut step) = (0u64, 0u64, 0u64);
    let mut any = false;
    let mut i = 0usize;
    let mut field = 0usize;
    loop {
        if field >= schema.fields {
            return Ok(Line::Ragged(count_fields(line, d)));
        }
        let rest = &line[i..];
        let consumed = match schema.targets[field] {
            None => {
                let (n, len) = digits(rest).ok_or(GiveUp)?;
                match schema.key {
                    FastKey::Step(_) => step = n,
                    FastKey::EpochItr { epoch: e, .. } if e == field => epoch = n,
                    FastKey::EpochItr { .. } => itr = n,
                }
                len
            }
            Some(column) => {
                if rest.is_empty() || rest[0] == d {
                    row[column] = MISSING;
                    0
                } else {
                    // Columns that keep only kinds need the field validated, not its value.
                    let (v, len) = if schema.kinds_only[field] {
                        plain_number_kind(rest)
                    } else {
                        simple_decimal(rest).unwrap_or((0.0, 0))
                    };
                    let (v, len) = match (v, len) {
                        (v, len) if len > 0 => (v, len),
                        _ => fast_float2::parse_partial::<f32, _>(rest).map_err(|_| GiveUp)?,
                    };
                    let unsigned = rest.strip_prefix(b"-").unwrap_or(rest);
                    if v.is_infinite()
                        && unsigned
                            .first()
                            .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
                    {
                        // Digits beyond f32 (1e39 is finite): the general parser's rule.
                        return Err(GiveUp);
                    }
                    if schema.zero_is_missing[field] && v == 0.0 {
                        zeros[field] += 1;
                        row[column] = MISSING;
                    } else {
                        row[column] = v;
                        any = true;
                    }
                    len
                }
            }
        };
        i += consumed;
        field += 1;
        if i == line.len() {
            break;
        }
        if line[i] != d {
            return Err(GiveUp); // trailing text in a field (spaces, units, …)
        }
        i += 1;
        if i == line.len() {
            // A trailing delimiter: one more (empty) field.
            if field < schema.fields {
                if let Some(column) = schema.targets[field] {
                    row[column] = MISSING;
                } else {
                    return Err(GiveUp);
                }
            }
            field += 1;
            break;
        }
    }
    if field != schema.fields {
        return Ok(Line::Ragged(field));
    }
    if !any {
        return Ok(Line::NoValues);
    }
    let key = match schema.key {
        FastKey::Step(_) => step,
        FastKey::EpochItr { .. } => epoch_itr_key(epoch, itr).ok_or(GiveUp)?,
    };
    Ok(Line::Row(key))
}

/// For a column whose values are not kept: whether a plain `[-]digits[.digits]` starts `s` (a
/// finite value, represented by 1.0) and its length, without computing the number; `(_, 0)`
/// when it is something else (`nan`, exponents, …), which `fast-float2` then parses.
#[inline]
fn plain_number_kind(s: &[u8]) -> (f32, usize) {
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

/// Exact powers of ten in `f32` (10^10 = 2^10·5^10 with 5^10 < 2^24).
const POW10_F32: [f32; 11] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// The common case of a logged value, `[-]digits[.digits]` with a mantissa below 2^24 and at most
/// 10 decimals, parsed straight to `f32` (Clinger's fast path: both operands are exact in `f32`
/// and the IEEE division rounds correctly, so the result is the correctly rounded value, the same
/// bits `fast-float2` and `str::parse` give). `None` for anything else (exponents, long
/// mantissas, `nan`, …), which `fast-float2` then parses.
#[inline]
fn simple_decimal(s: &[u8]) -> Option<(f32, usize)> {
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
            decimals += seen_point as usize;
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

/// `d.ddddd` — the `%.5f` the JEPA CSV loggers write for values below 10 — without a loop: six
/// independent digit products instead of a chain of multiply-adds. The same exact fast path.
#[inline]
fn one_digit_five_decimals(s: &[u8]) -> Option<(f32, usize)> {
    let b: &[u8; 8] = s.get(..8)?.try_into().ok()?;
    let d = |i: usize| u32::from(b[i].wrapping_sub(b'0'));
    let digits = [d(0), d(2), d(3), d(4), d(5), d(6)];
    let after = b[7];
    if b[1] != b'.'
        || digits.iter().any(|x| *x >= 10)
        || after.is_ascii_digit()
        || matches!(after, b'.' | b'e' | b'E')
    {
        return None;
    }
    let m = digits[0] * 100_000
        + digits[1] * 10_000
        + digits[2] * 1_000
        + digits[3] * 100
        + digits[4] * 10
        + digits[5];
    Some((m as f32 / 1e5, 7))
}

/// A run of ASCII digits at the start of `s`, as a number and its length.
#[inline]
fn digits(s: &[u8]) -> Option<(u64, usize)> {
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
    // One step rule for every reader: whole numbers from 0 to 2^53 (`values::parse_whole`).
    (len > 0 && n <= crate::model::MAX_STEP).then_some((n, len))
}

fn count_fields(line: &[u8], d: u8) -> usize {
    line.iter().filter(|b| **b == d).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> FastSchema {
        FastSchema {
            header: b"epoch,itr,loss,grad-norm".to_vec(),
            fields: 4,
            key: FastKey::EpochItr { epoch: 0, itr: 1 },
            targets: vec![None, None, Some(0), Some(1)],
            zero_is_missing: vec![false, false, false, true],
            delimiter: b',',
            withhold_unterminated: true,
            kinds_only: vec![false; 4],
        }
    }

    #[test]
    fn simple_decimals_match_the_general_parser_to_the_bit()
    -> Result<(), Box<dyn std::error::Error>> {
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
        // The loop-free `d.ddddd` path, in a line and at its end.
        assert_eq!(simple_decimal(b"0.82586,1"), Some((0.82586, 7)));
        assert_eq!(simple_decimal(b"9.99999\n"), Some((9.99999, 7)));
        assert_eq!(simple_decimal(b"0.123456,"), Some((0.123456, 8)));
        assert_eq!(one_digit_five_decimals(b"1.00000e5,"), None);
        for x in 0..20_000u32 {
            let text = format!("{}.{:05},", x / 10_000, (x * 7919) % 100_000);
            let (v, n) = one_digit_five_decimals(text.as_bytes()).ok_or("not d.ddddd")?;
            assert_eq!(n, 7);
            assert_eq!(v.to_bits(), text[..7].parse::<f32>()?.to_bits(), "{text}");
        }
        Ok(())
    }

    #[test]
    fn lines_parse_in_place() {
        let s = schema();
        let mut row = vec![0.0; 2];
        let mut zeros = vec![0; 4];
        assert!(
            matches!(parse_line(b"3,17,0.25,nan", &s, &mut row, &mut zeros), Ok(Line::Row(k)) if Some(k) == epoch_itr_key(3, 17))
        );
        assert_eq!(row[0], 0.25);
        assert!(row[1].is_nan());
        assert!(matches!(
            parse_line(b"3,18,0.25,0.00000", &s, &mut row, &mut zeros),
            Ok(Line::Row(_))
        ));
        assert!(crate::model::is_missing(row[1]));
        assert_eq!(zeros[3], 1);
        assert!(matches!(
            parse_line(b"3,19,0.2", &s, &mut row, &mut zeros),
            Ok(Line::Ragged(3))
        ));
        assert!(matches!(
            parse_line(b"3,19,0.2,0.1,9", &s, &mut row, &mut zeros),
            Ok(Line::Ragged(5))
        ));
        assert!(matches!(
            parse_line(b"3,20,,", &s, &mut row, &mut zeros),
            Ok(Line::NoValues)
        ));
        assert!(parse_line(b"3,21,abc,0.1", &s, &mut row, &mut zeros).is_err());
        assert!(parse_line(b"3,21, 0.5,0.1", &s, &mut row, &mut zeros).is_err());
        assert!(parse_line(b"x,21,0.5,0.1", &s, &mut row, &mut zeros).is_err());
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
}
