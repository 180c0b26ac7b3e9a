//! The hot path of the TensorBoard reader: an `Event` record whose scalars are all
//! `simple_value`s (what tensorboardX and `torch.utils.tensorboard` write, one event per scalar)
//! is read in place, without building the message.
//!
//! Why: decoding each record into the [`super::Event`] structs (a prost merge into a reused
//! message, its tags shared slices of the record) cost about a third of reading a 1e6-scalar
//! event file in `perf` (message merge, reference counts of the shared slices); the CSV path reads
//! the same values in half the time (bench/tensorboard.sh, issue 14 and issue 17 target 5).
//!
//! How: the record is walked field by field with prost's own wire-format primitives
//! (`prost::encoding::{decode_key, decode_varint}`, the functions its derived decoders call), following the same field numbers as the structs in [`super::proto`]
//! (tensorflow/core/util/event.proto, summary.proto): `Event.step` (2), `Event.summary` (5, every
//! occurrence, as protobuf merges them), `Summary.value` (1), `Summary.Value.tag` (1) and
//! `simple_value` (2); every other field is skipped as prost skips unknown fields. The walk
//! *declines* ([`Declined`]) whatever it does not read exactly as the full decoder would: a value
//! holding a `tensor` or `metadata` (TF2 and `new_style` writers), a declared field with another
//! wire type, a `file_version` that is not UTF-8, groups, anything malformed. A declined record
//! is decoded by prost in full ([`super::Event`]), which decides it the way it always did; so
//! the rows read are the same whichever path a record takes (`tests/ingest_formats.rs` and the
//! property test below compare both paths on mutated records).

use std::ops::Range;

use prost::encoding::{WireType, decode_key, decode_varint};

/// The walk does not read this record exactly as prost would: decode it in full instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Declined;

/// A record's step and its scalars: (where the tag is in the record, the value), in order.
#[derive(Debug, Default)]
pub(super) struct SimpleEvent {
    pub step: i64,
    pub values: Vec<(Range<usize>, f32)>,
}

/// Walks `record` into `out` (cleared first). `Err(Declined)` leaves `out` unspecified.
pub(super) fn walk_event(record: &[u8], out: &mut SimpleEvent) -> Result<(), Declined> {
    out.step = 0;
    out.values.clear();
    let mut buf = record;
    while !buf.is_empty() {
        let (field, wire) = decode_key(&mut buf).map_err(|_| Declined)?;
        match (field, wire) {
            (1, WireType::SixtyFourBit) => skip(wire, &mut buf)?,
            // int64 from a varint, as prost reads it (two's complement).
            (2, WireType::Varint) => {
                out.step = decode_varint(&mut buf).map_err(|_| Declined)? as i64
            }
            (3, WireType::LengthDelimited) => {
                let text = delimited(&mut buf)?;
                std::str::from_utf8(text).map_err(|_| Declined)?;
            }
            (5, WireType::LengthDelimited) => {
                let summary = delimited(&mut buf)?;
                walk_summary(record, range_in(record, summary), out)?;
            }
            (1 | 2 | 3 | 5, _) => return Err(Declined),
            _ => skip(wire, &mut buf)?,
        }
    }
    Ok(())
}

/// Where `part`, a sub-slice of `record`, is in it.
fn range_in(record: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - record.as_ptr() as usize;
    start..start + part.len()
}

/// `Summary`: each `value` (field 1) in order.
fn walk_summary(record: &[u8], range: Range<usize>, out: &mut SimpleEvent) -> Result<(), Declined> {
    let mut buf = &record[range];
    while !buf.is_empty() {
        let (field, wire) = decode_key(&mut buf).map_err(|_| Declined)?;
        match (field, wire) {
            (1, WireType::LengthDelimited) => {
                let value = delimited(&mut buf)?;
                walk_value(record, range_in(record, value), out)?;
            }
            (1, _) => return Err(Declined),
            _ => skip(wire, &mut buf)?,
        }
    }
    Ok(())
}

/// `Summary.Value`: its tag and `simple_value`; a value with neither a simple value nor a tensor
/// is not a scalar (an image, a histogram) and adds nothing, as in the full decoder.
fn walk_value(record: &[u8], range: Range<usize>, out: &mut SimpleEvent) -> Result<(), Declined> {
    let mut buf = &record[range];
    let mut tag = 0..0;
    let mut simple = None;
    while !buf.is_empty() {
        let (field, wire) = decode_key(&mut buf).map_err(|_| Declined)?;
        match (field, wire) {
            (1, WireType::LengthDelimited) => {
                tag = range_in(record, delimited(&mut buf)?);
            }
            (2, WireType::ThirtyTwoBit) => {
                let (bits, rest) = buf.split_first_chunk::<4>().ok_or(Declined)?;
                simple = Some(f32::from_le_bytes(*bits));
                buf = rest;
            }
            // A tensor or its metadata: the full decoder reads those.
            (1 | 2 | 8 | 9, _) => return Err(Declined),
            _ => skip(wire, &mut buf)?,
        }
    }
    if let Some(x) = simple {
        out.values.push((tag, x));
    }
    Ok(())
}

