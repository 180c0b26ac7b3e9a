//! JSON lines in batches: each batch is parsed across cores (rayon) in blocks of lines, flat
//! records by the fast path ([`super::flat_line`]) and the rest by the general one, then added
//! to the table in file order.

use std::ops::Range;

use crate::ingest::lines::for_each_block;

use super::flat_line::{FlatField, read_flat_line, same_keys};
use super::record::{Location, RecordSink};
use super::shape::Shapes;
use super::{JsonOptions, ParsedLine, parse_line, record_range};

/// Lines waiting to be parsed, and what parsing them needs from batch to batch.
#[derive(Default)]
pub(super) struct LineBatch {
    lines: Lines,
    /// Whether flat records take the fast path.
    fast: bool,
    shapes: Shapes,
    /// Per-task results, kept from batch to batch (cleared, not reallocated).
    blocks: Vec<Block>,
}

/// Lines end to end, and (line number, end offset) of each.
#[derive(Default)]
struct Lines {
    text: Vec<u8>,
    ends: Vec<(u64, usize)>,
}

impl Lines {
    /// The text of line `i`, its first byte's offset, and its line number.
    fn get(&self, i: usize) -> (&[u8], usize, u64) {
        let start = if i == 0 { 0 } else { self.ends[i - 1].1 };
        let (line_no, end) = self.ends[i];
        (&self.text[start..end], start, line_no)
    }
}

/// Lines parsed together by one task: the fields of their flat records end to end, and what
/// each line holds.
#[derive(Default)]
struct Block {
    fields: Vec<FlatField>,
    lines: Vec<BlockLine>,
}

/// One line of a [`Block`].
enum BlockLine {
    /// A flat record: its fields in [`Block::fields`], and whether its keys are those of the
    /// block's previous flat record (its shape is then known without comparing again).
    Flat {
        fields: Range<usize>,
        same_keys: bool,
    },
    Parsed(ParsedLine),
}

/// Lines per parallel task.
const BLOCK_LINES: usize = 512;

impl LineBatch {
    /// An empty batch; `fast`: whether flat records take the fast path.
    pub(super) fn new(fast: bool) -> LineBatch {
        LineBatch {
            fast,
            ..LineBatch::default()
        }
    }

    pub(super) fn push(&mut self, line_no: u64, line: &[u8]) {
        self.lines.text.extend_from_slice(line);
        self.lines.ends.push((line_no, self.lines.text.len()));
    }

    pub(super) fn len(&self) -> usize {
        self.lines.ends.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.lines.text.len()
    }

    /// Parses the lines across cores and adds them in order; empties the batch.
    pub(super) fn add_to(&mut self, records: &mut RecordSink<'_>) {
        let opts = records.opts();
        let LineBatch {
            lines,
            fast,
            shapes,
            blocks,
        } = self;
        let count = for_each_block(blocks, lines.ends.len(), BLOCK_LINES, |range, block| {
            block.parse(lines, range, opts, *fast);
        });
        let mut i = 0;
        for block in &mut blocks[..count] {
            for line in block.lines.drain(..) {
                let parsed = match line {
                    BlockLine::Flat { fields, same_keys } => {
                        let fields = &block.fields[fields];
                        let shape = shapes.of(&lines.text, fields, opts, same_keys);
                        if records.add_fast(fields, shape) {
                            i += 1;
                            continue;
                        }
                        // The fast path gave up: the general path reads the line.
                        let (text, _, line_no) = lines.get(i);
                        parse_line(text, line_no, opts)
                    }
                    BlockLine::Parsed(parsed) => parsed,
                };
                let line_no = lines.ends[i].0;
                match parsed {
                    ParsedLine::Blank => {}
                    ParsedLine::Record(flat) => {
                        records.add_flattened(flat, Location::Line(line_no));
                    }
                    ParsedLine::Skipped(reason) => records.builder.skip(line_no, reason),
                }
                i += 1;
            }
        }
        lines.text.clear();
        lines.ends.clear();
    }
}

impl Block {
    /// Parses lines `range` of `lines`: flat records by the fast path when it is on (`fast`),
    /// the rest by the general one.
    fn parse(&mut self, lines: &Lines, range: Range<usize>, opts: &JsonOptions, fast: bool) {
        self.fields.clear();
        self.lines.clear();
        let mut previous: Option<Range<usize>> = None;
        for i in range {
            let (text, start, line_no) = lines.get(i);
            let from = self.fields.len();
            let record = record_range(text, line_no);
            let line = if fast
                && !record.is_empty()
                && read_flat_line(
                    &text[record.clone()],
                    start + record.start,
                    &mut self.fields,
                ) {
                let fields = from..self.fields.len();
                let same_keys = previous.take().is_some_and(|p| {
                    same_keys(&lines.text, &self.fields[p], &self.fields[fields.clone()])
                });
                previous = Some(fields.clone());
                BlockLine::Flat { fields, same_keys }
            } else {
                BlockLine::Parsed(parse_line(text, line_no, opts))
            };
            self.lines.push(line);
        }
    }
}
