//! The W&B offline run folder (`wandb/offline-run-*/`, `wandb/run-*/`, `wandb/latest-run`).
//!
//! Its `run-*.wandb` file is W&B's transaction log (wandb/sdk/internal/datastore.py): a 7-byte
//! header `":W&B"`, magic `0xBEE1`, version 0, then LevelDB-log framing in 32 KiB blocks (7-byte
//! record header: CRC-32 (zlib) of type and data, u16 length, type FULL/FIRST/MIDDLE/LAST). Each
//! record is a protobuf `wandb_internal.Record` (wandb/proto/wandb_internal.proto); its `history`
//! field (`HistoryRecord`) holds items `key` / `value_json` (or typed values) and the step
//! (`_step`). Other versions are refused with a message naming `wandb sync` and the CSV export as
//! the way out.
//!
//! When the transaction log cannot be read (an unknown version, a damaged or empty file), the
//! folder's `files/output.log` — the console output W&B captured — is read instead with the
//! console reader, and a note says what that copy lacks.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use prost::Message;

use super::super::table::{KeyKind, TableBuilder, ValuePolicy};
use super::super::values::whole_f64;
use super::super::{Parsed, Source, console};
use crate::error::IngestError;
use crate::model::{Format, MAX_STEP, narrow};

/// True for a W&B run folder: it holds a `run-*.wandb` file.
pub fn is_run_dir(dir: &Path) -> bool {
    transaction_log(dir).is_some()
}

fn transaction_log(dir: &Path) -> Option<PathBuf> {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wandb") && p.is_file())
        .collect();
    logs.sort();
    logs.pop()
}

/// `wandb_internal.Record`: only the history field.
#[derive(Clone, PartialEq, Message)]
struct Record {
    #[prost(message, optional, tag = "2")]
    history: Option<HistoryRecord>,
}

/// `wandb_internal.HistoryRecord`.
#[derive(Clone, PartialEq, Message)]
struct HistoryRecord {
    #[prost(message, repeated, tag = "1")]
    item: Vec<HistoryItem>,
    #[prost(message, optional, tag = "2")]
    step: Option<HistoryStep>,
}

/// `wandb_internal.HistoryItem`.
#[derive(Clone, PartialEq, Message)]
struct HistoryItem {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, repeated, tag = "2")]
    nested_key: Vec<String>,
    /// Typed values (wandb ≥ 0.2x writes numbers here rather than in `value_json`).
    #[prost(bool, optional, tag = "4")]
    boolean: Option<bool>,
    #[prost(sint64, optional, tag = "5")]
    integer: Option<i64>,
    #[prost(double, optional, tag = "6")]
    number: Option<f64>,
    #[prost(string, tag = "16")]
    value_json: String,
}

/// `wandb_internal.HistoryStep`.
#[derive(Clone, PartialEq, Message)]
struct HistoryStep {
    #[prost(int64, tag = "1")]
    num: i64,
}

const BLOCK_BYTES: usize = 32 * 1024;
const HEADER_IDENT: &[u8; 4] = b":W&B";
const HEADER_MAGIC: u16 = 0xBEE1;

/// Reads the history of an offline run folder.
pub fn read_run_dir(
    dir: &Path,
    source: &Source,
    values: &ValuePolicy,
) -> Result<Vec<(Source, Parsed)>, IngestError> {
    let Some(log) = transaction_log(dir) else {
        return Err(IngestError::unusable(
            &source.name,
            "no run-*.wandb file in the run folder",
        ));
    };
    let name = log.display().to_string();
    let parsed = File::open(&log)
        .map_err(|e| IngestError::io(&name, e))
        .and_then(|file| parse_transaction_log(file, &name, values));
    let source_of = |name: String| Source {
        name,
        path: Some(dir.to_path_buf()),
        rank: None,
    };
    match parsed {
        Ok(parsed) => Ok(vec![(source_of(name), parsed)]),
        Err(why) => match read_console_copy(dir, &why, values) {
            Some((console_name, parsed)) => Ok(vec![(source_of(console_name), parsed)]),
            None => Err(why),
        },
    }
}

/// The console output W&B keeps beside the transaction log, read when the log cannot be
/// (`why`); `None` when there is no readable `files/output.log` with loss lines.
fn read_console_copy(
    dir: &Path,
    why: &IngestError,
    values: &ValuePolicy,
) -> Option<(String, Parsed)> {
    let path = dir.join("files").join("output.log");
    let file = File::open(&path).ok()?;
    let source = Source::file(&path);
    let mut parsed = console::parse(file, &source, values).ok()?;
    parsed.table.warnings.push(format!(
        "{why}. Read {} (the console output W&B captured) instead: it holds only what the training script printed, so series logged with wandb.log but not printed are missing, steps are the printed [epoch, itr] rather than W&B's _step, and values carry the printed rounding",
        source.name
    ));
    Some((source.name, parsed))
}

fn way_out(name: &str, why: &str) -> IngestError {
    IngestError::unusable(
        name,
        format!(
            "{why}; upload it with `wandb sync {name}` and use the run page's Download CSV, or export the history with the W&B API (run.history().to_csv())"
        ),
    )
}

