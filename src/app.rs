//! The commands, end to end: read → clean → analyse → render. Returns the exit status; errors go
//! back to `main`, which prints them once.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::config::{AnalyzeSettings, AnnotationStream};
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::FailOn;
use crate::report::chart::ChartOptions;
use crate::report::markdown::FigureRef;
use crate::report::output::Target;
use crate::report::text::TextOptions;
use crate::report::{export, github, json, markdown, output, plot, text};
use crate::{clean, config_file, diagnose, ingest, manual};

mod compare;

/// Exit status: analysed, nothing at or above the gate.
pub const EXIT_OK: u8 = 0;
/// Exit status: analysed, something at or above the gate fired.
pub const EXIT_FINDING: u8 = 1;
/// Exit status: usage error or unusable input.
pub const EXIT_ERROR: u8 = 2;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Analyze(args) => {
            let resolved = config_file::resolve(&args)?;
            if args.settings.print_config {
                output::write_to(&Target::Stdout, "the settings", |w| {
                    config_file::write_resolved(w, &resolved)
                })?;
                return Ok(EXIT_OK);
            }
            analyze(&AnalyzeSettings::from_args(&resolved.args)?)
        }
        Command::Compare(args) => compare::run(&args),
        Command::Watch(args) => crate::watch::run(&crate::watch::WatchSettings::from_args(&args)?),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            output::write_to(&Target::Stdout, "completions", |w| {
                manual::write_completions(shell, &mut cmd, w)
            })?;
            Ok(EXIT_OK)
        }
        Command::Man => {
            output::write_to(&Target::Stdout, "the man page", |w| {
                manual::write_man(Cli::command(), w)
            })?;
            Ok(EXIT_OK)
        }
    }
}

/// `jepa-doctor analyze`.
pub fn analyze(settings: &AnalyzeSettings) -> Result<u8> {
    let mut clock = PhaseClock::from_env();
    let plan = ingest::plan(&settings.inputs, &settings.ingest)?;
    output::refuse_overwriting_inputs(&plan.files(), &settings.outputs.paths())?;
    let loaded = ingest::load_plan(plan, &settings.ingest)?;
    clock.lap("read");
    let run = clean::clean(loaded, &settings.clean)?;
    clock.lap("clean");
    diagnose::require_loss(&run)?;
    let diagnosis = diagnose::diagnose(&run, &settings.analysis);
    clock.lap("analyse");
    let outputs = &settings.outputs;
    let exit_code = exit_code(&diagnosis, outputs.fail_on);
    if let Some((path, opts)) = &outputs.plot {
        plot::write(path, &run, &diagnosis, *opts)
            .with_context(|| format!("drawing the figure to {}", path.display()))?;
        clock.lap("plot");
    }
    let figure_path = outputs.plot.as_ref().map(|(p, _)| p.display().to_string());
    let figure = match (&outputs.figure_url, &figure_path) {
        (Some(url), _) => Some(FigureRef::Url(url)),
        (None, Some(path)) => Some(FigureRef::Path(path)),
        (None, None) => None,
    };
    match outputs.github {
        Some(AnnotationStream::Stdout) => {
            output::write_to(&Target::Stdout, "the annotations", |w| {
                github::write(w, &run, &diagnosis)
            })?;
        }
        Some(AnnotationStream::Stderr) => {
            let mut err = std::io::stderr().lock();
            github::write(&mut err, &run, &diagnosis).context("writing the annotations")?;
        }
        None => {}
    }
    if let Some(target) = &outputs.json {
        output::write_to(target, "the JSON report", |w| {
            json::write(w, &run, &diagnosis, exit_code)
        })?;
    }
    if let Some(target) = &outputs.markdown {
        output::write_to(target, "the Markdown summary", |w| {
            markdown::write(w, &run, &diagnosis, figure)
        })?;
    }
    if let Some(target) = &outputs.export {
        output::write_to(target, "the exported series", |w| {
            export::write_csv(w, &run)
        })?;
    }
    if outputs.text {
        let opts = TextOptions {
            color: outputs.color,
            explain: outputs.explain,
            chart: outputs.chart.then(ChartOptions::from_env),
            width: text::wrap_width(),
        };
        output::write_to(&Target::Stdout, "the report", |w: &mut dyn Write| {
            text::write(w, &run, &diagnosis, opts)
        })?;
    }
    clock.lap("write");
    Ok(exit_code)
}

/// `JEPA_DOCTOR_TIMINGS=1`: how long each phase took, on standard error (for profiling).
struct PhaseClock {
    last: Option<std::time::Instant>,
}

impl PhaseClock {
    fn from_env() -> PhaseClock {
        PhaseClock {
            last: std::env::var_os("JEPA_DOCTOR_TIMINGS").map(|_| std::time::Instant::now()),
        }
    }
    fn lap(&mut self, phase: &str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            let _ = writeln!(
                std::io::stderr(),
                "jepa-doctor: timing: {phase} {:.3} s",
                (now - last).as_secs_f64()
            );
            self.last = Some(now);
        }
    }
}

/// 1 when a finding trips the `--fail-on` gate, else 0.
pub fn exit_code(diagnosis: &Diagnosis, fail_on: FailOn) -> u8 {
    if diagnosis.findings.iter().any(|f| fail_on.trips(f))
        || fail_on.trips_verdict(diagnosis.verdict)
    {
        EXIT_FINDING
    } else {
        EXIT_OK
    }
}
