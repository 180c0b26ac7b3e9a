//! Event files into table rows: the per-record loop of the TensorBoard reader, kept apart from
//! the layout of runs and writers ([`super`]) because it is the hot path (a run logs millions of
//! scalars, one `Event` record each).
//!
//! Measured (bench/tensorboard.sh, `perf`) and shaped for it: records are slices of the reader's
//! one buffer ([`RecordReader::payload`]); a record whose scalars are all `simple_value`s (the
//! common case) is read in place by [`wire::walk_event`], any other record is decoded by prost
//! into one reused `Event` (the fallback decides exactly as the full decoder always did); a tag's
//! column is found by its bytes (first as the tag that followed last time, then by hash), and
//! its UTF-8 checked once, when the tag is first seen.
//!
//! A row is the consecutive events of one file that share a step. Rows account for every record:
//! a record whose checksum fails is skipped with its byte offset, a truncated last record (a live
//! run) is skipped and counted, and undecodable payloads are skipped with their offset.

use std::collections::HashMap;
use std::io::Read;

use prost::Message;

use super::super::Parsed;
use super::super::table::{KeyKind, TableBuilder, ValuePolicy};
use super::super::tfrecord::{Frame, RecordReader};
use super::wire::{self, SimpleEvent};
use super::{Event, Summary, SummaryValue, tensor_scalar};
use crate::error::IngestError;
use crate::model::{Format, MAX_STEP, narrow};

/// Turns events into table rows.
pub(super) struct EventSink {
    pub(super) builder: TableBuilder,
    /// The series name for every tag (an `add_scalars` sub-writer).
    rename: Option<String>,
    /// Each tag as written (before an `add_scalars` rename) and its column, in order of first
    /// appearance; the column is `None` for a tag that is not UTF-8 text.
    tags: Vec<(Box<[u8]>, Option<usize>)>,
    /// Index in `tags` of each tag.
    tag_index: HashMap<Box<[u8]>, usize>,
    /// The entry of `tags` after the last one looked up: writers log their tags in the same
    /// order step after step, so the next tag is usually this one (no hashing; measured: SipHash
    /// was 8% of reading).
    next_tag: usize,
    /// Per tag: whether its first metadata named the scalars plugin (or no plugin).
    pub(super) scalar_tags: HashMap<Box<[u8]>, bool>,
    row: Option<(u64, usize)>,
    ignored: u64,
    restarts: u64,
    pub(super) records: u64,
    /// Byte offset of the reader's start in the file (live reading starts mid-file).
    pub(super) base: u64,
    /// The event decoded into, record after record (its vectors keep their capacity).
    event: Event,
    /// The record the hot path read in place ([`wire::walk_event`]).
    simple: SimpleEvent,
    /// The scalars of the current event: (column, value).
    cells: Vec<(usize, f32)>,
}

impl EventSink {
    pub(super) fn new(name: &str, values: &ValuePolicy, rename: Option<String>) -> EventSink {
        EventSink {
            builder: TableBuilder::with_policy(name, values.clone()),
            rename,
            tags: Vec::new(),
            tag_index: HashMap::new(),
            next_tag: 0,
            scalar_tags: HashMap::new(),
            row: None,
            ignored: 0,
            restarts: 0,
            records: 0,
            base: 0,
            event: Event::default(),
            simple: SimpleEvent::default(),
            cells: Vec::new(),
        }
    }

    pub(super) fn restart(&mut self) {
        self.builder.restart();
        self.restarts += 1;
        self.row = None;
    }

    /// Reads the records of one file. `live`: the file is still being written, so a truncated
    /// last record is held, not skipped: its offset in the file is returned.
    pub(super) fn read_file(
        &mut self,
        reader: impl Read,
        file: &str,
        live: bool,
    ) -> Result<Option<u64>, IngestError> {
        let mut frames = RecordReader::new(reader);
        self.row = None;
        loop {
            let frame = frames.next_frame().map_err(|e| IngestError::io(file, e))?;
            let frame = frame.shifted(self.base);
            if live && matches!(frame, Frame::End | Frame::Truncated { .. }) {
                return Ok(match frame {
                    Frame::Truncated { offset, .. } => Some(offset),
                    _ => None,
                });
            }
            self.records += 1;
            let record = self.records;
            match frame {
                Frame::End => break,
                Frame::Record { offset } => {
                    let payload = frames.payload();
                    if wire::walk_event(payload, &mut self.simple).is_ok() {
                        self.add_simple(payload, record, offset, file);
                        continue;
                    }
                    self.clear_event();
                    match self.event.merge(payload) {
                        Ok(()) => self.add_event(record, offset, file),
                        Err(e) => self.builder.skip_record(
                            record,
                            format!("{file}: byte {offset}: not an Event message ({e})"),
                        ),
                    }
                }
                Frame::BadPayloadCrc { offset } => self.builder.skip_record(
                    record,
                    format!("{file}: byte {offset}: record checksum (CRC-32C) mismatch; skipped"),
                ),
                Frame::Resynced { offset, bytes } => self.builder.skip_record(
                    record,
                    format!(
                        "{file}: byte {offset}: damaged record header; {bytes} bytes passed over to the next sound record"
                    ),
                ),
                Frame::Truncated { offset, bytes } => {
                    self.builder.skip_record(
                        record,
                        format!(
                            "{file}: byte {offset}: last record truncated ({bytes} bytes; the run may still be writing); skipped"
                        ),
                    );
                    break;
                }
            }
        }
        Ok(None)
    }

