//! From the bytes appended to one log to its new rows, with the parsers `analyze` uses: each batch
//! of complete lines is parsed as a small input of its own, with the little context the format
//! needs carried over from the previous batch. No parser is duplicated here.
//!
//! - CSV (V-JEPA family and generic): the current header line is put before the new lines, so
//!   [`crate::ingest::csv::parse`] sees a normal file; a header written again (a restart) is in the
//!   new lines and the parser treats it as in `analyze`; the newest header is kept for the next
//!   batch (a restart may write a wider one).
//! - JSON lines: stateless, the new lines are parsed as they are; a last record written without
//!   its newline is taken once it parses whole, when the caller asks ([`FileFeed::flush_partial`]).
//!   CSV and console lines always wait for their newline: a line cut short still reads as numbers.
//! - A file whose only line is unterminated is recognised once that line is a whole JSON object
//!   or array (a JSON document written on one line, as `json.dump` does).
//! - Console logs: values are running means since the start of the epoch, recovered from
//!   consecutive lines, so the last loss line of the previous batch is put before the new lines.
//!   Its row comes out again as the batch's first row, with the same key as the last row taken:
//!   the caller only fills the cells that row lacked (the grad stats V-JEPA prints on the lines
//!   after the loss line), so the value recovered across the boundary is never replaced.
//! - fairseq `train_inner` lines: stateless, as JSON lines.
//! - TensorBoard event files: binary TFRecord streams, followed by [`tfevents`] (raw bytes, a
//!   partial last record held; a writer's newer event file is a restart).
//! - What cannot be cut into lines is read whole again when it changes ([`whole`]): compressed
//!   logs, JSON documents (`trainer_state.json`), W&B exports and transaction logs, MLflow stores,
//!   W&B offline run folders.

use std::io::Cursor;

use super::tail::{Growth, Tail};
use tfevents::EventChain;
use whole::{Whole, WholeKind};

mod recognise;
pub mod tfevents;
pub mod whole;
use crate::error::IngestError;
use crate::ingest::sources::Container;
use crate::ingest::table::{KeyKind, ValuePolicy};
use crate::ingest::values::parse_value;
use crate::ingest::{
    IngestOptions, Parsed, Source, console, csv, framework, json, sniff, tensorboard,
};
use crate::model::{Format, RowAccount, SkippedRow};
use crate::params::RunParams;

/// New rows of one file, in key order. A first key equal to the last key of the previous batch
/// (and no restart in this batch) completes that row: only the cells it lacked are taken (a
/// console line's grad stats, a JSON line for the same step, as `analyze` merges rows sharing a
/// key); a first key before it is a restart that replaces from there on.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub key_kind: Option<KeyKind>,
    pub names: Vec<String>,
    pub keys: Vec<u64>,
    /// One vector per name, aligned with `keys`.
    pub columns: Vec<Vec<f32>>,
    pub account: RowAccount,
    pub restarts: u64,
    pub lines_ignored: u64,
    pub skipped: Vec<SkippedRow>,
    pub warnings: Vec<String>,
    /// The first row is the last row of the previous batch again and the parser's accounting
    /// does not count it (a console log's context line).
    pub repeats_last: bool,
    /// The run's config, from a store that keeps one (MLflow params).
    pub params: Option<RunParams>,
}

/// What a look at one file gave.
#[derive(Debug)]
pub enum Fed {
    Rows(Batch),
    /// Every row the source holds now, replacing what it gave before (a source read whole).
    Whole(Batch),
    /// The file was truncated or replaced: what was read from it before is void.
    Reset,
    Nothing,
    Missing,
}

/// One followed log.
#[derive(Debug)]
pub struct FileFeed {
    pub source: Source,
    tail: Tail,
    forced: Option<Format>,
    step_col: Option<String>,
    format: Option<Format>,
    /// Lines read before the format could be recognised.
    head: Vec<u8>,
    /// CSV: the header line in force.
    header: Option<Vec<u8>>,
    /// Console: the last loss line and its key.
    context: Option<Vec<u8>>,
    pub ipe_hint: Option<u64>,
    /// Complete lines taken from the file so far (for file line numbers in messages).
    lines_done: u64,
    /// TensorBoard: the writer's event files, followed as binary records instead of lines.
    events: Option<EventChain>,
    /// A source read whole when it changes.
    whole: Option<Whole>,
    /// What to read a source read whole with.
    opts: IngestOptions,
    /// Found after watching began: a first read that fails is a writer at work, waited for.
    appeared_while_watching: bool,
}

