//! The report a person reads in the terminal: what was read, then (when analysed) the verdict,
//! the findings and what to try.

use std::io::{self, Write};

use super::fmt;
use super::json::series_entries;
use crate::model::{IpeSource, Run};

/// Writes the "what was read" part of the report.
pub fn write_input(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let input = &run.input;
    let mut what = vec![input.format.clone(), fmt::count(input.ranks, "rank")];
    if input.restarts > 0 {
        what.push(fmt::count(input.restarts, "restart"));
    }
    writeln!(
        out,
        "read     {} ({})",
        input.sources.join(", "),
        what.join(", ")
    )?;
    if let Some(config) = &input.config {
        writeln!(out, "config   {config}")?;
    }
    let rows = &input.rows;
    write!(
        out,
        "rows     {} read = {} used + {} skipped + {} replaced",
        rows.rows_read, rows.rows_used, rows.rows_skipped, rows.rows_replaced
    )?;
    if input.lines_ignored > 0 {
        write!(out, " ({} other lines ignored)", input.lines_ignored)?;
    }
    writeln!(out)?;
    let steps = run.steps.as_slice();
    if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
        write!(out, "steps    {first} – {last}")?;
        if let Some(ipe) = input.ipe {
            let source = match ipe.source {
                IpeSource::Flag => "--ipe",
                IpeSource::Config => "config",
                IpeSource::Log => "log",
                IpeSource::Inferred => "inferred",
            };
            write!(
                out,
                " · {} iterations per epoch ({source}) · {} epochs",
                ipe.value,
                fmt::value((last + 1) as f64 / ipe.value as f64)
            )?;
        }
        writeln!(out)?;
    }
    if let Some(spread) = &input.rank_spread {
        writeln!(
            out,
            "ranks    {} differs between ranks by {} (median) and {} at most (step {})",
            spread.series,
            fmt::value(spread.median_range),
            fmt::value(spread.max_range),
            spread.max_range_step
        )?;
    }
    writeln!(out)?;
    write_series_table(out, run)?;
    write_notes(out, run)
}

fn write_series_table(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let entries = series_entries(run);
    let name_width = entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:name_width$}  {:9}  {:>8}  {:>10}  steps",
        "series", "role", "points", "non-finite"
    )?;
    for e in &entries {
        let range = match (e.first_step, e.last_step) {
            (Some(a), Some(b)) => format!("{a} – {b}"),
            _ => "-".into(),
        };
        write!(
            out,
            "{:name_width$}  {:9}  {:>8}  {:>10}  {range}",
            e.name, e.role, e.points, e.non_finite
        )?;
        if let Some(note) = e.note {
            write!(out, "  ({note})")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_notes(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let input = &run.input;
    if input.skipped.is_empty() && input.warnings.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    for w in &input.warnings {
        writeln!(out, "note: {w}")?;
    }
    let shown = input.skipped.len() as u64;
    for s in &input.skipped {
        writeln!(out, "skipped: {s}")?;
    }
    if input.rows.rows_skipped > shown {
        writeln!(
            out,
            "skipped: … and {} more",
            input.rows.rows_skipped - shown
        )?;
    }
    Ok(())
}
