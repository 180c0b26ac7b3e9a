//! The comparison in the terminal: what was ranked and how, the table (columns aligned, the
//! verdict coloured), the hyperparameters that differ, runs that could not be analysed, and the
//! caveat when ranking by loss.

use std::io::{self, Write};

use super::compare_table::table;
use super::style::Palette;
use crate::compare::Comparison;
use crate::human;

/// Writes the text comparison; `given` is how many RUN arguments there were.
pub fn write(out: &mut dyn Write, c: &Comparison, color: bool, given: usize) -> io::Result<()> {
    let paint = Palette::new(color);
    let analysed = c.runs.iter().filter(|r| r.error.is_none()).count();
    writeln!(
        out,
        "{} {} of {} analysed · ranked by {} ({})",
        paint.bold("jepa-doctor compare:"),
        analysed,
        human::count(c.runs.len().max(given) as u64, "run"),
        c.rank_by.name(),
        c.rank_by.direction()
    )?;
    writeln!(out)?;
    let t = table(c);
    let widths: Vec<usize> = (0..t.headers.len())
        .map(|i| {
            t.rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(t.headers[i].chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let pad = |text: &str, w: usize| format!("{text}{}", " ".repeat(w - text.chars().count()));
    let header: Vec<String> = t
        .headers
        .iter()
        .zip(&widths)
        .map(|(h, w)| pad(h, *w))
        .collect();
    writeln!(out, "{}", paint.bold(header.join("  ").trim_end()))?;
    for (row, verdict) in t.rows.iter().zip(&t.verdicts) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let padded = pad(cell, *w);
                match (i, verdict) {
                    (2, Some(v)) => paint.verdict(*v, &padded),
                    _ => padded,
                }
            })
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    writeln!(out)?;
    if c.config_diff.is_empty() {
        writeln!(
            out,
            "config diff: no hyperparameter differs between the runs' params YAML (or fewer than two have one)"
        )?;
    } else {
        writeln!(out, "config diff: {}", c.config_diff.join(", "))?;
    }
    for r in c.runs.iter().filter(|r| r.error.is_some()) {
        writeln!(
            out,
            "{} {}: {}",
            paint.severity(crate::diagnose::finding::Severity::Error, "not analysed"),
            r.name,
            r.error.as_deref().unwrap_or_default()
        )?;
    }
    if let Some(caveat) = c.rank_by.caveat() {
        writeln!(out, "{} {caveat}", paint.bold("note:"))?;
    }
    Ok(())
}