impl FileFeed {
    pub fn new(source: Source, opts: &IngestOptions) -> FileFeed {
        let path = source.path.clone().unwrap_or_default();
        FileFeed {
            tail: Tail::new(&path),
            source,
            forced: opts.format,
            step_col: opts.step_col.clone(),
            format: None,
            head: Vec::new(),
            header: None,
            context: None,
            ipe_hint: None,
            lines_done: 0,
            events: None,
            whole: None,
            opts: opts.clone(),
            appeared_while_watching: false,
        }
        .with_events_if_named(opts)
    }

    /// Marks a source found after watching began (a new `checkpoint-N/trainer_state.json`): its
    /// writer may still be at work, so a first read that fails waits for the next change
    /// instead of ending `watch`.
    pub fn appeared_while_watching(mut self) -> FileFeed {
        self.appeared_while_watching = true;
        self
    }

    /// A reader of the whole source that knows when it appeared.
    fn whole_reader(&self, kind: WholeKind) -> Whole {
        let mut whole = Whole::new(kind, &self.opts);
        whole.appeared_while_watching = self.appeared_while_watching;
        whole
    }

    /// A tracker store (MLflow file store or `mlflow.db`, W&B offline run folder), read whole
    /// when it changes.
    pub fn store(source: Source, container: Container, opts: &IngestOptions) -> FileFeed {
        let mut feed = FileFeed::new(source, opts);
        feed.whole = Some(Whole::new(WholeKind::Store(container), opts));
        feed
    }

    /// A TensorBoard writer: its event files (name order) and, for an `add_scalars` sub-writer,
    /// the series name its tag takes.
    pub fn events(
        source: Source,
        files: Vec<std::path::PathBuf>,
        rename: Option<String>,
    ) -> FileFeed {
        let mut feed = FileFeed::new(source, &IngestOptions::default());
        feed.format = Some(Format::Tensorboard);
        feed.events = Some(EventChain::new(files, rename));
        feed
    }

    /// An event file (by name, or `--format tensorboard`) is followed as binary records.
    fn with_events_if_named(mut self, opts: &IngestOptions) -> FileFeed {
        let path = self.source.path.clone().unwrap_or_default();
        if opts.format == Some(Format::Tensorboard) || tensorboard::is_event_file(&path) {
            self.format = Some(Format::Tensorboard);
            self.events = Some(EventChain::new(vec![path], None));
        }
        self
    }

    /// The writer's event files, when this feed follows TensorBoard event files.
    pub fn event_chain(&mut self) -> Option<&mut EventChain> {
        self.events.as_mut()
    }

    /// Why a source read whole gave nothing at its last look (held or waiting).
    pub fn note(&self) -> Option<&str> {
        self.whole.as_ref().and_then(|w| w.note.as_deref())
    }

    /// The format, once recognised.
    pub fn format(&self) -> Option<Format> {
        self.whole.as_ref().map_or(self.format, |w| w.format)
    }

    /// Whether more bytes wait beyond the last read.
    pub fn behind(&self) -> bool {
        match (&self.events, &self.whole) {
            (Some(chain), _) => chain.behind(),
            (None, Some(_)) => false,
            (None, None) => self.tail.behind(),
        }
    }

    /// Starts over from the beginning of the file (everything is read again).
    pub fn rewind(&mut self) {
        if let Some(whole) = &mut self.whole {
            whole.rewind();
            return;
        }
        if let Some(chain) = &mut self.events {
            chain.rewind();
            return;
        }
        self.tail.rewind();
        self.reset_state();
    }

    fn reset_state(&mut self) {
        self.format = None;
        self.head.clear();
        self.header = None;
        self.context = None;
        self.lines_done = 0;
    }

