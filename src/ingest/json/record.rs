//! From one JSON record to one table row: flattening nested objects into `a/b` names and
//! deciding the record's step. Flattening needs no state ([`flatten_record`]), so JSON lines are
//! flattened in parallel; the [`RecordSink`] then takes the records in file order.

use serde_json::{Map, Value};

use super::flat_line::FlatField;
use super::shape::{KeyAt, Shape};
use super::{JsonOptions, STEP_KEYS};
use crate::ingest::Parsed;
use crate::ingest::table::{KeyKind, TableBuilder, epoch_itr_key};
use crate::ingest::values::{narrow, parse_value, whole_f64};
use crate::model::{Format, MISSING};

/// A record's key: its value, kind, and the names of the keys that hold it.
type RecordKey = (u64, KeyKind, &'static [&'static str]);

/// Why a record is skipped when its key is of the other kind than the file's.
const KIND_CHANGED: &str = "step given as epoch/itr here but as a step elsewhere";

/// Where a record came from, for skip reasons.
#[derive(Clone, Copy)]
pub(super) enum Location {
    Line(u64),
    Record(u64),
}

/// Turns records into table rows, deciding the step of each.
pub(super) struct RecordSink<'a> {
    pub(super) builder: TableBuilder,
    opts: &'a JsonOptions,
    key_kind: Option<KeyKind>,
    last_key: Option<u64>,
    order: u64,
    carried: u64,
    /// Some records had no step and none before them did: the record order is the step.
    by_order: bool,
    text_keys: Vec<TextKey>,
    /// Names that two keys of one record flatten to.
    collisions: Vec<String>,
}

impl<'a> RecordSink<'a> {
    pub(super) fn new(path: &str, opts: &'a JsonOptions) -> RecordSink<'a> {
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
        }
    }

