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
use std::path::Path;
use std::rc::Rc;

use csv::{ByteRecord, ReaderBuilder};

use super::csv_fast::{self, FastKey, FastSchema, GiveUp};
use super::progress::Progress;
use super::table::{KeyKind, TableBuilder, ValuePolicy, epoch_itr_key};
use super::values::{CellError, locale_hint, parse_value, parse_whole, show_cell};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::ingest::roles::is_step_name;
use crate::model::{Format, MISSING, is_missing};

/// What the CSV parser needs to know beyond the bytes.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    pub format: Format,
    pub delimiter: u8,
    /// `--step-col`: the column holding the global step.
    pub step_col: Option<String>,
    /// Which columns keep their values.
    pub values: ValuePolicy,
}

/// How a header maps columns to the key and to table columns.
struct Schema {
    header: Vec<Vec<u8>>,
    key: KeySpec,
    /// For each field: the table column it feeds, or `None` (key or text column).
    targets: Vec<Option<usize>>,
    /// Fields whose kind is not decided yet (no non-empty cell seen).
    undecided: Vec<bool>,
    /// V-JEPA grad-norm fields, where 0 means "not computed".
    zero_is_missing: Vec<bool>,
    /// Why a column that holds text may have been meant as numbers (`0,81`: a decimal comma).
    text_hint: Option<String>,
}

#[derive(Clone, Copy)]
enum KeySpec {
    Step(usize),
    EpochItr { epoch: usize, itr: usize },
}

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
    let key_kind = match schema.key {
        KeySpec::Step(_) => KeyKind::Step,
        KeySpec::EpochItr { .. } => KeyKind::EpochItr,
    };

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
                Err(_) if schema.undecided[field] => {
                    // The first value of this column is text: the column is not a metric.
                    if let Some(hint) = locale_hint(cell) {
                        schema
                            .text_hint
                            .get_or_insert_with(|| format!("{}: {hint}", show_cell(cell)));
                    }
                    builder.ignore_column(column);
                    schema.targets[field] = None;
                    schema.undecided[field] = false;
                    builder.warn(format!(
                        "{path}:{line}: column '{}' holds text ({}); ignored",
                        crate::fmt::escape_control(&String::from_utf8_lossy(&schema.header[field])),
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
                schema.undecided[field] = false;
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
    finish(builder, &schema, &zeros_missing, restarts, key_kind, opts)
}

/// What both parsers do at the end: warn about zero grad norms, reject files without data or
/// numbers, resolve restarts and duplicates.
fn finish(
    mut builder: TableBuilder,
    schema: &Schema,
    zeros_missing_by_column: &[u64],
    restarts: u64,
    key_kind: KeyKind,
    opts: &CsvOptions,
) -> Result<Parsed, IngestError> {
    let path = builder.source().to_string();
    let zeros: Vec<String> = zeros_missing_by_column
        .iter()
        .zip(builder.names())
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| format!("{name} {n}"))
        .collect();
    if !zeros.is_empty() {
        builder.warn(format!(
            "{path}: zero grad norms read as missing (not computed while clipping is inactive): {}",
            zeros.join(", ")
        ));
    }
    if builder.rows_read() == 0 {
        return Err(IngestError::HeaderOnly { path });
    }
    if schema.targets.iter().all(Option::is_none) {
        let names: Vec<String> = schema
            .header
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        return Err(IngestError::NoNumericColumn {
            path,
            detail: format!(
                "columns: {}; the others hold text{}",
                crate::fmt::names(&names),
                schema
                    .text_hint
                    .as_ref()
                    .map_or(String::new(), |h| format!(", like {h}"))
            ),
        });
    }
    let table = builder.finish(restarts);
    Ok(Parsed {
        table,
        key_kind,
        format: opts.format,
        ipe_hint: None,
        lines_ignored: 0,
    })
}

/// The fast path for a CSV file on disk ([`super::csv_fast`]), `chunk_bytes` per worker at a time
/// ([`csv_fast::CHUNK_BYTES`]); `None` when it gave up and the general parser must read the file.
pub fn parse_file_fast(
    path: &Path,
    source: &Source,
    opts: &CsvOptions,
    chunk_bytes: usize,
    progress: &Progress,
) -> Result<Option<Parsed>, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(&source.name, e))?;
    parse_open_file_fast(&file, source, opts, chunk_bytes, progress)
}

