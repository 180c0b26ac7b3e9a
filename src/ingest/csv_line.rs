//! One data line of the CSV fast path ([`super::csv_fast`]): the [`Plan`] says what each field
//! holds (from the shared [`Schema`]); [`parse_line`] reads the fields in place, in one pass,
//! numbers by [`super::csv_number`] and any other cell by the general parser's
//! [`parse_value`]. A line it cannot read as the general parser would is given up (`Err`).

use super::csv_number::{digits, plain_number_kind, simple_decimal};
use super::csv_schema::{CsvOptions, KeySpec, Schema};
use super::table::{TableBuilder, epoch_itr_key};
use super::values::parse_value;
use crate::model::{MISSING, is_missing};

/// Why the fast path stopped: the general parser must read the file.
#[derive(Debug)]
pub struct GiveUp;

/// What a field of a data line holds, from the schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    /// The step, or the epoch or itr of the key.
    Key(KeyPart),
    /// A value kept in table column `column`; with `zero_is_missing` a 0 is "not computed".
    Value {
        column: usize,
        zero_is_missing: bool,
    },
    /// A value whose column keeps only its kind: validated, not converted.
    Kind { column: usize },
    /// An unnamed column: not read, whatever it holds.
    Ignored,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyPart {
    Step,
    Epoch,
    Itr,
}

/// The schema as the fast path applies it.
pub struct Plan {
    /// The header line as written (a line equal to it is a restart).
    pub header_line: Vec<u8>,
    pub delimiter: u8,
    pub fields: Vec<Field>,
    /// Table columns a row fills.
    pub columns: usize,
    /// A last line without its newline is a row killed mid-write (JEPA family).
    pub withhold_unterminated: bool,
    pub is_epoch_itr: bool,
}

impl Plan {
    /// The plan for `schema`, or `None` when the header line is not simply its fields joined
    /// by the delimiter (spaces around names, a byte-order mark handled by the general parser).
    pub fn new(
        schema: &Schema,
        header_line: &[u8],
        builder: &TableBuilder,
        opts: &CsvOptions,
    ) -> Option<Plan> {
        let joined = schema.header.join(&opts.delimiter);
        let raw = header_line.strip_suffix(b"\r").unwrap_or(header_line);
        if raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw) != joined.as_slice() {
            return None;
        }
        let key_part = |i: usize| match schema.key {
            KeySpec::Step(s) => (s == i).then_some(KeyPart::Step),
            KeySpec::EpochItr { epoch, .. } if epoch == i => Some(KeyPart::Epoch),
            KeySpec::EpochItr { itr, .. } => (itr == i).then_some(KeyPart::Itr),
        };
        let fields = (0..schema.header.len())
            .map(|i| match (key_part(i), schema.targets[i]) {
                (Some(part), _) => Field::Key(part),
                (None, None) => Field::Ignored,
                (None, Some(column)) if schema.zero_is_missing[i] => Field::Value {
                    column,
                    zero_is_missing: true,
                },
                (None, Some(column)) if !builder.keeps_values(column) => Field::Kind { column },
                (None, Some(column)) => Field::Value {
                    column,
                    zero_is_missing: false,
                },
            })
            .collect();
        Some(Plan {
            header_line: joined,
            delimiter: opts.delimiter,
            fields,
            columns: builder.names().len(),
            withhold_unterminated: opts.format.is_jepa_family(),
            is_epoch_itr: matches!(schema.key, KeySpec::EpochItr { .. }),
        })
    }
}

/// The lines of `data`, each with whether a line break ended it: `\n`, or for the last line a
/// `\r` (a CR line end, or a CRLF cut between its two bytes: the row itself is whole), as the
/// general parser decides.
pub fn lines(data: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let rest = data.get(pos..).filter(|r| !r.is_empty())?;
        Some(match memchr::memchr(b'\n', rest) {
            Some(i) => {
                pos += i + 1;
                (&rest[..i], true)
            }
            None => {
                pos = data.len();
                (rest, rest.ends_with(b"\r"))
            }
        })
    })
}

pub enum Line {
    Row(u64),
    NoValues,
    /// Fewer or more fields than the header.
    Ragged(usize),
}

/// Parses one data line (without its line break) into `row` (table column order) and returns
/// its key; counts zero grad norms per field in `zeros`.
#[inline]
pub fn parse_line(
    line: &[u8],
    plan: &Plan,
    row: &mut [f32],
    zeros: &mut [u64],
) -> Result<Line, GiveUp> {
    let d = plan.delimiter;
    let mut key = [0u64; 3]; // by KeyPart
    let mut any = false;
    let mut rest = line;
    let mut field = 0;
    loop {
        let Some(&rule) = plan.fields.get(field) else {
            return Ok(Line::Ragged(count_fields(line, d)));
        };
        let len = match rule {
            Field::Key(part) => {
                let (n, len) = digits(rest).ok_or(GiveUp)?;
                key[part as usize] = n;
                len
            }
            Field::Value {
                column,
                zero_is_missing,
            } => {
                let (v, len) = read_value(rest, d)?;
                if zero_is_missing && v == 0.0 {
                    zeros[field] += 1;
                    row[column] = MISSING;
                } else {
                    row[column] = v;
                    any |= !is_missing(v);
                }
                len
            }
            Field::Kind { column } => {
                let (v, len) = read_kind(rest, d)?;
                row[column] = v;
                any |= !is_missing(v);
                len
            }
            Field::Ignored => memchr::memchr(d, rest).unwrap_or(rest.len()),
        };
        field += 1;
        match rest.get(len) {
            None => break,
            Some(&b) if b == d => rest = &rest[len + 1..],
            Some(_) => return Err(GiveUp), // a line break inside the line (a lone CR), …
        }
    }
    if field != plan.fields.len() {
        return Ok(Line::Ragged(field));
    }
    if !any {
        return Ok(Line::NoValues);
    }
    let [step, epoch, itr] = key;
    if plan.is_epoch_itr {
        epoch_itr_key(epoch, itr).map(Line::Row).ok_or(GiveUp)
    } else {
        Ok(Line::Row(step))
    }
}

