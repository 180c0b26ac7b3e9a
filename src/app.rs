//! The commands, end to end: read → clean → analyse → render. Returns the exit status; errors go
//! back to `main`, which prints them once.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::config::{AnalyzeSettings, Target};
use crate::diagnose::Diagnosis;
use crate::diagnose::finding::FailOn;
use crate::report::chart::ChartOptions;
use crate::report::text::TextOptions;
use crate::report::{export, github, json, markdown, output, plot, text};
use crate::{clean, diagnose, ingest};

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
        Command::Analyze(args) => analyze(&AnalyzeSettings::from_args(&args)?),
        Command::Compare(args) => compare::run(&args),
        Command::Watch(args) => crate::watch::run(&crate::watch::WatchSettings::from_args(&args)?),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            output::write_to(&Target::Stdout, "completions", |w| {
                clap_complete::generate(shell, &mut cmd, "jepa-doctor", w);
                Ok(())
            })?;
            Ok(EXIT_OK)
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            output::write_to(&Target::Stdout, "the man page", |w| man.render(w))?;
            Ok(EXIT_OK)
        }
    }
}

/// `jepa-doctor analyze`.
pub fn analyze(settings: &AnalyzeSettings) -> Result<u8> {
    let mut clock = PhaseClock::from_env();
    let loaded = ingest::load(&settings.inputs, &settings.ingest)?;
    clock.lap("read");
    let run = clean::clean(loaded, &settings.clean)?;
    clock.lap("clean");
    let diagnosis = diagnose::diagnose(&run, &settings.analysis);
    clock.lap("analyse");
    let outputs = &settings.outputs;
    let exit_code = exit_code(&diagnosis, outputs.fail_on);
    if let Some((path, opts)) = &outputs.plot {
        plot::write(path, &run, &diagnosis, *opts)
            .with_context(|| format!("drawing the figure to {}", path.display()))?;
        clock.lap("plot");
    }
    let figure = outputs.plot.as_ref().map(|(p, _)| p.display().to_string());
    if outputs.github {
        output::write_to(&Target::Stdout, "the annotations", |w| {
            github::write(w, &run, &diagnosis)
        })?;
    }
    if let Some(target) = &outputs.json {
        output::write_to(target, "the JSON report", |w| {
            json::write(w, &run, &diagnosis, exit_code)
        })?;
    }
    if let Some(target) = &outputs.markdown {
        output::write_to(target, "the Markdown summary", |w| {
            markdown::write(w, &run, &diagnosis, figure.as_deref())
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
            eprintln!(
                "jepa-doctor: timing: {phase} {:.3} s",
                (now - last).as_secs_f64()
            );
            self.last = Some(now);
        }
    }
}

/// 1 when a finding trips the `--fail-on` gate, else 0.
pub fn exit_code(diagnosis: &Diagnosis, fail_on: FailOn) -> u8 {
    if diagnosis.findings.iter().any(|f| fail_on.trips(f)) {
        EXIT_FINDING
    } else {
        EXIT_OK
    }
}
