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

use serde_json::{Map, Value};

use super::lines::{Line, read_line_capped};
use super::table::{KeyKind, TableBuilder, ValuePolicy, epoch_itr_key};
use super::values::{narrow, parse_value, whole_f64};
use super::{Parsed, Source};
use crate::error::IngestError;
use crate::model::{Format, MISSING};

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

/// Parses JSON lines.
pub fn parse_lines(
    reader: impl Read,
    source: &Source,
    opts: &JsonOptions,
) -> Result<Parsed, IngestError> {
    let path = source.name.as_str();
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut records = RecordSink::new(path, opts);
    let mut line = Vec::new();
    let mut line_no = 0u64;
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
        let text = line.trim_ascii();
        // A byte-order mark starts the first line of files written by some Windows tools.
        let text = match text.strip_prefix(UTF8_BOM) {
            Some(rest) if line_no == 1 => rest.trim_ascii_start(),
            _ => text,
        };
        if text.is_empty() {
            continue;
        }
        let (fixed, shifts) = translate_python_tokens(text);
        match serde_json::from_slice::<Value>(&fixed) {
            Ok(Value::Object(obj)) => records.add(&obj, Location::Line(line_no)),
            Ok(other) => records.builder.skip(
                line_no,
                format!("not a JSON object but {}", kind_of(&other)),
            ),
            Err(e) => {
                let column = original_column(e.column() as u64, &shifts);
                records.builder.skip(
                    line_no,
                    format!("invalid JSON at column {column}: {}", message_of(&e)),
                );
            }
        }
    }
    if records.builder.rows_read() == 0 {
        return Err(IngestError::Empty { path: path.into() });
    }
    Ok(records.finish(Format::Jsonl))
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
        message: message_of(&e),
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

/// A record's key: its value, kind, and the names of the keys that hold it.
type RecordKey = (u64, KeyKind, &'static [&'static str]);

/// Where a record came from, for skip reasons.
#[derive(Clone, Copy)]
enum Location {
    Line(u64),
    Record(u64),
}

/// Turns records into table rows, deciding the step of each.
struct RecordSink<'a> {
    builder: TableBuilder,
    opts: &'a JsonOptions,
    key_kind: Option<KeyKind>,
    last_key: Option<u64>,
    order: u64,
    carried: u64,
    /// Some records had no step and none before them did: the record order is the step.
    by_order: bool,
    text_keys: Vec<String>,
    /// Names that two keys of one record flatten to.
    collisions: Vec<String>,
    flat: Vec<Leaf>,
}