    /// Reads and parses what was appended, at most `max_bytes` of it.
    pub fn poll(&mut self, max_bytes: u64) -> Result<Fed, IngestError> {
        if let Some(chain) = &mut self.events {
            return chain.poll(&ValuePolicy::all(), max_bytes);
        }
        if let Some(whole) = &mut self.whole {
            return whole.poll(&self.source);
        }
        if self.format.is_none() && self.head.is_empty() && self.tail.offset() == 0 {
            // Compressed bytes and binary logs cannot be cut into lines: read them whole.
            if let Some(kind) = self.peek_binary()? {
                self.whole = Some(self.whole_reader(kind));
                return self.poll(max_bytes);
            }
        }
        let growth = self
            .tail
            .read_new(max_bytes)
            .map_err(|e| IngestError::io(&self.source.name, e))?;
        let lines = match growth {
            Growth::Lines(lines) => lines,
            Growth::Reset => {
                self.reset_state();
                return Ok(Fed::Reset);
            }
            // A JSON document written on one line without a final newline is whole once it
            // parses: its only line never gets the newline the lines wait for.
            Growth::Nothing => {
                return match self.format.is_none().then(|| self.recognise_unterminated()) {
                    Some(Some(format)) => self.start(format, max_bytes),
                    _ => Ok(Fed::Nothing),
                };
            }
            Growth::Missing => return Ok(Fed::Missing),
        };
        if self.format.is_none() {
            self.head.extend_from_slice(&lines);
            let Some(format) = self.recognise()?.or_else(|| self.recognise_unterminated()) else {
                return Ok(Fed::Nothing);
            };
            return self.start(format, max_bytes);
        }
        match self.format {
            Some(format) => self.parse_batch(format, lines),
            None => Ok(Fed::Nothing),
        }
    }

    /// Follows the file as `format`, now recognised from the head read so far (and the
    /// unterminated line after it).
    fn start(&mut self, format: Format, max_bytes: u64) -> Result<Fed, IngestError> {
        self.format = Some(format);
        if format == Format::Tensorboard {
            // An event file under another name: followed record by record.
            self.head.clear();
            let path = self.source.path.clone().unwrap_or_default();
            self.events = Some(EventChain::new(vec![path], None));
            return self.poll(max_bytes);
        }
        if matches!(format, Format::Json | Format::WandbCsv | Format::Wandb) {
            // Rewritten whole by its writer, or not made of lines.
            self.head.clear();
            self.whole = Some(self.whole_reader(WholeKind::File));
            return self.poll(max_bytes);
        }
        if format == Format::Jsonl && self.step_col.is_none() {
            // A framework's JSON lines (fairseq, DINO) name their step as `analyze` reads it.
            let first = if self.head.trim_ascii().is_empty() {
                self.tail.partial()
            } else {
                &self.head
            };
            self.step_col = framework::json_lines_step_key(first).map(String::from);
        }
        let lines = std::mem::take(&mut self.head);
        self.parse_batch(format, lines)
    }

    /// A JSON-lines log's last record, written without its newline, once it is whole (it parses
    /// as one object: half a record never does, so no value is read from half a line). The
    /// caller asks when the file has not grown for a while, and at the end. Lines of other
    /// formats wait for their newline: a CSV or console line cut short still reads as numbers.
    pub fn flush_partial(&mut self) -> Result<Fed, IngestError> {
        if self.events.is_some()
            || self.whole.is_some()
            || self.format != Some(Format::Jsonl)
            || !json::is_whole_container(self.tail.partial())
        {
            return Ok(Fed::Nothing);
        }
        let mut line = self.tail.take_partial();
        line.push(b'\n');
        self.parse_batch(Format::Jsonl, line)
    }

