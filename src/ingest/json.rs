//! JSON logs: JSON lines (one object per line, keys varying from line to line) and JSON documents
//! (an array of records, or an object holding one — Hugging Face `trainer_state.json` keeps them
//! in `log_history`).
//!
//! Records are flattened with `/` (`{"train": {"loss": 1}}` → `train/loss`). The step comes from
//! `global_step`, `step`, `_step` (W&B), `trainer/global_step`, `iteration`, `iter`, or `epoch` with
//! `itr`; a record without one takes the previous record's step; a file with none uses the record
//! order. Python writes bare `NaN`, `Infinity` and `-Infinity`: they are values here. A malformed
//! line is skipped with its line and reason (an error with `--strict`); a document that does not
//! parse is an error with line and column.

use std::borrow::Cow;
use std::io::{BufReader, Read};
use std::ops::Range;

mod batch;
mod flat_line;
mod record;
mod shape;

use serde_json::Value;

use super::lines::{Line, read_line_capped};
use super::table::ValuePolicy;
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::Format;
use batch::LineBatch;
use record::{Flat, Location, RecordSink, flatten_record};

/// A JSON line longer than this is rejected: no metrics record is that long.
pub const MAX_LINE_BYTES: usize = super::lines::MAX_LINE_BYTES as usize;
/// A JSON document larger than this is rejected before it is parsed into memory.
pub const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// The UTF-8 byte-order mark, accepted (and ignored) at the start of any input.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Keys that hold the global step, most specific first.
const STEP_KEYS: &[&str] = &[
    "global_step",
    "trainer/global_step",
    "train/global_step",
    "step",
    "_step",
    "steps",
    "iteration",
    "iter",
];

/// What the JSON parsers need beyond the bytes.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// `--step-col`: the (flattened) key holding the step.
    pub step_col: Option<String>,
    /// Which columns keep their values.
    pub values: ValuePolicy,
}

/// Lines read before a batch is parsed (in parallel) and added (in order).
const BATCH_LINES: usize = 16 * 1024;
/// Bytes read before a batch is parsed, whatever its line count.
const BATCH_BYTES: usize = 8 << 20;

/// Parses JSON lines. Lines are read in batches; each batch is parsed and flattened across
/// cores (rayon), then added to the table in file order, so line numbers, restarts and the
/// row account are those of a sequential read. Memory: one batch of text and records at a time.
/// Flat records of numbers take the fast path (`json::flat_line`, `json::shape`); every other line, and
/// any the fast path gives up on, the general one.
pub fn parse_lines(
    reader: impl Read,
    source: &Source,
    opts: &JsonOptions,
) -> Result<Parsed, IngestError> {
    read_lines(reader, source, opts, true)
}

/// [`parse_lines`] by the general path alone (`serde_json` for every line): what the fast path
/// must agree with to the bit (`tests/json_fast_path.rs`), and a way to rule it out.
pub fn parse_lines_general(
    reader: impl Read,
    source: &Source,
    opts: &JsonOptions,
) -> Result<Parsed, IngestError> {
    read_lines(reader, source, opts, false)
}

/// [`parse_lines`], with the fast path (`fast`) or without.
fn read_lines(
    reader: impl Read,
    source: &Source,
    opts: &JsonOptions,
    fast: bool,
) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut records = RecordSink::new(path, opts);
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut batch = LineBatch::new(fast);
    loop {
        match read_line_capped(&mut reader, &mut line, MAX_LINE_BYTES)
            .map_err(|e| IngestError::io(path, e))?
        {
            Line::End => break,
            Line::Complete => line_no += 1,
            Line::TooLong { .. } | Line::Endless => {
                return Err(IngestError::at(
                    path,
                    line_no + 1,
                    format!(
                        "line longer than {} MiB, the limit for one JSON record",
                        MAX_LINE_BYTES >> 20
                    ),
                ));
            }
        }
        batch.push(line_no, &line);
        if batch.len() >= BATCH_LINES || batch.bytes() >= BATCH_BYTES {
            batch.add_to(&mut records);
        }
    }
    batch.add_to(&mut records);
    if records.builder.rows_read() == 0 {
        return Err(IngestError::Empty { path: path.into() });
    }
    Ok(records.finish(Format::Jsonl))
}