impl<'a> RecordSink<'a> {
    fn new(path: &str, opts: &'a JsonOptions) -> RecordSink<'a> {
        RecordSink {
            builder: TableBuilder::with_policy(path, opts.values.clone()),
            opts,
            key_kind: None,
            last_key: None,
            order: 0,
            carried: 0,
            by_order: false,
            text_keys: Vec::new(),
            collisions: Vec::new(),
            flat: Vec::new(),
        }
    }

    fn add(&mut self, obj: &Map<String, Value>, at: Location) {
        let mut flat = std::mem::take(&mut self.flat);
        flat.clear();
        let step_col = self.opts.step_col.as_deref();
        let is_key_name = |name: &str| {
            step_col.map_or_else(
                || STEP_KEYS.contains(&name) || name == "epoch" || name == "itr",
                |wanted| wanted == name,
            )
        };
        let mut how = Flattening {
            text: &mut self.text_keys,
            is_key_name: &is_key_name,
            nested: false,
        };
        flatten("", obj, &mut flat, &mut how, 0);
        if how.nested && self.collisions.len() < 8 {
            // `{"train/loss": 1, "train": {"loss": 2}}`: two keys, one name; the later wins.
            let mut names: Vec<&str> = flat.iter().map(|l| l.name.as_str()).collect();
            names.sort_unstable();
            for pair in names.windows(2) {
                if pair[0] == pair[1] && !self.collisions.iter().any(|c| c == pair[0]) {
                    self.collisions.push(pair[0].to_string());
                }
            }
        }
        self.add_flat(&flat, at);
        self.flat = flat;
    }

    fn skip(&mut self, at: Location, reason: impl Into<String>) {
        match at {
            Location::Line(line) => self.builder.skip(line, reason),
            Location::Record(record) => self.builder.skip_record(record, reason),
        }
    }

    fn add_flat(&mut self, flat: &[Leaf], at: Location) {
        let (key, key_names) = match self.find_key(flat) {
            Err(reason) => {
                self.skip(at, reason);
                return;
            }
            Ok(Some((key, kind, names))) => {
                if *self.key_kind.get_or_insert(kind) != kind {
                    self.skip(at, "step given as epoch/itr here but as a step elsewhere");
                    return;
                }
                self.last_key = Some(key);
                (key, names)
            }
            Ok(None) => match self.last_key {
                Some(previous) => {
                    self.carried += 1;
                    (previous, &[][..])
                }
                None => {
                    self.key_kind.get_or_insert(KeyKind::Step);
                    self.by_order = true;
                    (self.order, &[][..])
                }
            },
        };
        self.order += 1;
        let values: Vec<(usize, f32)> = flat
            .iter()
            .filter(|leaf| leaf.numeric && !key_names.contains(&leaf.name.as_str()))
            .map(|leaf| (self.builder.column(&leaf.name), leaf.value))
            .collect();
        if values.is_empty() {
            self.skip(at, "no numeric values in the record");
            return;
        }
        let row = self.builder.push_row(key);
        for (column, v) in values {
            self.builder.set(row, column, v);
        }
    }

    /// The record's key: (value, kind, names of the keys that hold it), `None` when it has none.
    fn find_key(&self, flat: &[Leaf]) -> Result<Option<RecordKey>, String> {
        let get = |name: &str| flat.iter().find(|l| l.name == name).map(|l| &l.step);
        let whole = |name: &str, v: &Result<u64, String>| {
            v.clone()
                .map_err(|shown| format!("{name} {shown} is not a whole number from 0 to 2^53"))
        };
        if let Some(wanted) = &self.opts.step_col {
            return match get(wanted) {
                Some(v) => Ok(Some((whole(wanted, v)?, KeyKind::Step, &[]))),
                None => Ok(None),
            };
        }
        for name in STEP_KEYS {
            if let Some(v) = get(name) {
                return Ok(Some((
                    whole(name, v)?,
                    KeyKind::Step,
                    std::slice::from_ref(name),
                )));
            }
        }
        if let (Some(e), Some(i)) = (get("epoch"), get("itr")) {
            let (e, i) = (whole("epoch", e)?, whole("itr", i)?);
            let key =
                epoch_itr_key(e, i).ok_or_else(|| format!("epoch {e} / itr {i} out of range"))?;
            return Ok(Some((key, KeyKind::EpochItr, &["epoch", "itr"])));
        }
        Ok(None)
    }

    fn finish(mut self, format: Format) -> Parsed {
        let path = self.builder.source().to_string();
        if self.carried > 0 {
            self.builder.warn(format!(
                "{path}: {} records without a step took the previous record's step",
                self.carried
            ));
        }
        if self.by_order {
            self.builder.warn(format!(
                "{path}: no step key in the records; using the record order as the step"
            ));
        }
        if !self.collisions.is_empty() {
            self.builder.warn(format!(
                "{path}: keys that flatten to the same name (the later one in each record is used): {}",
                crate::fmt::names(&self.collisions)
            ));
        }
        self.text_keys.sort();
        self.text_keys.dedup();
        if !self.text_keys.is_empty() {
            let shown: Vec<&str> = self.text_keys.iter().take(8).map(String::as_str).collect();
            self.builder.warn(format!(
                "{path}: keys holding text ignored: {}",
                shown.join(", ")
            ));
        }
        let key_kind = self.key_kind.unwrap_or(KeyKind::Step);
        Parsed {
            table: self.builder.finish(0),
            key_kind,
            format,
            ipe_hint: None,
            lines_ignored: 0,
        }
    }
}

/// A leaf of a record: its flattened name, its value as stored, and what it is worth as a step
/// (the number as written: steps beyond 2^24 are not exact in `f32`). Non-numeric leaves are
/// kept only under step-like names, so that an unusable step (`true`, `"x"`, `[1]`) is seen.
struct Leaf {
    name: String,
    value: f32,
    /// The whole number from 0 to 2^53 it holds, or how it was written when it holds none.
    step: Result<u64, String>,
    numeric: bool,
}

/// What [`flatten`] needs to know besides the object.
struct Flattening<'a> {
    /// Non-numeric keys (for the "keys holding text" note).
    text: &'a mut Vec<String>,
    /// Whether a name may hold the step (its non-numeric values are kept as unusable steps).
    is_key_name: &'a dyn Fn(&str) -> bool,
    /// Whether a nested object was flattened (names may then collide).
    nested: bool,
}

