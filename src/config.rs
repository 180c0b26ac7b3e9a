//! What was decided: the command line turned into settings for each stage, with the checks that
//! need more than one flag (one output on standard output at most). That no output overwrites an
//! input is checked once the inputs are discovered ([`crate::report::output`]).

use std::path::PathBuf;

use crate::clean::CleanOptions;
use std::io::IsTerminal;

use crate::cli::{AnalysisArgs, AnalyzeArgs, ColorChoice, ReadArgs};
use crate::diagnose::AnalysisSettings;
use crate::diagnose::finding::FailOn;
use crate::diagnose::rebound::ReboundSettings;
use crate::error::UsageError;
use crate::ingest::IngestOptions;
use crate::ingest::table::ValuePolicy;
use crate::report::output::{OutputPath, PlotFormat, PlotOptions, Target};

/// Where `--github` annotations go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnotationStream {
    Stdout,
    Stderr,
}

/// The outputs of `analyze`.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// The human report on standard output (off with --quiet or when a machine output uses it).
    /// With --quiet nothing is written to standard output: `json`, `markdown` and `export` are
    /// `None` when they would have gone there.
    pub text: bool,
    pub json: Option<Target>,
    pub markdown: Option<Target>,
    pub export: Option<Target>,
    /// GitHub workflow annotations, added to the report: on standard output before the text
    /// report, or on standard error when a machine output (JSON, Markdown, CSV) has standard output
    /// (the Actions runner reads workflow commands from both streams).
    pub github: Option<AnnotationStream>,
    /// Colour the text report.
    pub color: bool,
    /// Show the reasoning of each finding.
    pub explain: bool,
    /// `--plot`: the figure's path and options.
    pub plot: Option<(PathBuf, PlotOptions)>,
    /// Draw the small curve in the text report.
    pub chart: bool,
    /// `--figure-url`: where the figure was published, for the Markdown summary.
    pub figure_url: Option<String>,
    pub fail_on: FailOn,
}

impl Outputs {
    /// The files the outputs go to, with their flags (for [`crate::report::output::refuse_overwriting_inputs`]).
    pub fn paths(&self) -> Vec<OutputPath<'_>> {
        let files = [
            ("--json", &self.json),
            ("--markdown", &self.markdown),
            ("--export", &self.export),
        ];
        let mut paths: Vec<OutputPath<'_>> = files
            .into_iter()
            .filter_map(|(flag, target)| match target {
                Some(Target::File(path)) => Some(OutputPath { flag, path }),
                _ => None,
            })
            .collect();
        if let Some((path, _)) = &self.plot {
            paths.push(OutputPath {
                flag: "--plot",
                path,
            });
        }
        paths
    }
}

/// Everything `analyze` needs to know.
#[derive(Clone, Debug)]
pub struct AnalyzeSettings {
    pub inputs: Vec<String>,
    pub ingest: IngestOptions,
    pub clean: CleanOptions,
    pub analysis: AnalysisSettings,
    pub outputs: Outputs,
}

impl AnalyzeSettings {
    pub fn from_args(args: &AnalyzeArgs) -> Result<AnalyzeSettings, UsageError> {
        let read = &args.run.read;
        let out = &args.output;
        // --quiet, as ripgrep's: nothing at all on standard output; files named are still
        // written, errors still go to standard error.
        let target = |value: &Option<String>| {
            value
                .as_deref()
                .map(Target::parse)
                .filter(|t| !(out.console.quiet && *t == Target::Stdout))
        };
        let json = target(&out.json);
        let markdown = target(&out.markdown);
        let export = target(&out.export);
        let machine = [
            ("--json", &json),
            ("--markdown", &markdown),
            ("--export", &export),
        ];
        let on_stdout: Vec<&str> = machine
            .iter()
            .filter(|(_, t)| **t == Some(Target::Stdout))
            .map(|(flag, _)| *flag)
            .collect();
        if on_stdout.len() > 1 {
            let (all, one) = if on_stdout.len() == 2 {
                ("both", "one of them")
            } else {
                ("all", "all but one")
            };
            return Err(UsageError(format!(
                "{} {all} write to standard output; send {one} to a file",
                on_stdout.join(" and ")
            )));
        }
        if let Some(plot) = &out.plot
            && PlotFormat::from_path(plot).is_none()
        {
            return Err(UsageError(format!(
                "--plot {}: the file must end in .png or .svg",
                plot.display()
            )));
        }
        Ok(AnalyzeSettings {
            inputs: args.run.inputs.clone(),
            ingest: IngestOptions {
                format: read.format.forced(),
                step_col: read.step_col.clone(),
                config: read.config.clone(),
                strict: read.strict,
                run: read.run.clone(),
                general_csv_only: false,
                progress_bar: !out.console.quiet,
                // Columns the diagnosis does not read keep only the kind of each value, unless
                // the cleaned series are exported.
                values: ValuePolicy {
                    keep_all: export.is_some(),
                    keep_names: [&read.jepa_col, &read.reg_col, &read.loss_col]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect(),
                },
            },
            clean: clean_options(read),
            analysis: analysis_settings(&args.run.analysis),
            outputs: Outputs {
                text: !out.console.quiet && on_stdout.is_empty(),
                json,
                markdown,
                export,
                github: (out.github && !out.console.quiet).then_some(if on_stdout.is_empty() {
                    AnnotationStream::Stdout
                } else {
                    AnnotationStream::Stderr
                }),
                color: use_color(out.console.color),
                explain: out.explain,
                plot: out.plot.clone().map(|p| {
                    let opts = PlotOptions {
                        width: out.plot_size.0,
                        height: out.plot_size.1,
                        smoothing: args.run.analysis.smoothing,
                        log_y: out.log_y,
                    };
                    (p, opts)
                }),
                chart: !out.no_chart,
                figure_url: out.figure_url.clone(),
                fail_on: out.fail.fail_on,
            },
        })
    }
}

/// Role overrides and `--ipe` (shared by `analyze` and `watch`).
pub fn clean_options(read: &ReadArgs) -> CleanOptions {
    CleanOptions {
        ipe: read.ipe,
        jepa_col: read.jepa_col.clone(),
        reg_col: read.reg_col.clone(),
        loss_col: read.loss_col.clone(),
    }
}

/// The analysis flags (shared by `analyze` and `watch`).
pub fn analysis_settings(args: &AnalysisArgs) -> AnalysisSettings {
    AnalysisSettings {
        rebound: ReboundSettings {
            alpha: args.alpha,
            min_magnitude: args.min_rebound,
            smoothing: args.smoothing,
            max_blocks: args.max_blocks as usize,
            ..ReboundSettings::default()
        },
        warmup_steps: args.warmup_steps,
    }
}

/// Whether to colour: `always`/`never` as said; `auto` when standard output is a terminal and
/// `NO_COLOR` is unset or empty (no-color.org).
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}