/// The value at the start of `s` (up to the delimiter `d`) and its length: the common decimal
/// forms in place, anything else as the general parser reads a cell.
#[inline]
fn read_value(s: &[u8], d: u8) -> Result<(f32, usize), GiveUp> {
    match simple_decimal(s) {
        Some((v, len)) if s.get(len).is_none_or(|b| *b == d) => Ok((v, len)),
        _ => whole_cell(s, d),
    }
}

/// Like [`read_value`] for a column that keeps only kinds: a plain decimal is a finite value
/// (1.0) without computing it.
#[inline]
fn read_kind(s: &[u8], d: u8) -> Result<(f32, usize), GiveUp> {
    match plain_number_kind(s) {
        (v, len) if len > 0 && s.get(len).is_none_or(|b| *b == d) => Ok((v, len)),
        _ => whole_cell(s, d),
    }
}

/// The cell up to the delimiter, read by the general parser's [`parse_value`] (`nan`, `inf`,
/// exponents, `None`, spaces around a number, …). A carriage return inside is a line break to
/// the general parser: given up, like a cell that is not a number.
fn whole_cell(s: &[u8], d: u8) -> Result<(f32, usize), GiveUp> {
    let len = memchr::memchr(d, s).unwrap_or(s.len());
    let cell = &s[..len];
    if cell.contains(&b'\r') {
        return Err(GiveUp);
    }
    parse_value(cell).map(|v| (v, len)).map_err(|_| GiveUp)
}

fn count_fields(line: &[u8], d: u8) -> usize {
    line.iter().filter(|b| **b == d).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            header_line: b"epoch,itr,loss,grad-norm,,gpu-time".to_vec(),
            delimiter: b',',
            fields: vec![
                Field::Key(KeyPart::Epoch),
                Field::Key(KeyPart::Itr),
                Field::Value {
                    column: 0,
                    zero_is_missing: false,
                },
                Field::Value {
                    column: 1,
                    zero_is_missing: true,
                },
                Field::Ignored,
                Field::Kind { column: 2 },
            ],
            columns: 3,
            withhold_unterminated: true,
            is_epoch_itr: true,
        }
    }

    #[test]
    fn lines_parse_in_place() {
        let p = plan();
        let mut row = vec![0.0; 3];
        let mut zeros = vec![0; 6];
        let mut parse = |line: &[u8]| parse_line(line, &p, &mut row, &mut zeros);
        assert!(
            matches!(parse(b"3,17,0.25,nan,x y,440"), Ok(Line::Row(k)) if Some(k) == epoch_itr_key(3, 17))
        );
        assert!(matches!(parse(b"3,18,0.25,0.00000,,1e3"), Ok(Line::Row(_))));
        assert!(matches!(parse(b"3,19,0.2"), Ok(Line::Ragged(3))));
        assert!(matches!(parse(b"3,19,0.2,0.1,,9,9"), Ok(Line::Ragged(7))));
        assert!(matches!(parse(b"3,20,,,,"), Ok(Line::NoValues)));
        assert!(matches!(parse(b"3,20,None,null,,"), Ok(Line::NoValues)));
        // Spaces around a number are the general parser's rule: the same value.
        assert!(matches!(parse(b"3,21, 0.5 ,0.1,,1"), Ok(Line::Row(_))));
        assert!(parse(b"3,21,abc,0.1,,1").is_err());
        assert!(parse(b"x,21,0.5,0.1,,1").is_err());
        assert!(parse(b"3,21,0.5\r,0.1,,1").is_err());
        assert!(parse(b"3,21,0.5,0.1,,fast").is_err());
        let (row, zeros) = (row, zeros);
        assert_eq!(row[0], 0.5);
        assert_eq!(zeros[3], 1);
    }

    #[test]
    fn values_are_the_general_parsers() {
        for cell in [
            "0.82586",
            "1e-3",
            "nan",
            "-inf",
            "1e39",
            "0.1234567891234",
            " 2 ",
            "None",
        ] {
            let (v, len) = read_value(format!("{cell},1").as_bytes(), b',').expect(cell);
            let general = parse_value(cell.as_bytes()).expect(cell);
            assert_eq!(
                (v.to_bits(), len),
                (general.to_bits(), cell.len()),
                "{cell}"
            );
        }
    }
}
