//! The fast path for large numeric CSV logs (what the JEPA trainers write): the file is cut into
//! byte ranges that workers read (`pread`) and parse in parallel, each line parsed in place in one
//! pass (digits for the keys, [`super::csv_number`] for values); the rows are appended in file
//! order. A line belongs to the range its first byte is in.
//!
//! It handles the known quirks exactly as [`super::csv`] does — the header written again after a
//! restart, a row cut short right before that header or at the end of the file, `nan`/`inf`
//! tokens, empty cells, V-JEPA's zero grad norms, a last line without its newline — and gives up
//! on anything else (quotes, text, a different header, a damaged row, a number it cannot read):
//! the caller then reads the file again with the general parser, which has the final say on what
//! is valid and on every message. Both take their [`Schema`](super::csv_schema::Schema) from the same header rule, and every
//! cell the fast path does not read itself goes through the general parser's
//! [`values::parse_value`](super::values::parse_value). Equivalence is tested on every fixture and on random files
//! (`tests/fast_path.rs`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};
use rayon::prelude::*;

use super::csv_line::{GiveUp, Line, Plan, lines, parse_line};
use super::csv_schema::{CsvOptions, finish, schema_for};
use super::lines::MAX_LINE_BYTES;
use super::progress::Progress;
use super::table::{Chunk, TableBuilder};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::MISSING;

/// Bytes a worker reads and parses at a time.
pub const CHUNK_BYTES: usize = 8 << 20;

/// [`parse_open_file_fast`] on the file at `path`.
pub fn parse_file_fast(
    path: &Path,
    source: &Source,
    opts: &CsvOptions,
    chunk_bytes: usize,
    progress: &Progress,
) -> Result<Option<Parsed>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(&source.name, e))?;
    parse_open_file_fast(&file, source, opts, chunk_bytes, progress)
}

/// Reads a CSV file on disk, already open (from its start, whatever its position: an input is
/// opened once), `chunk_bytes` per worker at a time ([`CHUNK_BYTES`]). `Ok(None)` when the fast
/// path gave up and the general parser must read the file; errors are the header's (the same as
/// the general parser's) and I/O errors.
pub fn parse_open_file_fast(
    mut file: &File,
    source: &Source,
    opts: &CsvOptions,
    chunk_bytes: usize,
    progress: &Progress,
) -> Result<Option<Parsed>, IngestError> {
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
    let mut record = ByteRecord::new();
    let mut rdr = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(header_line);
    if !rdr.read_byte_record(&mut record).unwrap_or(false) {
        return Ok(None);
    }
    let mut builder = TableBuilder::with_policy(name, opts.values.clone());
    let schema = schema_for(&record, 1, &mut builder, opts)?;
    let Some(plan) = Plan::new(&schema, header_line, &builder, opts) else {
        return Ok(None); // spaces around names and the like: the general parser compares fields
    };
    let counted = progress.position();
    match read_parts(
        file,
        newline as u64 + 1,
        &plan,
        &mut builder,
        chunk_bytes,
        progress,
    ) {
        Ok(outcome) => {
            let zeros = by_column(&outcome.zeros_missing, &schema.targets);
            finish(builder, &schema, None, &zeros, outcome.restarts, opts).map(Some)
        }
        Err(GiveUp) => {
            progress.rewind_to(counted);
            Ok(None)
        }
    }
}

/// What the fast path learned besides the rows.
struct Outcome {
    restarts: u64,
    /// Zero grad norms read as missing, per field.
    zeros_missing: Vec<u64>,
}