    /// Empties the reused event as a fresh decode would find it, keeping the capacity of its
    /// summary's values (an event without a summary reads like one with no values: not a row).
    fn clear_event(&mut self) {
        let e = &mut self.event;
        e.wall_time = 0.0;
        e.step = 0;
        e.file_version = None;
        match &mut e.summary {
            Some(summary) => summary.value.clear(),
            None => e.summary = Some(Summary::default()),
        }
    }

    fn add_event(&mut self, record: u64, offset: u64, file: &str) {
        let event = std::mem::take(&mut self.event);
        self.add_values(&event, record, offset, file);
        self.event = event;
    }

    fn add_values(&mut self, event: &Event, record: u64, offset: u64, file: &str) {
        let values: &[SummaryValue] = event.summary.as_ref().map_or(&[], |s| &s.value);
        // (index of the value, then its column; the scalar)
        self.cells.clear();
        for (i, v) in values.iter().enumerate() {
            if let Some(x) = self.scalar_of(v) {
                self.cells.push((i, x));
            }
        }
        self.add_cells(
            event.step,
            move |i| &values[i].tag[..],
            record,
            offset,
            file,
        );
    }

    /// Adds a record the hot path read in place ([`wire::walk_event`] into `self.simple`).
    fn add_simple(&mut self, payload: &[u8], record: u64, offset: u64, file: &str) {
        let simple = std::mem::take(&mut self.simple);
        self.cells.clear();
        // As the full decoder's `scalar_of` stores a `simple_value` ([`narrow`]).
        self.cells.extend(
            simple
                .values
                .iter()
                .enumerate()
                .map(|(i, (_, x))| (i, narrow(f64::from(*x)))),
        );
        let walked = &simple.values;
        let tag = move |i: usize| &payload[walked[i].0.clone()];
        self.add_cells(simple.step, tag, record, offset, file);
        self.simple = simple;
    }

    /// Adds the scalars in `self.cells` (index of the value, value) at `step` to the row of that
    /// step; `tag(i)` is the tag of the `i`-th value of the event.
    fn add_cells<'t>(
        &mut self,
        step: i64,
        tag: impl Fn(usize) -> &'t [u8],
        record: u64,
        offset: u64,
        file: &str,
    ) {
        if self.cells.is_empty() {
            // file_version, graphs, session logs, images, histograms: not rows.
            self.ignored += 1;
            return;
        }
        let step = match u64::try_from(step) {
            Ok(s) if s <= MAX_STEP => s,
            _ => {
                self.builder
                    .skip_record(record, format!("byte {offset}: step {step} out of range"));
                return;
            }
        };
        for k in 0..self.cells.len() {
            let Some(column) = self.column(tag(self.cells[k].0)) else {
                self.builder.skip_record(
                    record,
                    format!("{file}: byte {offset}: a summary tag is not UTF-8 text"),
                );
                return;
            };
            self.cells[k].0 = column;
        }
        let row = match self.row {
            Some((s, row)) if s == step => row,
            _ => {
                let row = self.builder.push_row(step);
                self.row = Some((step, row));
                row
            }
        };
        for &(column, x) in &self.cells {
            self.builder.set(row, column, x);
        }
    }

    /// The column of a tag; `None` when the tag is not UTF-8 text.
    fn column(&mut self, tag: &[u8]) -> Option<usize> {
        if let Some((known, column)) = self.tags.get(self.next_tag)
            && **known == *tag
        {
            let column = *column;
            self.next_tag = (self.next_tag + 1) % self.tags.len();
            return column;
        }
        if let Some(&i) = self.tag_index.get(tag) {
            self.next_tag = (i + 1) % self.tags.len();
            return self.tags[i].1;
        }
        let column = std::str::from_utf8(tag).ok().map(|tag| {
            // A sub-writer's main tag becomes the folder's name; any other tag stays below it.
            let name = match &self.rename {
                Some(folder)
                    if folder.starts_with(tag) || folder.starts_with(&tag.replace('/', "_")) =>
                {
                    folder.clone()
                }
                Some(folder) => format!("{folder}/{tag}"),
                None => tag.to_string(),
            };
            self.builder.column(&name)
        });
        self.tag_index.insert(tag.into(), self.tags.len());
        self.tags.push((tag.into(), column));
        self.next_tag = 0;
        column
    }

    /// The scalar a value holds, if it is one.
    fn scalar_of(&mut self, v: &SummaryValue) -> Option<f32> {
        if let Some(x) = v.simple_value {
            // As stored: a NaN canonical, a value near f32::MAX kept beside the column.
            return Some(narrow(f64::from(x)));
        }
        let tensor = v.tensor.as_ref()?;
        let declared = v.metadata.as_ref().map(|m| {
            let plugin = m
                .plugin_data
                .as_ref()
                .map_or("", |p| p.plugin_name.as_str());
            plugin == "scalars" || (plugin.is_empty() && m.data_class != 2 && m.data_class != 3)
        });
        let is_scalar = match self.scalar_tags.get(v.tag.as_ref()) {
            Some(known) => *known,
            None => {
                let known = declared.unwrap_or(true);
                self.scalar_tags.insert(v.tag.as_ref().into(), known);
                known
            }
        };
        if !is_scalar {
            return None;
        }
        tensor_scalar(tensor)
    }

    pub(super) fn finish(self) -> Result<Parsed, IngestError> {
        let name = self.builder.source().to_string();
        if self.builder.rows_read() == 0 {
            return Err(IngestError::unusable(
                &name,
                format!(
                    "no scalar summaries in the event files ({} records: images, histograms, text or graphs only)",
                    self.records.saturating_sub(1)
                ),
            ));
        }
        Ok(Parsed {
            table: self.builder.finish(self.restarts),
            key_kind: KeyKind::Step,
            format: Format::Tensorboard,
            ipe_hint: None,
            lines_ignored: self.ignored,
        })
    }
}
