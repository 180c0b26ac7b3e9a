//! The record shapes of a JSON-lines file: a shape is the keys of a flat record in their order.
//! Logs repeat a few shapes (a train line, an eval line) for millions of lines, so which field is
//! the step and which column each value goes to are decided once per shape, by the general path's
//! rules (`record::RecordSink::find_key`, `TableBuilder::column`), and a line of a known shape is
//! matched by comparing its key bytes: no hashing, no names built.

use super::flat_line::FlatField;
use super::{JsonOptions, STEP_KEYS};
use crate::ingest::csv::MAX_NAME_BYTES;
use crate::ingest::table::TableBuilder;

/// Shapes remembered at once; a file with more (generated keys) replaces them in turn.
const MAX_SHAPES: usize = 16;

/// The shapes seen so far.
#[derive(Default)]
pub(super) struct Shapes {
    known: Vec<Shape>,
    /// The shape the last line had (tried first).
    last: usize,
    /// The next shape to replace when full.
    evict: usize,
}

/// One shape: its keys, and how its records are read (`None`: by the general path).
pub(super) struct Shape {
    /// The keys end to end, and where each ends.
    text: Vec<u8>,
    ends: Vec<usize>,
    pub(super) plan: Option<Plan>,
}

/// How the records of a shape are read.
pub(super) struct Plan {
    pub(super) key: KeyAt,
    /// Fields holding values (the key's fields excepted, as `find_key` names them).
    pub(super) values: Vec<usize>,
    /// Their columns, created when the first record of the shape is added (empty before).
    columns: Vec<usize>,
}

/// Which fields hold the record's key.
#[derive(Clone, Copy)]
pub(super) enum KeyAt {
    Step(usize),
    EpochItr(usize, usize),
    /// None: the record takes the previous record's step (or its position).
    Absent,
}

impl Shapes {
    /// The shape of a line's fields (their keys' bytes in `text`), learnt when new;
    /// `same_as_last`: the caller knows the keys are those of the last line asked about.
    pub(super) fn of(
        &mut self,
        text: &[u8],
        fields: &[FlatField],
        opts: &JsonOptions,
        same_as_last: bool,
    ) -> &mut Shape {
        if same_as_last && self.last < self.known.len() {
            return &mut self.known[self.last];
        }
        let found = std::iter::once(self.last)
            .chain(0..self.known.len())
            .find(|&i| self.known.get(i).is_some_and(|s| s.matches(text, fields)));
        let i = found.unwrap_or_else(|| {
            let shape = Shape::new(text, fields, opts);
            if self.known.len() < MAX_SHAPES {
                self.known.push(shape);
                self.known.len() - 1
            } else {
                let i = self.evict;
                self.evict = (self.evict + 1) % MAX_SHAPES;
                self.known[i] = shape;
                i
            }
        });
        self.last = i;
        &mut self.known[i]
    }
}

impl Shape {
    fn new(text: &[u8], fields: &[FlatField], opts: &JsonOptions) -> Shape {
        let mut shape = Shape {
            text: Vec::new(),
            ends: Vec::with_capacity(fields.len()),
            plan: None,
        };
        for f in fields {
            shape
                .text
                .extend_from_slice(&text[f.key.start as usize..f.key.end as usize]);
            shape.ends.push(shape.text.len());
        }
        shape.plan = shape.plan(opts);
        shape
    }

    fn matches(&self, text: &[u8], fields: &[FlatField]) -> bool {
        self.ends.len() == fields.len()
            && fields.iter().enumerate().all(|(i, f)| {
                text[f.key.start as usize..f.key.end as usize] == self.text[self.range(i)]
            })
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        (if i == 0 { 0 } else { self.ends[i - 1] })..self.ends[i]
    }

    fn name(&self, i: usize) -> Option<&str> {
        std::str::from_utf8(&self.text[self.range(i)]).ok()
    }

    /// The general path's reading of this shape: the key by `find_key`'s rules, every other
    /// field a value. `None` (left to the general path) for keys that are not UTF-8, too long
    /// to be names, repeated, or for a record with no values.
    fn plan(&self, opts: &JsonOptions) -> Option<Plan> {
        let names: Vec<&str> = (0..self.ends.len())
            .map(|i| self.name(i).filter(|n| n.len() < MAX_NAME_BYTES))
            .collect::<Option<_>>()?;
        let mut sorted = names.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return None; // a repeated key: serde_json keeps the later value in the first place
        }
        let at = |wanted: &str| names.iter().position(|n| *n == wanted);
        let (key, key_fields) = match &opts.step_col {
            // `--step-col`: the column keeps its values too (`find_key` names no key field).
            Some(wanted) => (at(wanted).map_or(KeyAt::Absent, KeyAt::Step), vec![]),
            None => match STEP_KEYS.iter().find_map(|k| at(k)) {
                Some(step) => (KeyAt::Step(step), vec![step]),
                None => match (at("epoch"), at("itr")) {
                    (Some(e), Some(i)) => (KeyAt::EpochItr(e, i), vec![e, i]),
                    _ => (KeyAt::Absent, vec![]),
                },
            },
        };
        let values: Vec<usize> = (0..names.len())
            .filter(|i| !key_fields.contains(i))
            .collect();
        (!values.is_empty()).then_some(Plan {
            key,
            values,
            columns: Vec::new(),
        })
    }

    /// The plan and the value columns, created in field order on first use (when the general
    /// path would create them: as the first record of the shape is added).
    pub(super) fn plan_and_columns(
        &mut self,
        builder: &mut TableBuilder,
    ) -> Option<(&Plan, &[usize])> {
        let plan = self.plan.as_mut()?;
        if plan.columns.is_empty() {
            let names = &self.text;
            let ends = &self.ends;
            plan.columns = plan
                .values
                .iter()
                .map(|&i| {
                    let start = if i == 0 { 0 } else { ends[i - 1] };
                    let name = String::from_utf8_lossy(&names[start..ends[i]]);
                    builder.column(&name)
                })
                .collect();
        }
        let plan = self.plan.as_ref()?;
        Some((plan, &plan.columns))
    }
}