/// What one JSON line holds.
enum ParsedLine {
    Blank,
    Record(Flat),
    Skipped(String),
}

/// Where the record is in a line: trimmed, after the byte-order mark some Windows tools write at
/// the start of line 1 (`line_no` is 1-based).
fn record_range(line: &[u8], line_no: u64) -> Range<usize> {
    let mut start = line.len() - line.trim_ascii_start().len();
    let end = line.trim_ascii_end().len().max(start);
    if line_no == 1 && line[start..end].starts_with(UTF8_BOM) {
        start += UTF8_BOM.len();
        start = end - line[start..end].trim_ascii_start().len();
    }
    start..end
}

/// Parses and flattens one line (`line_no` is 1-based) by the general path.
fn parse_line(line: &[u8], line_no: u64, opts: &JsonOptions) -> ParsedLine {
    let text = &line[record_range(line, line_no)];
    if text.is_empty() {
        return ParsedLine::Blank;
    }
    let (fixed, shifts) = translate_python_tokens(text);
    match serde_json::from_slice::<Value>(&fixed) {
        Ok(Value::Object(obj)) => ParsedLine::Record(flatten_record(&obj, opts)),
        Ok(other) => ParsedLine::Skipped(format!("not a JSON object but {}", kind_of(&other))),
        Err(e) => {
            let column = original_column(e.column() as u64, &shifts);
            ParsedLine::Skipped(format!(
                "invalid JSON at column {column}: {}",
                message_of(&e)
            ))
        }
    }
}

/// Whether `text` is one whole JSON object or array (whitespace and a byte-order mark around it
/// allowed, Python's bare `NaN`/`Infinity` accepted): a line or document its writer finished. A
/// prefix of one never is, so a follower may read such text before its final newline without
/// ever taking half a record for a value.
pub fn is_whole_container(text: &[u8]) -> bool {
    let text = text.trim_ascii();
    let text = text
        .strip_prefix(UTF8_BOM)
        .unwrap_or(text)
        .trim_ascii_start();
    if !(text.starts_with(b"{") || text.starts_with(b"[")) {
        return false;
    }
    let (fixed, _) = translate_python_tokens(text);
    serde_json::from_slice::<serde::de::IgnoredAny>(&fixed).is_ok()
}