    /// Parses one batch of complete lines with the format's own parser.
    fn parse_batch(&mut self, format: Format, lines: Vec<u8>) -> Result<Fed, IngestError> {
        let values = ValuePolicy::all();
        let new_lines = memchr::memchr_iter(b'\n', &lines).count() as u64;
        // Line k of the parser's input is line k + shift of the file.
        let mut shift = self.lines_done as i64;
        let mut repeats_last = false;
        let parsed = match format {
            Format::VjepaCsv | Format::Vjepa2Csv | Format::IjepaCsv | Format::Csv => {
                let mut rest: &[u8] = &lines;
                if self.header.is_none() {
                    let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
                    self.header = Some(rest[..end].to_vec());
                    rest = &rest[end..];
                }
                let delimiter = sniff::delimiter(self.header.as_deref().unwrap_or_default());
                if self.lines_done == 0 {
                    shift = 0; // the header is the file's own first line
                } else {
                    shift -= 1; // the header put before the new lines
                }
                let mut input = self.header.clone().unwrap_or_default();
                input.extend_from_slice(rest);
                if let Some(h) = last_header(rest, delimiter) {
                    self.header = Some(h);
                }
                let opts = csv::CsvOptions {
                    format,
                    delimiter,
                    step_col: self.step_col.clone(),
                    values,
                };
                csv::parse(Cursor::new(input), &self.source, &opts)
            }
            Format::Jsonl => {
                let opts = json::JsonOptions {
                    step_col: self.step_col.clone(),
                    values,
                };
                json::parse_lines(Cursor::new(lines), &self.source, &opts)
            }
            Format::FairseqLog => {
                let opts = json::JsonOptions {
                    step_col: self.step_col.clone(),
                    values,
                };
                framework::parse_fairseq(Cursor::new(lines), &self.source, &opts)
            }
            Format::ConsoleLog => {
                let mut input = self.context.clone().unwrap_or_default();
                let context_lines = u64::from(!input.is_empty());
                shift -= context_lines as i64;
                input.extend_from_slice(&lines);
                if let Some(last) = lines
                    .split(|b| *b == b'\n')
                    .rev()
                    .find(|l| sniff::is_loss_line(l))
                {
                    let mut line = last.to_vec();
                    line.push(b'\n');
                    self.context = Some(line);
                }
                console::parse(Cursor::new(input), &self.source, &values).map(|mut p| {
                    if context_lines > 0 && p.table.restarts == 0 {
                        // The context row was taken before: it comes again only to collect the
                        // lines that belong to it (grad stats printed after the loss line).
                        let rows = &mut p.table.account;
                        rows.rows_read = rows.rows_read.saturating_sub(1);
                        rows.rows_used = rows.rows_used.saturating_sub(1);
                        repeats_last = true;
                    }
                    p
                })
            }
            // TensorBoard event files are followed by `EventChain`, what is read whole by `Whole`
            // (see `poll`); nothing else reaches here.
            other => Err(IngestError::unusable(
                &self.source.name,
                format!(
                    "{} logs are read whole, not by lines (an internal mix-up; please report it)",
                    other.as_str()
                ),
            )),
        };
        self.lines_done += new_lines;
        match parsed {
            Ok(p) => {
                if p.ipe_hint.is_some() {
                    self.ipe_hint = p.ipe_hint;
                }
                let mut batch = batch_of(p);
                batch.repeats_last = repeats_last;
                for s in &mut batch.skipped {
                    s.line = s.line.map(|l| l.saturating_add_signed(shift));
                }
                Ok(Fed::Rows(batch))
            }
            Err(IngestError::Empty { .. } | IngestError::HeaderOnly { .. }) => Ok(Fed::Nothing),
            Err(IngestError::At {
                path,
                line,
                message,
            }) => Err(IngestError::At {
                path,
                line: line.saturating_add_signed(shift),
                message,
            }),
            Err(IngestError::Json {
                path,
                line,
                column,
                message,
            }) => Err(IngestError::Json {
                path,
                line: line.saturating_add_signed(shift),
                column,
                message,
            }),
            Err(e) => Err(e),
        }
    }
}

/// The last header line among `lines` (every cell a name, none a number), with its newline.
fn last_header(lines: &[u8], delimiter: u8) -> Option<Vec<u8>> {
    lines
        .split(|b| *b == b'\n')
        .rev()
        .find(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let cells: Vec<&[u8]> = line.split(|b| *b == delimiter).collect();
            cells.len() > 1
                && cells
                    .iter()
                    .all(|c| !c.trim_ascii().is_empty() && parse_value(c.trim_ascii()).is_err())
        })
        .map(|l| {
            let mut l = l.to_vec();
            l.push(b'\n');
            l
        })
}

pub(super) fn batch_of(p: Parsed) -> Batch {
    let t = p.table;
    let columns = t
        .columns
        .iter()
        .map(|c| c.dense_values(t.keys.len()))
        .collect();
    Batch {
        key_kind: Some(p.key_kind),
        names: t.names,
        keys: t.keys.iter().collect(),
        columns,
        account: t.account,
        restarts: t.restarts,
        lines_ignored: p.lines_ignored,
        skipped: t.skipped,
        warnings: t.warnings,
        repeats_last: false,
        params: None,
    }
}