    /// The options the records are read with.
    pub(super) fn opts(&self) -> &'a JsonOptions {
        self.opts
    }

    /// Adds a record (flattening it here).
    pub(super) fn add(&mut self, obj: &Map<String, Value>, at: Location) {
        let flat = flatten_record(obj, self.opts);
        self.add_flattened(flat, at);
    }

    /// Adds a record flattened by [`flatten_record`].
    pub(super) fn add_flattened(&mut self, flat: Flat, at: Location) {
        for (name, shown) in flat.text {
            if let Some(known) = self.text_keys.iter_mut().find(|k| k.name == name) {
                known.records += 1;
            } else if self.text_keys.len() < MAX_TEXT_KEYS {
                self.text_keys.push(TextKey {
                    name,
                    records: 1,
                    first: at,
                    shown,
                });
            }
        }
        if flat.nested && self.collisions.len() < 8 {
            // `{"train/loss": 1, "train": {"loss": 2}}`: two keys, one name; the later wins.
            let mut names: Vec<&str> = flat.leaves.iter().map(|l| l.name.as_str()).collect();
            names.sort_unstable();
            for pair in names.windows(2) {
                if pair[0] == pair[1] && !self.collisions.iter().any(|c| c == pair[0]) {
                    self.collisions.push(pair[0].to_string());
                }
            }
        }
        self.add_flat(&flat.leaves, at);
    }

    fn skip(&mut self, at: Location, reason: impl Into<String>) {
        match at {
            Location::Line(line) => self.builder.skip(line, reason),
            Location::Record(record) => self.builder.skip_record(record, reason),
        }
    }

    fn add_flat(&mut self, flat: &[Leaf], at: Location) {
        let found = match self.find_key(flat) {
            Err(reason) => {
                self.skip(at, reason);
                return;
            }
            Ok(found) => found,
        };
        let Some(key) = self.take_key(found.map(|(key, kind, _)| (key, kind))) else {
            self.skip(at, KIND_CHANGED);
            return;
        };
        let key_names = found.map_or(&[][..], |(_, _, names)| names);
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

    /// The row key of a record whose own key is `found` (value, kind), or of one without a key
    /// (the previous record's, or the record's position when no record had one); `None`, with
    /// nothing changed, when the key's kind is not the file's ([`KIND_CHANGED`]).
    fn take_key(&mut self, found: Option<(u64, KeyKind)>) -> Option<u64> {
        let key = match found {
            Some((key, kind)) => {
                if *self.key_kind.get_or_insert(kind) != kind {
                    return None;
                }
                self.last_key = Some(key);
                key
            }
            None => match self.last_key {
                Some(previous) => {
                    self.carried += 1;
                    previous
                }
                None => {
                    self.key_kind.get_or_insert(KeyKind::Step);
                    self.by_order = true;
                    self.order
                }
            },
        };
        self.order += 1;
        Some(key)
    }

    /// Adds a record read by the fast path (the fields of one line, `shape` their keys); `false`,
    /// with nothing changed, when the general path must read it (an unusable key, a key of the
    /// other kind, a shape it does not plan), which then also words the skip.
    pub(super) fn add_fast(&mut self, fields: &[FlatField], shape: &mut Shape) -> bool {
        let Some(plan) = &shape.plan else {
            return false;
        };
        let found = match plan.key {
            KeyAt::Step(at) => match fields[at].step() {
                Some(step) => Some((step, KeyKind::Step)),
                None => return false,
            },
            KeyAt::EpochItr(e, i) => match (fields[e].step(), fields[i].step()) {
                (Some(e), Some(i)) => match epoch_itr_key(e, i) {
                    Some(key) => Some((key, KeyKind::EpochItr)),
                    None => return false,
                },
                _ => return false,
            },
            KeyAt::Absent => None,
        };
        if let Some((_, kind)) = found
            && self.key_kind.is_some_and(|k| k != kind)
        {
            return false;
        }
        let Some((plan, columns)) = shape.plan_and_columns(&mut self.builder) else {
            return false;
        };
        let Some(key) = self.take_key(found) else {
            return false;
        };
        let row = self.builder.push_row(key);
        for (&at, &column) in plan.values.iter().zip(columns) {
            self.builder.set(row, column, fields[at].value());
        }
        true
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

    pub(super) fn finish(mut self, format: Format) -> Parsed {
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
                crate::human::names(&self.collisions)
            ));
        }
        // A key that holds numbers in other records lost these values (a damaged or
        // placeholder value); a key that only ever holds text is a label, not a series.
        let (damaged, labels): (Vec<TextKey>, Vec<TextKey>) = std::mem::take(&mut self.text_keys)
            .into_iter()
            .partition(|k| self.builder.names().contains(&k.name));
        for k in damaged.iter().take(8) {
            let at = match k.first {
                Location::Line(n) => format!("line {n}"),
                Location::Record(n) => format!("record {n}"),
            };
            let place = match k.first {
                Location::Line(n) => format!("{path}:{n}"),
                Location::Record(n) => format!("{path}: record {n}"),
            };
            self.builder.damaged(format!(
                "{place}: key '{}': {} is not a number",
                k.name, k.shown
            ));
            self.builder.warn(format!(
                "{path}: {}: text instead of a number in {} record{}, left out (first at {at}: {})",
                k.name,
                k.records,
                if k.records == 1 { "" } else { "s" },
                k.shown
            ));
        }
        let mut labels: Vec<&str> = labels.iter().map(|k| k.name.as_str()).collect();
        labels.sort_unstable();
        if !labels.is_empty() {
            self.builder.warn(format!(
                "{path}: keys holding text ignored: {}",
                labels
                    .iter()
                    .take(8)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
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
pub(super) struct Leaf {
    name: String,
    value: f32,
    /// The whole number from 0 to 2^53 it holds, or how it was written when it holds none.
    step: Result<u64, String>,
    numeric: bool,
}

/// Text keys kept per record and in all (for the "keys holding text" note).
const MAX_TEXT_KEYS: usize = 64;

/// A key that held text, not a number: how many records, where first, and that text (escaped).
struct TextKey {
    name: String,
    records: u64,
    first: Location,
    shown: String,
}

/// A record flattened: its leaves, whether it nested objects (names may collide), and the names
/// of keys that held text.
pub(super) struct Flat {
    leaves: Vec<Leaf>,
    nested: bool,
    /// (name, the text as shown in messages).
    text: Vec<(String, String)>,
}

/// Flattens a record's numeric leaves (and unusable values under step-like names).
pub(super) fn flatten_record(obj: &Map<String, Value>, opts: &JsonOptions) -> Flat {
    let step_col = opts.step_col.as_deref();
    let is_key_name = |name: &str| {
        step_col.map_or_else(
            || STEP_KEYS.contains(&name) || name == "epoch" || name == "itr",
            |wanted| wanted == name,
        )
    };
    let mut leaves = Vec::new();
    let mut text = Vec::new();
    let mut how = Flattening {
        text: &mut text,
        is_key_name: &is_key_name,
        nested: false,
    };
    flatten("", obj, &mut leaves, &mut how, 0);
    let nested = how.nested;
    Flat {
        leaves,
        nested,
        text,
    }
}

/// What [`flatten`] needs to know besides the object.
struct Flattening<'a> {
    /// Non-numeric keys and their text (for the "keys holding text" note).
    text: &'a mut Vec<(String, String)>,
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
        if prefix.len() + key.len() >= crate::ingest::csv::MAX_NAME_BYTES {
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
                        let step = crate::ingest::values::parse_whole(s.as_bytes())
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
                            out.push(unusable(crate::ingest::values::show_cell(s.as_bytes())));
                        } else if how.text.len() < MAX_TEXT_KEYS {
                            how.text
                                .push((name, crate::ingest::values::show_cell(s.as_bytes())));
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

/// Sentinel strings written by [`super::translate_python_tokens`] back to their values.
pub(super) fn sentinel_value(s: &str) -> Option<f32> {
    match s {
        "\u{0}NaN" => Some(f32::NAN),
        "\u{0}Infinity" => Some(f32::INFINITY),
        "\u{0}-Infinity" => Some(f32::NEG_INFINITY),
        _ => None,
    }
}
