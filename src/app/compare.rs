//! `jepa-doctor compare`, end to end: name the runs, analyse each (in parallel, with the same
//! reading and analysis settings as `analyze`), read a row from each run's report, rank, diff the
//! configs, render. One run's bad input becomes its row's error; the others go on.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::exit_code;
use crate::cli::{AnalyzeArgs, CompareArgs, OutputArgs, RunArgs, XAxis};
use crate::compare::row::{Curves, RunRow};
use crate::compare::sources::{NamedRun, RunSource, named_runs};
use crate::compare::{self, Comparison};
use crate::config::AnalyzeSettings;
use crate::diagnose::finding::FailOn;
use crate::ingest::IngestOptions;
use crate::report::compare_plot::CompareFigure;
use crate::report::output::Target;
use crate::report::{compare_json, compare_markdown, compare_text, json, output};
use crate::{clean, diagnose, ingest};

/// Largest saved report read (a report is kilobytes; this only bounds a wrong file).
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// Runs `compare`.
pub fn run(args: &CompareArgs) -> Result<u8> {
    let settings = settings(args)?;
    let out = &args.output;
    let named = named_runs(&args.runs);
    refuse_overwriting_inputs(&named, &settings)?;
    let rows: Vec<RunRow> = named
        .par_iter()
        .map(|n| analyse(n, &settings, out.fail.fail_on))
        .collect();
    compare::rank::check_key(&rows, &out.rank_by)?;
    let comparison = compare::compare(rows, out.rank_by.clone(), out.fail.fail_on);
    if !out.console.quiet {
        for r in &comparison.runs {
            if let Some(e) = &r.error {
                eprintln!("jepa-doctor: warning: run {}: {e}", r.name);
            }
        }
    }
    if let Some((path, opts)) = &settings.outputs.plot {
        let figure = CompareFigure {
            comparison: &comparison,
            x: out.x,
            opts: *opts,
        };
        figure
            .write(path)
            .with_context(|| format!("drawing the figure to {}", path.display()))?;
        if !out.console.quiet && out.x == XAxis::Epoch {
            for r in comparison.runs.iter().filter(|r| {
                r.curves
                    .as_ref()
                    .is_some_and(|c| c.ipe.is_none() && !c.jepa.is_empty())
            }) {
                eprintln!(
                    "jepa-doctor: note: run {} has no known iterations per epoch; left out of the epoch plot",
                    r.name
                );
            }
        }
    }
    write_outputs(&settings, &comparison, args)?;
    Ok(comparison.exit_code)
}

fn write_outputs(settings: &AnalyzeSettings, c: &Comparison, args: &CompareArgs) -> Result<()> {
    let outputs = &settings.outputs;
    let figure = outputs.plot.as_ref().map(|(p, _)| p.display().to_string());
    if let Some(target) = &outputs.json {
        output::write_to(target, "the JSON comparison", |w| compare_json::write(w, c))?;
    }
    if let Some(target) = &outputs.markdown {
        output::write_to(target, "the Markdown comparison", |w| {
            compare_markdown::write(w, c, figure.as_deref())
        })?;
    }
    if outputs.text {
        let color = outputs.color;
        output::write_to(&Target::Stdout, "the comparison", |w: &mut dyn Write| {
            compare_text::write(w, c, color, args.runs.len())
        })?;
    }
    Ok(())
}

/// No output may be a file of any run (its logs, params, files found in its directory, or a
/// saved report), checked before anything is read. A run whose inputs cannot be planned keeps
/// its typed paths in the check; its row will carry the error.
fn refuse_overwriting_inputs(named: &[NamedRun], settings: &AnalyzeSettings) -> Result<()> {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for n in named {
        match &n.source {
            RunSource::Logs(inputs) | RunSource::Selected { inputs, .. } => {
                files.extend(inputs.iter().map(std::path::PathBuf::from));
                if let Ok(plan) = ingest::plan(inputs, &settings.ingest) {
                    files.extend(plan.files());
                }
            }
            RunSource::Report(path) => files.push(path.into()),
        }
    }
    output::refuse_overwriting_inputs(&files, &settings.outputs.paths())?;
    Ok(())
}

/// The `analyze` settings for these options (the same checks: one output on standard output,
/// never overwrite an input, a figure ends in .png or .svg).
fn settings(args: &CompareArgs) -> Result<AnalyzeSettings> {
    let out = &args.output;
    let as_analyze = AnalyzeArgs {
        run: RunArgs {
            inputs: args.runs.clone(),
            read: args.read.clone(),
            analysis: args.analysis.clone(),
        },
        output: OutputArgs {
            json: out.json.clone(),
            plot: out.plot.clone(),
            plot_size: out.plot_size,
            no_chart: true,
            markdown: out.markdown.clone(),
            fail: out.fail.clone(),
            console: out.console.clone(),
            ..OutputArgs::default()
        },
        settings: Default::default(),
        given: Vec::new(),
    };
    let mut settings = AnalyzeSettings::from_args(&as_analyze)?;
    // Several runs at once: no progress bar per input.
    settings.ingest.progress_bar = false;
    Ok(settings)
}

/// One run's row: analysed now, or read from its saved report. Never fails: an error is the
/// row's `error`. A panic is a bug and propagates (issue 13 item 7): it must never turn into a
/// row that reads like a diagnosis, and the fuzzers must see it.
fn analyse(n: &NamedRun, s: &AnalyzeSettings, fail_on: FailOn) -> RunRow {
    let attempt = match &n.source {
        RunSource::Logs(inputs) => analyse_logs(n, inputs, &s.ingest, s, fail_on),
        RunSource::Selected { inputs, run } => {
            let ingest = IngestOptions {
                run: Some(run.clone()),
                ..s.ingest.clone()
            };
            analyse_logs(n, inputs, &ingest, s, fail_on)
        }
        RunSource::Report(path) => read_report(n, path),
    };
    attempt.unwrap_or_else(|e| {
        let sources = match &n.source {
            RunSource::Logs(inputs) | RunSource::Selected { inputs, .. } => inputs.clone(),
            RunSource::Report(path) => vec![path.clone()],
        };
        RunRow::failed(&n.name, sources, format!("{e:#}"))
    })
}

fn analyse_logs(
    n: &NamedRun,
    inputs: &[String],
    ingest: &IngestOptions,
    s: &AnalyzeSettings,
    fail_on: FailOn,
) -> Result<RunRow> {
    let loaded = ingest::load(inputs, ingest)?;
    let run = clean::clean(loaded, &s.clean)?;
    diagnose::require_loss(&run)?;
    let d = diagnose::diagnose(&run, &s.analysis);
    let report = json::to_value(&run, &d, exit_code(&d, fail_on))?;
    let mut row = RunRow::from_report(&n.name, report).map_err(anyhow::Error::msg)?;
    row.curves = Some(Curves::of(&run, &d));
    Ok(row)
}

fn read_report(n: &NamedRun, path: &str) -> Result<RunRow> {
    let file = std::fs::File::open(path).with_context(|| format!("{path}: cannot open"))?;
    let mut text = String::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{path}: cannot read"))?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        anyhow::bail!("{path}: larger than 64 MiB; not an analyze report");
    }
    RunRow::from_report_text(&n.name, &text).map_err(|e| anyhow::anyhow!("{path}: {e}"))
}