/// A length-delimited field's bytes (the key already read).
fn delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], Declined> {
    let len = decode_varint(buf).map_err(|_| Declined)?;
    let len = usize::try_from(len).map_err(|_| Declined)?;
    if len > buf.len() {
        return Err(Declined);
    }
    let (field, rest) = buf.split_at(len);
    *buf = rest;
    Ok(field)
}

/// Skips a field the walk does not read, as prost's `skip_field` skips an unknown field (inline:
/// it was a call per record for `wall_time`); groups are declined (the full decoder counts their
/// nesting depth).
fn skip(wire: WireType, buf: &mut &[u8]) -> Result<(), Declined> {
    let width = match wire {
        WireType::Varint => return decode_varint(buf).map(|_| ()).map_err(|_| Declined),
        WireType::LengthDelimited => return delimited(buf).map(|_| ()),
        WireType::ThirtyTwoBit => 4,
        WireType::SixtyFourBit => 8,
        WireType::StartGroup | WireType::EndGroup => return Err(Declined),
    };
    *buf = buf.get(width..).ok_or(Declined)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::ingest::tensorboard::{
        Event, PluginData, Summary, SummaryMetadata, SummaryValue, TensorProto,
    };

    fn simple(tag: &str, x: f32) -> SummaryValue {
        SummaryValue {
            tag: tag.as_bytes().to_vec().into(),
            simple_value: Some(x),
            tensor: None,
            metadata: None,
        }
    }

    fn event(step: i64, values: Vec<SummaryValue>) -> Vec<u8> {
        Event {
            wall_time: 1.7e9,
            step,
            file_version: None,
            summary: Some(Summary { value: values }),
        }
        .encode_to_vec()
    }

    /// A record's step and its simple values: (tag, bits of the value).
    type Read = (i64, Vec<(Vec<u8>, u32)>);

    /// What the full decoder makes of `record`, in the walk's terms.
    fn full(record: &[u8]) -> Option<Read> {
        let e = Event::decode(record).ok()?;
        let values = e.summary.map_or_else(Vec::new, |s| s.value);
        let simple = values
            .iter()
            .filter_map(|v| Some((v.tag.to_vec(), v.simple_value?.to_bits())))
            .collect();
        Some((e.step, simple))
    }

    fn walked(record: &[u8]) -> Option<Read> {
        let mut out = SimpleEvent::default();
        walk_event(record, &mut out).ok()?;
        let values = out
            .values
            .iter()
            .map(|(r, x)| (record[r.clone()].to_vec(), x.to_bits()))
            .collect();
        Some((out.step, values))
    }

    #[test]
    fn simple_values_are_read_in_place_and_the_rest_declined() {
        let record = event(7, vec![simple("loss", 0.5), simple("train/lr", 1e-3)]);
        assert_eq!(walked(&record), full(&record));
        assert_eq!(walked(&record).map(|w| w.1.len()), Some(2));
        // A tensor (TF2 / new_style writers) and its plugin metadata: the full decoder's.
        let tensor = SummaryValue {
            tensor: Some(TensorProto::default()),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: "scalars".into(),
                }),
                data_class: 1,
            }),
            simple_value: None,
            ..simple("loss", 0.0)
        };
        assert_eq!(walked(&event(1, vec![tensor])), None);
        // file_version that is not UTF-8: prost refuses the record; the walk leaves it to prost.
        let mut bad = vec![0x1a, 2, 0xff, 0xfe];
        bad.extend(event(1, vec![simple("loss", 1.0)]));
        assert_eq!((walked(&bad), full(&bad)), (None, None));
        // A negative step is read as prost reads it (the reader then refuses it as out of range).
        let negative = event(-3, vec![simple("loss", 1.0)]);
        assert_eq!(walked(&negative), full(&negative));
        assert_eq!(walked(&negative).map(|w| w.0), Some(-3));
    }

    /// Mutated records (flipped, cut, inserted bytes; unknown fields appended): whenever the walk
    /// reads a record, the full decoder reads the same step and scalars. Seeded, seed printed.
    #[test]
    fn the_walk_agrees_with_prost_on_mutated_records() {
        let seed = 0x5eed_7e57_u64;
        println!("seed {seed:#x}");
        let mut rng = seed;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (mut agreed, mut declined) = (0u32, 0u32);
        for i in 0..20_000u32 {
            let mut record = event(
                i64::from(i),
                vec![simple("loss", i as f32), simple("loss-jepa", 0.25)],
            );
            match next() % 5 {
                0 => {
                    let at = (next() as usize) % record.len();
                    record[at] ^= 1 << (next() % 8);
                }
                1 => record.truncate((next() as usize) % record.len()),
                2 => {
                    let at = (next() as usize) % record.len();
                    record.insert(at, next() as u8);
                }
                3 => {
                    // An unknown field of a random wire type (groups and bad types included).
                    record.push((((next() % 20 + 4) << 3) | (next() % 8)) as u8);
                    record.extend((0..next() % 10).map(|_| next() as u8));
                }
                _ => {}
            }
            match walked(&record) {
                Some(w) => {
                    assert_eq!(Some(&w), full(&record).as_ref(), "record {record:?}");
                    agreed += 1;
                }
                None => declined += 1,
            }
        }
        println!("read in place and agreed: {agreed}; declined to the full decoder: {declined}");
        assert!(agreed > 5_000 && declined > 5_000);
    }
}
