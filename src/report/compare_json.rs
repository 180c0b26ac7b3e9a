//! The comparison as JSON: the contract of DESIGN §7b, documented in docs/json.md (schema_version
//! 1; fields may be added, never removed or renamed) and locked by tests/compare.rs.
//! Deterministic: runs in rank order, paths as given, no timestamps.

use std::io::{self, Write};

use serde::Serialize;

use super::json::{SCHEMA_VERSION, Tool};
use crate::compare::Comparison;
use crate::compare::row::RunRow;

#[derive(Serialize)]
struct CompareReport<'a> {
    schema_version: u32,
    tool: Tool,
    rank_by: String,
    rank_direction: String,
    /// Set when ranking by loss: why a lower loss is not a better run.
    rank_caveat: Option<&'static str>,
    runs: &'a [RunRow],
    config_diff: &'a [String],
    exit_code: u8,
}

/// Writes the JSON comparison, pretty-printed, with a trailing newline.
pub fn write(out: &mut dyn Write, c: &Comparison) -> io::Result<()> {
    let report = CompareReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool::this(),
        rank_by: c.rank_by.name(),
        rank_direction: c.rank_by.direction(),
        rank_caveat: c.rank_by.caveat(),
        runs: &c.runs,
        config_diff: &c.config_diff,
        exit_code: c.exit_code,
    };
    serde_json::to_writer_pretty(&mut *out, &report).map_err(io::Error::other)?;
    writeln!(out)
}
