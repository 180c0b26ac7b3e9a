//! `--export`: the cleaned, merged, step-keyed series as CSV, so a run can be taken elsewhere.
//! Columns: `step`, then one per series named as in the input; an empty cell where a series has
//! no value at that step; non-finite values as `nan`, `inf`, `-inf` (what the JEPA code writes);
//! a finite value beyond the `f32` range as the value logged (`1e39`).

use std::io::{self, Write};

use crate::model::Run;
use crate::model::wide::{is_marker, widen};

/// Writes the run as CSV.
pub fn write_csv(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new().from_writer(out);
    let mut header = vec!["step"];
    header.extend(run.series.iter().map(|s| s.name.as_str()));
    w.write_record(&header)?;
    let mut cell = String::new();
    let mut buf = ryu::Buffer::new();
    let mut int = itoa::Buffer::new();
    for (i, step) in run.steps.iter().enumerate() {
        w.write_field(int.format(step))?;
        for s in &run.series {
            cell.clear();
            if let Some(v) = s.get(i) {
                cell.push_str(if v.is_nan() {
                    "nan"
                } else if v == f32::INFINITY {
                    "inf"
                } else if v == f32::NEG_INFINITY {
                    "-inf"
                } else if v.fract() == 0.0 && v.abs() < 16_777_216.0 {
                    int.format(v as i64)
                } else if is_marker(v) {
                    // Beyond f32 (1e39): the value that was logged, not the stored marker.
                    buf.format_finite(widen(v))
                } else {
                    buf.format_finite(v)
                });
            }
            w.write_field(&cell)?;
        }
        w.write_record(None::<&[u8]>)?;
    }
    w.flush()
}