/// [`parse_file_fast`] on a regular file already open (read from its start, whatever its
/// position): an input is opened once.
pub fn parse_open_file_fast(
    mut file: &std::fs::File,
    source: &Source,
    opts: &CsvOptions,
    chunk_bytes: usize,
    progress: &Progress,
) -> Result<Option<Parsed>, IngestError> {
    use std::io::{Seek, SeekFrom};
    let name = source.name.as_str();
    // The header line, parsed as the general parser would.
    file.seek(SeekFrom::Start(0))
        .map_err(|e| IngestError::io(name, e))?;
    let mut head = Vec::with_capacity(64 * 1024);
    file.take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| IngestError::io(name, e))?;
    let Some(newline) = memchr::memchr(b'\n', &head) else {
        return Ok(None);
    };
    let header_line = &head[..newline];
    if header_line.contains(&b'"') || header_line.is_empty() {
        return Ok(None);
    }
    let mut rdr = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(header_line);
    let mut record = ByteRecord::new();
    if !rdr.read_byte_record(&mut record).unwrap_or(false) {
        return Ok(None);
    }
    let mut builder = TableBuilder::with_policy(name, opts.values.clone());
    let schema = schema_for(&record, 1, &mut builder, opts)?;
    let (key, key_kind) = match schema.key {
        KeySpec::Step(i) => (FastKey::Step(i), KeyKind::Step),
        KeySpec::EpochItr { epoch, itr } => (FastKey::EpochItr { epoch, itr }, KeyKind::EpochItr),
    };
    let mut joined = Vec::new();
    for (i, field) in schema.header.iter().enumerate() {
        if i > 0 {
            joined.push(opts.delimiter);
        }
        joined.extend_from_slice(field);
    }
    let raw_header = header_line.strip_suffix(b"\r").unwrap_or(header_line);
    let raw_header = raw_header
        .strip_prefix(b"\xef\xbb\xbf")
        .unwrap_or(raw_header);
    if raw_header != joined.as_slice() {
        return Ok(None); // spaces around names and the like: the general parser compares fields
    }
    let fast = FastSchema {
        header: joined,
        fields: schema.header.len(),
        key,
        targets: schema.targets.clone(),
        zero_is_missing: schema.zero_is_missing.clone(),
        delimiter: opts.delimiter,
        withhold_unterminated: opts.format.is_jepa_family(),
        // Fields whose value only matters as a kind (a zero that means "missing" must be seen).
        kinds_only: schema
            .targets
            .iter()
            .zip(&schema.zero_is_missing)
            .map(|(t, zero_is_missing)| {
                !zero_is_missing && t.is_some_and(|c| !builder.keeps_values(c))
            })
            .collect(),
    };
    match csv_fast::parse(
        file,
        newline as u64 + 1,
        &fast,
        &mut builder,
        chunk_bytes,
        progress,
    ) {
        Ok(outcome) => finish(
            builder,
            &schema,
            &by_column(&outcome.zeros_missing, &schema.targets),
            outcome.restarts,
            key_kind,
            opts,
        )
        .map(Some),
        Err(GiveUp) => Ok(None),
    }
}

/// Per-field counts as per-column counts (key fields have no column).
fn by_column(per_field: &[u64], targets: &[Option<usize>]) -> Vec<u64> {
    let mut out = vec![0; targets.iter().flatten().max().map_or(0, |c| c + 1)];
    for (n, target) in per_field.iter().zip(targets) {
        if let Some(column) = target {
            out[*column] += n;
        }
    }
    out
}

fn flush_pending(builder: &mut TableBuilder, pending: &mut Option<(u64, u64)>, values: &[f32]) {
    if let Some((_, key)) = pending.take() {
        builder.push_values(key, values);
    }
}