/// Parses a `.wandb` transaction log into the history table.
pub fn parse_transaction_log(
    reader: impl Read,
    name: &str,
    values: &ValuePolicy,
) -> Result<Parsed, IngestError> {
    let mut reader = BufReader::new(reader);
    let mut block = vec![0u8; BLOCK_BYTES];
    // The file header takes the first 7 bytes of the first block.
    let mut filled = read_block(&mut reader, &mut block).map_err(|e| IngestError::io(name, e))?;
    let header = &block[..filled.min(7)];
    if header.len() < 7
        || &header[..4] != HEADER_IDENT
        || u16::from_le_bytes([header[4], header[5]]) != HEADER_MAGIC
    {
        return Err(way_out(name, "not a W&B transaction log (unknown header)"));
    }
    if header[6] != 0 {
        return Err(way_out(
            name,
            &format!(
                "W&B transaction log version {} is not one jepa-doctor reads (0)",
                header[6]
            ),
        ));
    }
    let mut builder = TableBuilder::with_policy(name, values.clone());
    let mut offset_in_block = 7usize;
    let mut pending: Vec<u8> = Vec::new();
    let mut record_no = 0u64;
    let mut ignored = 0u64;
    let mut truncated = false;
    loop {
        if offset_in_block + 7 > filled {
            // The rest of a block shorter than a record header is padding.
            let n = read_block(&mut reader, &mut block).map_err(|e| IngestError::io(name, e))?;
            if n == 0 {
                break;
            }
            filled = n;
            offset_in_block = 0;
            if n < 7 {
                truncated = true;
                break;
            }
        }
        let h = &block[offset_in_block..offset_in_block + 7];
        let crc = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let len = usize::from(u16::from_le_bytes([h[4], h[5]]));
        let kind = h[6];
        if kind == 0 && len == 0 {
            // Zero padding at the end of a block.
            offset_in_block = filled;
            continue;
        }
        let start = offset_in_block + 7;
        if start + len > filled {
            truncated = true;
            break;
        }
        let data = &block[start..start + len];
        offset_in_block = start + len;
        let mut hasher = flate2::Crc::new();
        hasher.update(&[kind]);
        hasher.update(data);
        if hasher.sum() != crc {
            record_no += 1;
            builder.skip_record(record_no, "record checksum (CRC-32) mismatch; skipped");
            pending.clear();
            continue;
        }
        match kind {
            1 => {
                pending.clear();
                pending.extend_from_slice(data);
            }
            2 => {
                pending.clear();
                pending.extend_from_slice(data);
                continue;
            }
            3 => {
                pending.extend_from_slice(data);
                continue;
            }
            4 => pending.extend_from_slice(data),
            _ => {
                return Err(way_out(name, &format!("unknown record type {kind}")));
            }
        }
        record_no += 1;
        match Record::decode(pending.as_slice()) {
            Ok(Record {
                history: Some(history),
            }) => add_history(&mut builder, history, record_no),
            Ok(_) => ignored += 1,
            Err(e) => builder.skip_record(record_no, format!("not a W&B record ({e})")),
        }
    }
    if truncated {
        builder.skip_record(
            record_no + 1,
            "last record truncated (the run may still be writing); skipped",
        );
    }
    let table = builder.finish(0);
    if table.account.rows_used == 0 {
        let first = table
            .skipped
            .first()
            .map_or_else(String::new, |s| format!("; first: {}", s.reason));
        return Err(way_out(
            name,
            &format!(
                "no history records could be read ({} records skipped{first})",
                table.account.rows_skipped
            ),
        ));
    }
    Ok(Parsed {
        table,
        key_kind: KeyKind::Step,
        format: Format::Wandb,
        ipe_hint: None,
        lines_ignored: ignored,
    })
}

fn read_block(reader: &mut impl Read, block: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < block.len() {
        match reader.read(&mut block[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn add_history(builder: &mut TableBuilder, history: HistoryRecord, record: u64) {
    let mut step = history.step.map(|s| s.num);
    let mut cells = Vec::with_capacity(history.item.len());
    for item in history.item {
        let key = if item.nested_key.is_empty() {
            item.key
        } else {
            item.nested_key.join("/")
        };
        if key == "_step" {
            step = step
                .or(item.integer)
                .or_else(|| {
                    item.number
                        .and_then(whole_f64)
                        .and_then(|s| i64::try_from(s).ok())
                })
                .or_else(|| item.value_json.trim().parse().ok());
            continue;
        }
        if key.starts_with('_') {
            continue; // _runtime, _timestamp: W&B's own bookkeeping
        }
        if item.boolean.is_some() {
            continue;
        }
        if let Some(x) = item.number {
            cells.push((key, narrow(x)));
            continue;
        }
        if let Some(x) = item.integer {
            cells.push((key, x as f32));
            continue;
        }
        let value = match item.value_json.trim() {
            "NaN" => f32::NAN,
            "Infinity" => f32::INFINITY,
            "-Infinity" => f32::NEG_INFINITY,
            text => match text.parse::<f64>() {
                Ok(x) => narrow(x),
                Err(_) => continue, // images, tables, histograms: not scalars
            },
        };
        cells.push((key, value));
    }
    let Some(step) = step
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s <= MAX_STEP)
    else {
        builder.skip_record(record, "history record without a usable _step");
        return;
    };
    if cells.is_empty() {
        builder.skip_record(record, "history record without a numeric value");
        return;
    }
    let row = builder.push_row(step);
    for (key, value) in cells {
        let column = builder.column(&key);
        builder.set(row, column, value);
    }
}
