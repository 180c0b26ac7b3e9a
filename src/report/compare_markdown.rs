//! The comparison as Markdown (a CI job summary, a pull-request comment): the ranking key, the
//! table, the config diff, failures, the caveat when ranking by loss, and the figure when drawn.

use std::io::{self, Write};

use super::compare_table::table;
use super::markdown::cell;
use crate::compare::Comparison;

/// Writes the Markdown comparison; `figure` is the plot's path when `--plot` was given.
pub fn write(out: &mut dyn Write, c: &Comparison, figure: Option<&str>) -> io::Result<()> {
    let analysed = c.runs.iter().filter(|r| r.error.is_none()).count();
    writeln!(
        out,
        "## jepa-doctor compare: {analysed} of {} runs analysed",
        c.runs.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Ranked by `{}`: {}.",
        c.rank_by.name(),
        cell(&c.rank_by.direction())
    )?;
    if let Some(caveat) = c.rank_by.caveat() {
        writeln!(out)?;
        writeln!(out, "> **Note:** {}.", cell(caveat))?;
    }
    writeln!(out)?;
    if let Some(figure) = figure {
        writeln!(out, "![runs compared]({figure})")?;
        writeln!(out)?;
    }
    let t = table(c);
    let line = |cells: &[String]| {
        format!(
            "| {} |",
            cells
                .iter()
                .map(|c| cell(c))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    writeln!(out, "{}", line(&t.headers))?;
    writeln!(out, "|{}", "---|".repeat(t.headers.len()))?;
    for row in &t.rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out)?;
    if !c.config_diff.is_empty() {
        let keys: Vec<String> = c.config_diff.iter().map(|k| format!("`{k}`")).collect();
        writeln!(out, "Hyperparameters that differ: {}.", keys.join(", "))?;
        writeln!(out)?;
    }
    for r in c.runs.iter().filter(|r| r.error.is_some()) {
        writeln!(
            out,
            "- **{}** not analysed: {}",
            cell(&r.name),
            cell(r.error.as_deref().unwrap_or_default())
        )?;
    }
    Ok(())
}