/// Parses one JSON document: an array of records, or an object holding one.
pub fn parse_document(
    reader: impl Read,
    source: &Source,
    opts: &JsonOptions,
) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let mut reader = reader.take(MAX_DOCUMENT_BYTES + 1);
    let mut bytes = Vec::new();
    // A document starts with `[` or `{`: anything else is refused before it is read whole
    // (`--format json` on /dev/zero or a binary).
    (&mut reader)
        .take(4096)
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::io(path, e))?;
    let start = bytes.strip_prefix(UTF8_BOM).unwrap_or(&bytes);
    if let Some(first) = start.iter().find(|b| !b.is_ascii_whitespace())
        && !matches!(first, b'[' | b'{')
    {
        let line = 1 + start
            .iter()
            .take_while(|b| **b != *first)
            .filter(|b| **b == b'\n')
            .count();
        return Err(IngestError::at(
            path,
            line as u64,
            format!(
                "not a JSON document: it starts with {} instead of '[' or '{{'",
                super::values::show_cell(&[*first])
            ),
        ));
    }
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::io(path, e))?;
    if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..UTF8_BOM.len());
    }
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(IngestError::unusable(
            path,
            format!("JSON document larger than {} GiB", MAX_DOCUMENT_BYTES >> 30),
        ));
    }
    let (fixed, shifts) = translate_python_tokens(&bytes);
    let doc: Value = serde_json::from_slice(&fixed).map_err(|e| IngestError::Json {
        path: path.into(),
        line: e.line() as u64,
        column: original_column_on_line(e.line() as u64, e.column() as u64, &shifts),
        message: document_error_message(&e, &fixed),
    })?;
    drop(fixed);
    let (records, container) = records_of(&doc).ok_or_else(|| {
        IngestError::unusable(
            path,
            format!(
                "a JSON document with no records: expected an array of objects, or an object holding one (log_history, history, records, ...); found {}",
                kind_of(&doc)
            ),
        )
    })?;
    let mut sink = RecordSink::new(path, opts);
    let trainer_state = container == Some("log_history");
    for (index, record) in records.iter().enumerate() {
        // Documents have no useful line numbers per record: report the record's position.
        let position = index as u64 + 1;
        match record {
            Value::Object(obj) if trainer_state && obj.contains_key("train_runtime") => {
                sink.builder
                    .skip_record(position, "end-of-training summary (averages), not a step");
            }
            Value::Object(obj) => sink.add(obj, Location::Record(position)),
            other => sink.builder.skip_record(
                position,
                format!("record is not an object but {}", kind_of(other)),
            ),
        }
    }
    if sink.builder.rows_read() == 0 {
        return Err(IngestError::unusable(
            path,
            "the JSON document holds no records",
        ));
    }
    if let Some(name) = container {
        sink.builder
            .warn(format!("{path}: records read from '{name}'"));
    }
    Ok(sink.finish(Format::Json))
}

/// The records of a document and the key that held them (`None` for a top-level array).
fn records_of(doc: &Value) -> Option<(&Vec<Value>, Option<&str>)> {
    const CONTAINERS: &[&str] = &[
        "log_history",
        "history",
        "records",
        "logs",
        "metrics",
        "entries",
        "rows",
        "data",
    ];
    let is_records = |v: &Value| matches!(v, Value::Array(a) if a.iter().any(Value::is_object));
    match doc {
        Value::Array(items) => Some((items, None)),
        Value::Object(obj) => {
            let named = CONTAINERS
                .iter()
                .find_map(|k| obj.get_key_value(*k).filter(|(_, v)| is_records(v)));
            let any = || obj.iter().find(|(_, v)| is_records(v));
            let (key, value) = named.or_else(any)?;
            value.as_array().map(|a| (a, Some(key.as_str())))
        }
        _ => None,
    }
}

/// Where a replacement grew the text: (line, column in the rewritten text after it, growth).
type Shift = (u64, u64, u64);

/// Rewrites Python's bare `NaN`, `Infinity`, `-Infinity` (outside strings) as sentinel strings
/// serde_json accepts, and records the shifts to map error columns back.
pub fn translate_python_tokens(input: &[u8]) -> (Cow<'_, [u8]>, Vec<Shift>) {
    if memchr::memmem::find(input, b"NaN").is_none()
        && memchr::memmem::find(input, b"Infinity").is_none()
    {
        return (Cow::Borrowed(input), Vec::new());
    }
    let mut out = Vec::with_capacity(input.len() + 64);
    let mut shifts = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    let (mut line, mut col) = (1u64, 0u64);
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            col += 1;
            i += 1;
            continue;
        }
        let rest = &input[i..];
        let token: Option<(&[u8], &[u8])> = if rest.starts_with(b"NaN") {
            Some((b"NaN", b"\"\\u0000NaN\""))
        } else if rest.starts_with(b"-Infinity") {
            Some((b"-Infinity", b"\"\\u0000-Infinity\""))
        } else if rest.starts_with(b"Infinity") {
            Some((b"Infinity", b"\"\\u0000Infinity\""))
        } else {
            None
        };
        match token {
            Some((from, to)) => {
                out.extend_from_slice(to);
                col += to.len() as u64;
                shifts.push((line, col, (to.len() - from.len()) as u64));
                i += from.len();
            }
            None => {
                out.push(b);
                if b == b'"' {
                    in_string = true;
                }
                if b == b'\n' {
                    line += 1;
                    col = 0;
                } else {
                    col += 1;
                }
                i += 1;
            }
        }
    }
    (Cow::Owned(out), shifts)
}

