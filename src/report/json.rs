//! The JSON report: the contract of DESIGN §7 (schema_version 1; fields may be added, never
//! removed or renamed). Deterministic: no timestamps, paths exactly as the user gave them.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::compare::setup::{Setup, setup};
use crate::diagnose::finding::{Finding, Verdict};
use crate::diagnose::rebound::Rebound;
use crate::diagnose::{Changepoint, Diagnosis};
use crate::model::{InputSummary, Run, SeriesSummary};

/// Version of the JSON contract.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    tool: Tool,
    input: &'a InputSummary,
    series: Vec<SeriesEntry<'a>>,
    verdict: Verdict,
    headline: &'a str,
    rebound: &'a Rebound,
    changepoints: &'a [Changepoint],
    findings: &'a [Finding],
    setup: Setup,
    exit_code: u8,
}

/// The `tool` section: this program's name and version.
#[derive(Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Tool {
    pub fn this() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// One entry of the `series` section.
#[derive(Serialize)]
pub struct SeriesEntry<'a> {
    pub name: &'a str,
    pub role: &'static str,
    pub points: usize,
    pub non_finite: usize,
    pub first_step: Option<u64>,
    pub last_step: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
}

/// The `series` section for a run, from the summaries the diagnosis computed.
pub fn series_entries<'a>(run: &'a Run, summaries: &[SeriesSummary]) -> Vec<SeriesEntry<'a>> {
    run.series
        .iter()
        .zip(summaries)
        .map(|(s, summary)| SeriesEntry {
            name: &s.name,
            role: s.role.as_str(),
            points: summary.points,
            non_finite: summary.non_finite,
            first_step: summary.first_step,
            last_step: summary.last_step,
            note: s.note.as_deref(),
        })
        .collect()
}

/// Writes the JSON report, pretty-printed, with a trailing newline.
pub fn write(
    out: &mut dyn Write,
    run: &Run,
    diagnosis: &Diagnosis,
    exit_code: u8,
) -> io::Result<()> {
    let report = report(run, diagnosis, exit_code);
    serde_json::to_writer_pretty(&mut *out, &report).map_err(io::Error::other)?;
    writeln!(out)
}

/// The JSON report as a value (what `compare` reads a run's row from).
pub fn to_value(run: &Run, diagnosis: &Diagnosis, exit_code: u8) -> serde_json::Result<Value> {
    serde_json::to_value(report(run, diagnosis, exit_code))
}

fn report<'a>(run: &'a Run, diagnosis: &'a Diagnosis, exit_code: u8) -> JsonReport<'a> {
    JsonReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool::this(),
        input: &run.input,
        series: series_entries(run, &diagnosis.summaries),
        verdict: diagnosis.verdict,
        headline: &diagnosis.headline,
        rebound: &diagnosis.rebound,
        changepoints: &diagnosis.changepoints,
        findings: &diagnosis.findings,
        setup: setup(run),
        exit_code,
    }
}