/// The step a JSON number stands for: the same rule as every reader ([`whole_f64`],
/// `values::parse_whole`), exact for integers beyond 2^53 (which `f64` would round).
fn step_of_number(n: &serde_json::Number) -> Result<u64, String> {
    let ok = match n.as_u64() {
        Some(u) => (u <= crate::model::MAX_STEP).then_some(u),
        None if n.is_i64() => None,
        None => n.as_f64().and_then(whole_f64),
    };
    ok.ok_or_else(|| n.to_string())
}

/// Flattens numeric leaves of an object into `prefix/key` names.
fn flatten(
    prefix: &str,
    obj: &Map<String, Value>,
    out: &mut Vec<Leaf>,
    how: &mut Flattening<'_>,
    depth: usize,
) {
    for (key, value) in obj {
        if prefix.len() + key.len() >= super::csv::MAX_NAME_BYTES {
            continue; // not a metric name (a damaged or generated key): ignored
        }
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}/{key}")
        };
        let unusable = |shown: String| Leaf {
            name: name.clone(),
            value: MISSING,
            step: Err(shown),
            numeric: false,
        };
        match value {
            Value::Number(n) => {
                let value = n.as_f64().map_or(MISSING, narrow);
                let step = step_of_number(n);
                out.push(Leaf {
                    name,
                    value,
                    step,
                    numeric: true,
                });
            }
            Value::String(s) => {
                match sentinel_value(s).or_else(|| parse_value(s.as_bytes()).ok()) {
                    Some(value) => {
                        let step = super::values::parse_whole(s.as_bytes())
                            .ok_or_else(|| format!("{s:?}"));
                        out.push(Leaf {
                            name,
                            value,
                            step,
                            numeric: true,
                        });
                    }
                    None => {
                        if (how.is_key_name)(&name) {
                            out.push(unusable(super::values::show_cell(s.as_bytes())));
                        } else if how.text.len() < 64 {
                            how.text.push(name);
                        }
                    }
                }
            }
            Value::Object(inner) if depth < 16 => {
                how.nested = true;
                flatten(&name, inner, out, how, depth + 1)
            }
            Value::Bool(b) if (how.is_key_name)(&name) => out.push(unusable(b.to_string())),
            Value::Array(_) if (how.is_key_name)(&name) => {
                let text = value.to_string();
                let shown: String = text.chars().take(40).collect();
                out.push(unusable(if shown.len() < text.len() {
                    format!("{shown}…")
                } else {
                    shown
                }));
            }
            Value::Null if (how.is_key_name)(&name) => out.push(unusable("null".into())),
            _ => {}
        }
    }
}

/// Sentinel strings written by [`translate_python_tokens`] back to their values.
fn sentinel_value(s: &str) -> Option<f32> {
    match s {
        "\u{0}NaN" => Some(f32::NAN),
        "\u{0}Infinity" => Some(f32::INFINITY),
        "\u{0}-Infinity" => Some(f32::NEG_INFINITY),
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
    fn error_columns_map_back_to_the_original_text() {
        let original = br#"{"a": NaN, "b": }"#;
        let (fixed, shifts) = translate_python_tokens(original);
        let err = serde_json::from_slice::<Value>(&fixed).unwrap_err();
        let col = original_column(err.column() as u64, &shifts);
        assert_eq!(original[col as usize - 1], b'}');
    }
}
