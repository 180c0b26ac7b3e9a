//! CSV and TSV logs: the V-JEPA family (`epoch,itr,...`) and any table with a step-like column.
//!
//! Quirks handled here, all seen in logs the upstream code writes:
//! - the header written again mid-file when a run restarts (a restart marker, see [`super::table`]);
//! - a row cut short by a kill: the last line, or a line directly followed by a restart header,
//!   is skipped with a warning; a short or long row anywhere else is an error (the file is damaged);
//! - `nan` / `inf` / `-inf` tokens (values, counted later);
//! - V-JEPA's grad-norm columns hold `0.00000` while clipping is inactive (warmup): missing, not 0;
//! - for the JEPA family a last line without its newline is a row killed mid-write: skipped.
//!
//! Columns whose first value is not a number (run names, phases) are ignored with a warning;
//! a non-number later in a numeric column is an error naming file and line.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

use csv::{ByteRecord, ReaderBuilder};

pub use super::csv_fast::{parse_file_fast, parse_open_file_fast};
pub use super::csv_schema::{CsvOptions, MAX_NAME_BYTES};
use super::csv_schema::{finish, is_header_like, parse_key, schema_for};
use super::table::TableBuilder;
use super::values::{CellError, locale_hint, parse_value, show_cell};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{MISSING, is_missing};