/// Maps a 1-based column of the rewritten single line back to the original.
fn original_column(column: u64, shifts: &[Shift]) -> u64 {
    original_column_on_line(1, column, shifts)
}

fn original_column_on_line(line: u64, column: u64, shifts: &[Shift]) -> u64 {
    let growth: u64 = shifts
        .iter()
        .filter(|(l, after, _)| *l == line && *after < column)
        .map(|(_, _, g)| *g)
        .sum();
    column.saturating_sub(growth)
}

/// serde_json's message without its " at line L column C" suffix.
fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The parser's message, with the way out when the "document" is JSON lines whose first record
/// was too long for the format to be recognised from the first bytes: the parse stops with
/// trailing characters where the second line starts another object.
fn document_error_message(e: &serde_json::Error, text: &[u8]) -> String {
    let message = message_of(e);
    let second_line_is_a_record = text
        .split(|b| *b == b'\n')
        .nth(e.line().saturating_sub(1))
        .is_some_and(|line| line.trim_ascii_start().starts_with(b"{"));
    if message == "trailing characters"
        && e.column() <= 1
        && e.line() > 1
        && second_line_is_a_record
    {
        format!(
            "{message}: one JSON object per line is JSON lines; pass --format jsonl (or name the file .jsonl)"
        )
    } else {
        message
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::record::sentinel_value;
    use super::*;

    #[test]
    fn python_tokens_become_values_only_outside_strings() -> Result<(), Box<dyn std::error::Error>>
    {
        let (fixed, _) = translate_python_tokens(
            br#"{"a": NaN, "b": -Infinity, "c": Infinity, "s": "NaN Infinity"}"#,
        );
        let v: Value = serde_json::from_slice(&fixed)?;
        assert_eq!(
            v["a"].as_str().and_then(sentinel_value).map(f32::is_nan),
            Some(true)
        );
        assert_eq!(
            v["b"].as_str().and_then(sentinel_value),
            Some(f32::NEG_INFINITY)
        );
        assert_eq!(
            v["c"].as_str().and_then(sentinel_value),
            Some(f32::INFINITY)
        );
        assert_eq!(v["s"], "NaN Infinity");
        Ok(())
    }

    #[test]
    fn escaped_quotes_do_not_confuse_the_string_state() -> Result<(), Box<dyn std::error::Error>> {
        let (fixed, _) = translate_python_tokens(br#"{"s": "say \"NaN\"", "x": NaN}"#);
        let v: Value = serde_json::from_slice(&fixed)?;
        assert_eq!(v["s"], "say \"NaN\"");
        assert!(
            v["x"]
                .as_str()
                .and_then(sentinel_value)
                .is_some_and(f32::is_nan)
        );
        Ok(())
    }

    #[test]
    fn whole_containers_are_told_from_their_prefixes() {
        let line = br#"{"step": 7, "loss": NaN, "lr": 1e-3}"#;
        assert!(is_whole_container(line));
        assert!(is_whole_container(b"\xef\xbb\xbf [{\"step\": 1}] \r"));
        for cut in 0..line.len() {
            assert!(!is_whole_container(&line[..cut]), "{cut}");
        }
        assert!(!is_whole_container(b"0.5"));
        assert!(!is_whole_container(b"{\"a\": 1} {"));
    }

    #[test]
    fn error_columns_map_back_to_the_original_text() {
        let original = br#"{"a": NaN, "b": }"#;
        let (fixed, shifts) = translate_python_tokens(original);
        let err = serde_json::from_slice::<Value>(&fixed).unwrap_err();
        let col = original_column(err.column() as u64, &shifts);
        assert_eq!(original[col as usize - 1], b'}');
    }
}