/// Builds the schema of a header record, registering its value columns with the builder.
fn schema_for(
    record: &ByteRecord,
    line: u64,
    builder: &mut TableBuilder,
    opts: &CsvOptions,
) -> Result<Schema, IngestError> {
    let path = builder.source().to_string();
    let mut header: Vec<Vec<u8>> = record.iter().map(|f| f.trim_ascii().to_vec()).collect();
    if let Some(first) = header.first_mut()
        && first.starts_with(b"\xef\xbb\xbf")
    {
        first.drain(..3);
    }
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for field in &header {
        let name = std::str::from_utf8(field).map_err(|_| {
            IngestError::at(
                &path,
                line,
                format!("header field {} is not valid UTF-8", show_cell(field)),
            )
        })?;
        if name.len() > MAX_NAME_BYTES {
            return Err(IngestError::at(
                &path,
                line,
                format!(
                    "header field {} is {} bytes long: not a column name (damaged file?)",
                    show_cell(field),
                    name.len()
                ),
            ));
        }
        names.push(name.to_string());
    }
    if names
        .iter()
        .all(|n| parse_value(n.as_bytes()).is_ok() && !n.is_empty())
    {
        return Err(IngestError::at(
            &path,
            line,
            format!(
                "expected a header row of column names, found numbers ({})",
                show_cell(record.as_slice())
            ),
        ));
    }
    let find = |pred: &dyn Fn(&str) -> bool| names.iter().position(|n| pred(n));
    let key = if let Some(wanted) = &opts.step_col {
        let i = find(&|n| n == wanted).ok_or_else(|| {
            IngestError::at(
                &path,
                line,
                format!(
                    "--step-col '{wanted}' is not a column (columns: {})",
                    crate::fmt::names(&names)
                ),
            )
        })?;
        KeySpec::Step(i)
    } else if let (Some(epoch), Some(itr)) = (
        find(&|n| n.eq_ignore_ascii_case("epoch")),
        find(&|n| n.eq_ignore_ascii_case("itr")),
    ) {
        KeySpec::EpochItr { epoch, itr }
    } else if let Some(i) = find(&|n| is_step_name(n)) {
        KeySpec::Step(i)
    } else if let Some(i) = find(&|n| n.eq_ignore_ascii_case("epoch")) {
        builder.warn(format!(
            "{path}: no step column; using 'epoch' as the step axis"
        ));
        KeySpec::Step(i)
    } else {
        return Err(IngestError::NoStepColumn {
            path,
            columns: crate::fmt::names(&names),
        });
    };
    let is_key = |i: usize| match key {
        KeySpec::Step(s) => i == s,
        KeySpec::EpochItr { epoch, itr } => i == epoch || i == itr,
    };
    let mut targets = Vec::with_capacity(names.len());
    let mut zero_is_missing = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if is_key(i) || name.is_empty() {
            targets.push(None);
            zero_is_missing.push(false);
        } else {
            targets.push(Some(builder.column(name)));
            zero_is_missing.push(opts.format == Format::VjepaCsv && name.ends_with("grad-norm"));
        }
    }
    let mut twice: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, n)| !n.is_empty() && names[..*i].contains(n))
        .map(|(_, n)| n.as_str())
        .collect();
    twice.dedup();
    if !twice.is_empty() {
        builder.warn(format!(
            "{path}:{line}: columns named twice (the later field's value is used): {}",
            crate::fmt::escape_control(&crate::fmt::names(&twice))
        ));
    }
    if targets.iter().all(Option::is_none) {
        return Err(IngestError::NoNumericColumn {
            path,
            detail: format!("columns: {}", crate::fmt::names(&names)),
        });
    }
    Ok(Schema {
        undecided: vec![true; header.len()],
        text_hint: None,
        header,
        key,
        targets,
        zero_is_missing,
    })
}

/// A record that repeats the header, or is a new header (every field a non-number, the key
/// field among them).
fn is_header_like(record: &ByteRecord, schema: &Schema) -> bool {
    if record.iter().eq(schema.header.iter().map(Vec::as_slice)) {
        return true;
    }
    let key_field = match schema.key {
        KeySpec::Step(i) => i,
        KeySpec::EpochItr { epoch, .. } => epoch,
    };
    record.len() > 1
        && record.get(key_field).map(|f| f.trim_ascii())
            == Some(schema.header[key_field].as_slice())
        && record
            .iter()
            .all(|f| !f.trim_ascii().is_empty() && parse_value(f).is_err())
}

fn parse_key(record: &ByteRecord, key: KeySpec, path: &str, line: u64) -> Result<u64, IngestError> {
    let whole = |i: usize, what: &str| -> Result<u64, IngestError> {
        let cell = record.get(i).unwrap_or_default();
        parse_whole(cell).ok_or_else(|| {
            IngestError::at(
                path,
                line,
                format!(
                    "{what} {} is not a whole number from 0 to 2^53{}",
                    show_cell(cell),
                    locale_hint(cell).map_or(String::new(), |h| format!(" ({h})"))
                ),
            )
        })
    };
    match key {
        KeySpec::Step(i) => whole(i, "step"),
        KeySpec::EpochItr { epoch, itr } => {
            let (e, i) = (whole(epoch, "epoch")?, whole(itr, "itr")?);
            epoch_itr_key(e, i).ok_or_else(|| {
                IngestError::at(path, line, format!("epoch {e} / itr {i} out of range"))
            })
        }
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

/// The longest column name accepted (metric names are tens of bytes).
pub const MAX_NAME_BYTES: usize = 1024;

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