/// Parses one CSV/TSV source into a table.
pub fn parse(reader: impl Read, source: &Source, opts: &CsvOptions) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let breaks = Rc::new(RefCell::new(LineBreaks::default()));
    let mut tracked = TrackLastByte::new(reader, Rc::clone(&breaks));
    let mut rdr = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(&mut tracked);
    let mut record = ByteRecord::new();
    let read = |rdr: &mut csv::Reader<_>, record: &mut ByteRecord| -> Result<bool, IngestError> {
        rdr.read_byte_record(record)
            .map_err(|e| csv_error(path, &e, &breaks))
    };
    // The physical line of the record just read (the csv reader counts records, not blank
    // lines, and its record positions include the blank lines before a record): the line of
    // the record's last byte, its terminator, which follows every blank line.
    let line_of = |rdr: &csv::Reader<_>| {
        let end = rdr.position().byte();
        breaks.borrow_mut().line_at(end.saturating_sub(1))
    };

    if !read(&mut rdr, &mut record)? {
        return Err(IngestError::Empty { path: path.into() });
    }
    let mut builder = TableBuilder::with_policy(path, opts.values.clone());
    let mut schema = schema_for(&record, line_of(&rdr), &mut builder, opts)?;
    let mut text = TextColumns::new(schema.header.len());

    let jepa_family = opts.format.is_jepa_family();
    let mut restarts = 0u64;
    let mut values: Vec<f32> = Vec::new();
    // A short/long row is judged by what follows it.
    let mut pending_ragged: Option<(u64, usize)> = None;
    // A parsed row waits one record so an unterminated last line can be withheld.
    let mut pending_row: Option<(u64, u64)> = None;
    let mut pending_values: Vec<f32> = Vec::new();
    // Zero grad norms read as missing, per table column (the header may change at a restart).
    let mut zeros_missing: Vec<u64> = Vec::new();

    while read(&mut rdr, &mut record)? {
        let line = line_of(&rdr);
        if is_header_like(&record, &schema) {
            if let Some((ragged_line, fields)) = pending_ragged.take() {
                builder.skip(
                    ragged_line,
                    format!(
                        "row cut short by the restart that follows it ({fields} of {} fields)",
                        schema.header.len()
                    ),
                );
            }
            // The row held back belongs to the segment before the restart (and to its columns).
            flush_pending(&mut builder, &mut pending_row, &pending_values);
            if record.iter().ne(schema.header.iter().map(Vec::as_slice)) {
                schema = schema_for(&record, line, &mut builder, opts)?;
                text = TextColumns::new(schema.header.len());
            }
            restarts += 1;
            builder.restart();
            continue;
        }
        if let Some((ragged_line, fields)) = pending_ragged.take() {
            return Err(ragged_error(path, ragged_line, fields, schema.header.len()));
        }
        if record.len() != schema.header.len() {
            pending_ragged = Some((line, record.len()));
            continue;
        }
        let key = parse_key(&record, schema.key, path, line)?;
        values.clear();
        values.resize(builder.names().len(), MISSING);
        let mut any_value = false;
        for (field, cell) in record.iter().enumerate() {
            let Some(column) = schema.targets[field] else {
                continue;
            };
            let mut v = match parse_value(cell) {
                Ok(v) => v,
                Err(_) if text.undecided[field] => {
                    // The first value of this column is text: the column is not a metric.
                    if let Some(hint) = locale_hint(cell) {
                        text.hint
                            .get_or_insert_with(|| format!("{}: {hint}", show_cell(cell)));
                    }
                    builder.ignore_column(column);
                    schema.targets[field] = None;
                    text.undecided[field] = false;
                    builder.warn(format!(
                        "{path}:{line}: column '{}' holds text ({}); ignored",
                        crate::human::escape_control(&String::from_utf8_lossy(
                            &schema.header[field]
                        )),
                        show_cell(cell)
                    ));
                    continue;
                }
                Err(err) => {
                    let what = match err {
                        CellError::NotUtf8 => "is not valid UTF-8",
                        CellError::NotANumber => "is not a number",
                    };
                    return Err(IngestError::at(
                        path,
                        line,
                        format!(
                            "column '{}': {} {what}{}",
                            String::from_utf8_lossy(&schema.header[field]),
                            show_cell(cell),
                            locale_hint(cell).map_or(String::new(), |h| format!(" ({h})"))
                        ),
                    ));
                }
            };
            if !is_missing(v) {
                text.undecided[field] = false;
                if schema.zero_is_missing[field] && v == 0.0 {
                    if zeros_missing.len() <= column {
                        zeros_missing.resize(column + 1, 0);
                    }
                    zeros_missing[column] += 1;
                    v = MISSING;
                } else {
                    any_value = true;
                }
            }
            values[column] = v;
        }
        if !any_value && values.iter().all(|v| is_missing(*v)) {
            builder.skip(line, "no values in the row");
            continue;
        }
        flush_pending(&mut builder, &mut pending_row, &pending_values);
        pending_row = Some((line, key));
        std::mem::swap(&mut pending_values, &mut values);
    }
    drop(rdr);

    let ends_with_newline = matches!(tracked.last, Some(b'\n') | Some(b'\r') | None);
    if let Some((ragged_line, fields)) = pending_ragged {
        builder.skip(
            ragged_line,
            format!(
                "incomplete last line, {fields} of {} fields (killed mid-write?)",
                schema.header.len()
            ),
        );
    } else if let Some((line, _)) = pending_row.filter(|_| jepa_family && !ends_with_newline) {
        builder.skip(line, "last line has no newline (killed mid-write?)");
        pending_row = None;
    }
    flush_pending(&mut builder, &mut pending_row, &pending_values);
    finish(
        builder,
        &schema,
        text.hint.as_deref(),
        &zeros_missing,
        restarts,
        opts,
    )
}

/// What the general parser learns about text columns as it reads: a field whose first non-empty
/// cell is not a number is a text column (run names, phases), ignored with a warning.
struct TextColumns {
    /// Fields whose kind is not decided yet (no non-empty cell seen).
    undecided: Vec<bool>,
    /// Why a column that holds text may have been meant as numbers (`0,81`: a decimal comma).
    hint: Option<String>,
}

impl TextColumns {
    fn new(fields: usize) -> TextColumns {
        TextColumns {
            undecided: vec![true; fields],
            hint: None,
        }
    }
}

fn flush_pending(builder: &mut TableBuilder, pending: &mut Option<(u64, u64)>, values: &[f32]) {
    if let Some((_, key)) = pending.take() {
        builder.push_values(key, values);
    }
}

fn ragged_error(path: &str, line: u64, found: usize, expected: usize) -> IngestError {
    IngestError::at(
        path,
        line,
        format!(
            "row has {found} field{}, the header has {expected} (damaged or mixed-up file)",
            if found == 1 { "" } else { "s" }
        ),
    )
}