/// Reads the data lines after the header (which ends at byte `data_start`, on line 1) into
/// `builder`: rounds of one byte range per worker, `chunk_bytes` each, parsed in parallel and
/// appended in order.
fn read_parts(
    file: &File,
    data_start: u64,
    plan: &Plan,
    builder: &mut TableBuilder,
    chunk_bytes: usize,
    progress: &Progress,
) -> Result<Outcome, GiveUp> {
    let len = file.metadata().map_err(|_| GiveUp)?.len();
    // Reserving avoids regrowing the columns; a row takes at least one byte per field, so a
    // wide table reserves no more rows than the file can hold.
    builder.reserve((len.saturating_sub(data_start) / bytes_per_row_at_least(plan)) as usize);
    let chunk_bytes = chunk_bytes.max(64) as u64;
    let workers = rayon::current_num_threads().max(1);
    let mut parts: Vec<Part> = (0..workers).map(|_| Part::new(plan)).collect();
    let mut outcome = Outcome {
        restarts: 0,
        zeros_missing: vec![0; plan.fields.len()],
    };
    let mut line_base = 1u64; // lines before the part (the header is line 1)
    let mut pending_ragged: Option<(u64, usize)> = None;
    let mut start = data_start;
    while start < len {
        let round_start = start;
        parts
            .par_iter_mut()
            .enumerate()
            .map(|(i, part)| {
                let from = round_start + i as u64 * chunk_bytes;
                let to = (from + chunk_bytes).min(len);
                part.read_and_parse(file, from..to, data_start, plan, progress)
            })
            .collect::<Result<(), GiveUp>>()?;
        start = round_start + workers as u64 * chunk_bytes;
        for part in &parts {
            // A row cut short at the end of the previous part is judged by what follows it.
            if let Some((line, fields)) = pending_ragged.take() {
                match part.first_line_is_header {
                    Some(true) => builder.skip(line, cut_short_before_restart(fields, plan)),
                    Some(false) => return Err(GiveUp),
                    None => pending_ragged = Some((line, fields)),
                }
            }
            for (line, reason) in &part.skipped {
                builder.skip(line_base + line, reason.clone());
            }
            if let Some((line, fields)) = part.trailing_ragged {
                pending_ragged = Some((line_base + line, fields));
            }
            outcome.restarts += part.restarts;
            for (z, n) in outcome.zeros_missing.iter_mut().zip(&part.zeros) {
                *z += n;
            }
            line_base += part.lines;
            builder.append_chunk(&part.chunk);
        }
    }
    if let Some((line, fields)) = pending_ragged {
        let expected = plan.fields.len();
        builder.skip(
            line,
            format!("incomplete last line, {fields} of {expected} fields (killed mid-write?)"),
        );
    }
    Ok(outcome)
}

/// The fewest bytes a data row is assumed to take, for reservations: 48 (a short V-JEPA row) or
/// one per field (a delimiter or newline each), whichever is more.
fn bytes_per_row_at_least(plan: &Plan) -> u64 {
    (plan.fields.len() as u64).max(48)
}

