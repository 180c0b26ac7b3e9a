//! What the two CSV parsers share: the options, the [`Schema`] a header gives (which field is the
//! key, which table column each other field feeds), the rules that read a key and recognise a
//! header written again, and the end of a parse. The general parser ([`super::csv`]) and the
//! fast path ([`super::csv_fast`]) both take their schema from [`schema_for`], so a header means
//! the same to both.

use csv::ByteRecord;

use super::Parsed;
use super::table::{KeyKind, TableBuilder, ValuePolicy, epoch_itr_key};
use super::values::{locale_hint, parse_value, parse_whole, show_cell};
use crate::error::IngestError;
use crate::ingest::roles::is_step_name;
use crate::model::Format;

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

/// How a header maps fields to the key and to table columns: the one schema of both CSV parsers.
#[derive(Clone, Debug)]
pub struct Schema {
    /// The header's fields, trimmed, a UTF-8 byte-order mark removed from the first.
    pub header: Vec<Vec<u8>>,
    pub key: KeySpec,
    /// For each field: the table column it feeds, or `None` (a key field, an unnamed field, or
    /// — in the general parser, once seen — a text column).
    pub targets: Vec<Option<usize>>,
    /// V-JEPA grad-norm fields, where 0 means "not computed" (read as missing).
    pub zero_is_missing: Vec<bool>,
}

/// Which fields hold the row's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySpec {
    /// One field holds the global step.
    Step(usize),
    /// The JEPA family's `epoch` and `itr` fields.
    EpochItr { epoch: usize, itr: usize },
}

impl KeySpec {
    /// How the table's keys read.
    pub fn kind(self) -> KeyKind {
        match self {
            KeySpec::Step(_) => KeyKind::Step,
            KeySpec::EpochItr { .. } => KeyKind::EpochItr,
        }
    }
}

/// The longest column name accepted (metric names are tens of bytes).
pub const MAX_NAME_BYTES: usize = 1024;

/// Builds the schema of a header record (on line `line`), registering its value columns with
/// `builder`. Errors: a field not UTF-8 or over [`MAX_NAME_BYTES`], a row of numbers instead of
/// names, no step column (or `--step-col` not among them), no column left for values.
pub fn schema_for(
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
                    crate::human::names(&names)
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
            columns: crate::human::names(&names),
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
            crate::human::escape_control(&crate::human::names(&twice))
        ));
    }
    if targets.iter().all(Option::is_none) {
        return Err(IngestError::NoNumericColumn {
            path,
            detail: format!("columns: {}", crate::human::names(&names)),
        });
    }
    Ok(Schema {
        header,
        key,
        targets,
        zero_is_missing,
    })
}

/// A record that repeats the header, or is a new header (every field a non-number, the key
/// field among them).
pub fn is_header_like(record: &ByteRecord, schema: &Schema) -> bool {
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

pub fn parse_key(
    record: &ByteRecord,
    key: KeySpec,
    path: &str,
    line: u64,
) -> Result<u64, IngestError> {
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

/// What both parsers do at the end: warn about zero grad norms (`zeros_missing_by_column`, per
/// table column), reject files without data or numbers (`text_hint`: why a column holding text
/// may have been meant as numbers), resolve restarts and duplicates.
pub fn finish(
    mut builder: TableBuilder,
    schema: &Schema,
    text_hint: Option<&str>,
    zeros_missing_by_column: &[u64],
    restarts: u64,
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
                crate::human::names(&names),
                text_hint.map_or(String::new(), |h| format!(", like {h}"))
            ),
        });
    }
    let table = builder.finish(restarts);
    Ok(Parsed {
        table,
        key_kind: schema.key.kind(),
        format: opts.format,
        ipe_hint: None,
        lines_ignored: 0,
    })
}