fn csv_error(path: &str, err: &csv::Error, breaks: &RefCell<LineBreaks>) -> IngestError {
    match err.kind() {
        csv::ErrorKind::Io(e) => match e.get_ref().and_then(|i| i.downcast_ref::<LineTooLong>()) {
            Some(too_long) => IngestError::at(path, too_long.line, too_long.to_string()),
            None => IngestError::io(path, std::io::Error::new(e.kind(), e.to_string())),
        },
        _ => {
            let line = err
                .position()
                .map_or(0, |p| breaks.borrow_mut().line_at(p.byte()));
            IngestError::at(path, line, err.to_string())
        }
    }
}

/// The longest line the CSV reader holds in memory. Metrics log lines are a few hundred bytes;
/// a longer one is not a log (a binary, a minified dump) and would otherwise be buffered whole.
pub const MAX_LINE_BYTES: u64 = 16 << 20;

/// The line breaks (`\n`, `\r\n`, or a lone `\r`, as the csv reader counts them) of the bytes
/// read so far and not yet asked about, so that a record's byte offset gives its physical line:
/// blank lines and CRLF endings counted exactly, the same for a file and for a pipe. Offsets are
/// asked in increasing order, so only the breaks the csv reader has buffered ahead are kept.
#[derive(Debug, Default)]
struct LineBreaks {
    /// Offsets of breaks not yet passed.
    ahead: VecDeque<u64>,
    /// Breaks before the last offset asked about.
    passed: u64,
    /// Bytes scanned so far.
    scanned: u64,
    /// A `\r` ending the last chunk: a break unless a `\n` follows.
    pending_cr: Option<u64>,
}

impl LineBreaks {
    fn scan(&mut self, bytes: &[u8]) {
        let base = self.scanned;
        if let Some(cr) = self.pending_cr.take()
            && bytes.first() != Some(&b'\n')
        {
            self.ahead.push_back(cr);
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if bytes[i] == b'\n' {
                self.ahead.push_back(base + i as u64);
            } else if i + 1 == bytes.len() {
                self.pending_cr = Some(base + i as u64);
            } else if bytes[i + 1] != b'\n' {
                self.ahead.push_back(base + i as u64);
            }
        }
        self.scanned += bytes.len() as u64;
    }

    /// The 1-based line of the byte at `offset`.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.ahead.front().is_some_and(|b| *b < offset) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A line over [`MAX_LINE_BYTES`], reported through the CSV reader as an I/O error.
#[derive(Debug, thiserror::Error)]
#[error("line {line} is longer than {} MiB: not a metrics log", MAX_LINE_BYTES >> 20)]
struct LineTooLong {
    line: u64,
}

/// Passes bytes through, remembering the last one (to tell whether the input ended in a newline)
/// and refusing lines over [`MAX_LINE_BYTES`].
struct TrackLastByte<R> {
    inner: R,
    breaks: Rc<RefCell<LineBreaks>>,
    last: Option<u8>,
    /// Newlines passed so far.
    newlines: u64,
    /// Bytes since the last newline.
    line_bytes: u64,
}

impl<R> TrackLastByte<R> {
    fn new(inner: R, breaks: Rc<RefCell<LineBreaks>>) -> Self {
        TrackLastByte {
            inner,
            breaks,
            last: None,
            newlines: 0,
            line_bytes: 0,
        }
    }
}

impl<R: Read> Read for TrackLastByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        self.breaks.borrow_mut().scan(read);
        if let Some(&last) = read.last() {
            self.last = Some(last);
        }
        match memchr::memrchr(b'\n', read) {
            Some(i) => {
                self.newlines += memchr::memchr_iter(b'\n', read).count() as u64;
                self.line_bytes = (n - i - 1) as u64;
            }
            None => self.line_bytes += n as u64,
        }
        if self.line_bytes > MAX_LINE_BYTES {
            let line = self.newlines + 1;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                LineTooLong { line },
            ));
        }
        Ok(n)
    }
}