fn cut_short_before_restart(fields: usize, plan: &Plan) -> String {
    let expected = plan.fields.len();
    format!("row cut short by the restart that follows it ({fields} of {expected} fields)")
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

/// One worker's byte range: its bytes and what its lines held. Reused round after round
/// (cleared, not reallocated: the kernel does not zero-fill fresh pages every 8 MB).
struct Part {
    bytes: Vec<u8>,
    chunk: Chunk,
    /// Lines in the part (blank ones included).
    lines: u64,
    /// (line within the part, 1-based; reason).
    skipped: Vec<(u64, String)>,
    /// Whether the first non-blank line repeats the header (`None`: no such line).
    first_line_is_header: Option<bool>,
    /// A row cut short as the part's last non-blank line: (line within the part, fields).
    trailing_ragged: Option<(u64, usize)>,
    restarts: u64,
    /// Zero grad norms read as missing, per field.
    zeros: Vec<u64>,
    /// One row's values in table column order.
    row: Vec<f32>,
}

impl Part {
    fn new(plan: &Plan) -> Part {
        Part {
            bytes: Vec::new(),
            chunk: Chunk::new(plan.columns),
            lines: 0,
            skipped: Vec::new(),
            first_line_is_header: None,
            trailing_ragged: None,
            restarts: 0,
            zeros: vec![0; plan.fields.len()],
            row: vec![MISSING; plan.columns],
        }
    }

    fn clear(&mut self) {
        self.chunk.clear();
        self.lines = 0;
        self.skipped.clear();
        self.first_line_is_header = None;
        self.trailing_ragged = None;
        self.restarts = 0;
        self.zeros.iter_mut().for_each(|z| *z = 0);
    }

    /// Reads the lines that start in `range` of `file` (data from `data_start` on) and parses them.
    fn read_and_parse(
        &mut self,
        file: &File,
        range: std::ops::Range<u64>,
        data_start: u64,
        plan: &Plan,
        progress: &Progress,
    ) -> Result<(), GiveUp> {
        self.clear();
        if range.is_empty() {
            return Ok(());
        }
        // One byte before the range tells whether a line starts at its first byte.
        let from = if range.start > data_start {
            range.start - 1
        } else {
            range.start
        };
        let mut bytes = std::mem::take(&mut self.bytes);
        let eof = read_lines_at(file, from..range.end, &mut bytes)?;
        progress.advance(range.end - range.start);
        let first = if from < range.start {
            match memchr::memchr(b'\n', &bytes) {
                Some(i) => i + 1,
                None => bytes.len(), // one line runs through the whole range: not ours
            }
        } else {
            0
        };
        let result = self.parse(&bytes[first..], plan, eof);
        self.bytes = bytes;
        result
    }

    /// Parses whole lines (the last one unterminated only at the end of the file: `at_eof`).
    fn parse(&mut self, data: &[u8], plan: &Plan, at_eof: bool) -> Result<(), GiveUp> {
        // Quoted fields are the general parser's business (one SIMD scan for the whole part).
        if memchr::memchr(b'"', data).is_some() {
            return Err(GiveUp);
        }
        // A CR not followed by LF ends a line for the general parser (CR line ends), inside
        // what this path would take as one line: left to it (one more SIMD scan; per line only
        // in CRLF files).
        if memchr::memchr_iter(b'\r', data).any(|i| data.get(i + 1).is_some_and(|&b| b != b'\n')) {
            return Err(GiveUp);
        }
        let rows_hint = data.len() / bytes_per_row_at_least(plan) as usize + 1;
        for c in &mut self.chunk.columns {
            c.reserve(rows_hint);
        }
        let mut pending_ragged: Option<(u64, usize)> = None;
        for (line, terminated) in lines(data) {
            self.lines += 1;
            let line_no = self.lines;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if line == plan.header_line.as_slice() {
                self.first_line_is_header.get_or_insert(true);
                if let Some((l, fields)) = pending_ragged.take() {
                    self.skipped
                        .push((l, cut_short_before_restart(fields, plan)));
                }
                self.restarts += 1;
                self.chunk.segment_starts.push(self.chunk.keys.len());
                continue;
            }
            self.first_line_is_header.get_or_insert(false);
            if pending_ragged.is_some() {
                return Err(GiveUp); // a damaged row in the middle: the general parser reports it
            }
            match parse_line(line, plan, &mut self.row, &mut self.zeros)? {
                Line::Row(_) if at_eof && !terminated && plan.withhold_unterminated => {
                    let reason = "last line has no newline (killed mid-write?)";
                    self.skipped.push((line_no, reason.into()));
                }
                Line::Row(key) => {
                    self.chunk.keys.push(key);
                    for (column, v) in self.chunk.columns.iter_mut().zip(&self.row) {
                        column.push(*v);
                    }
                }
                Line::NoValues => self.skipped.push((line_no, "no values in the row".into())),
                Line::Ragged(fields) => pending_ragged = Some((line_no, fields)),
            }
        }
        self.trailing_ragged = pending_ragged;
        Ok(())
    }
}

/// Reads `range` of `file` into `bytes` (replacing what it held), then on to the end of the line
/// that crosses its end. Returns whether the end of the file was reached. Gives up on a line
/// over [`MAX_LINE_BYTES`] (the general parser reports it) and on I/O errors.
fn read_lines_at(
    file: &File,
    range: std::ops::Range<u64>,
    bytes: &mut Vec<u8>,
) -> Result<bool, GiveUp> {
    let want = (range.end - range.start) as usize;
    bytes.clear();
    bytes.resize(want, 0);
    let mut got = 0;
    while got < want {
        match read_at(file, &mut bytes[got..], range.start + got as u64) {
            Ok(0) => {
                bytes.truncate(got);
                return Ok(true);
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(GiveUp),
        }
    }
    // The line crossing the end of the range is this part's to finish.
    let mut at = range.end;
    let mut more = [0u8; 4096];
    while bytes.last() != Some(&b'\n') {
        let n = match read_at(file, &mut more, at) {
            Ok(0) => return Ok(true),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(GiveUp),
        };
        let end = memchr::memchr(b'\n', &more[..n]).map_or(n, |i| i + 1);
        bytes.extend_from_slice(&more[..end]);
        at += end as u64;
        if (bytes.len() - want) as u64 > MAX_LINE_BYTES {
            return Err(GiveUp);
        }
    }
    Ok(false)
}

/// Reads from `offset` without using the file's position, which workers share.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Reads from `offset` (moves the file's position, which the fast path does not use).
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_belongs_to_the_range_it_starts_in() {
        let data = b"h\n1,0.5\n22,0.25\n333,0.125"; // no newline at the end
        let mut file = tempfile::tempfile().expect("a temporary file");
        std::io::Write::write_all(&mut file, data).expect("written");
        let mut bytes = Vec::new();
        // From inside the second line: on to the end of that line.
        assert!(!read_lines_at(&file, 5..7, &mut bytes).expect("read"));
        assert_eq!(bytes, b".5\n");
        assert!(read_lines_at(&file, 15..20, &mut bytes).expect("read"));
        assert_eq!(bytes, b"\n333,0.125");
        let all: Vec<_> = lines(b"a\n\nb").collect();
        assert_eq!(
            all,
            vec![(&b"a"[..], true), (&b""[..], true), (&b"b"[..], false)]
        );
    }
}
