//! What the user typed: the command line, parsed by clap and nothing more. [`crate::config`] turns
//! it into decisions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnose::finding::FailOn;
use crate::model::Format;

mod output_values;
mod values;
mod wording;

use values::{
    parse_fraction, parse_input, parse_probability, parse_seconds, parse_size, parse_weight,
};
use wording::{analyze_wording, compare_wording, watch_wording};

/// A doctor for JEPA / V-JEPA training runs: reads the logs a run already wrote, separates the JEPA
/// and regularization losses, decides with statistics whether the loss "descends then rebounds",
/// recognises collapse, spikes, divergence, plateaus and learning-rate problems, and says what to
/// try.
#[derive(Debug, Parser)]
#[command(
    name = "jepa-doctor",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose one run: files, a run directory, or - for standard input.
    ///
    /// Exit status: 0 analysed and nothing at or above --fail-on fired; 1 something did;
    /// 2 usage error or unusable input.
    #[command(display_name = "jepa-doctor")]
    Analyze(AnalyzeArgs),
    /// Compare several runs (a sweep): one table, one ranking, one overlay figure.
    ///
    /// Each RUN is a run directory, a log file, or a saved `analyze --json` report. Exit status:
    /// 0 nothing at or above --fail-on in any run; 1 some run tripped it; 2 usage error or no run
    /// could be analysed.
    #[command(display_name = "jepa-doctor")]
    Compare(CompareArgs),
    /// Follow a run while it trains; alert the moment a collapse, divergence or rebound is
    /// established.
    ///
    /// Exit status: 1 at the first alert at or above --fail-on (unless --keep-going); 0 at
    /// --idle-exit or on Ctrl-C without an alert; 2 usage error or unusable input.
    #[command(display_name = "jepa-doctor")]
    Watch(WatchArgs),
    /// Print a shell completion script.
    #[command(display_name = "jepa-doctor")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(display_name = "jepa-doctor")]
    Man,
}

#[derive(Debug, Args, Clone)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub settings: SettingsArgs,

    /// Ids of the arguments typed on the command line (filled by [`parse`]); a settings file
    /// fills only the others.
    #[arg(skip)]
    pub given: Vec<String>,
}

/// The settings file (`jepa-doctor.toml`, or `[tool.jepa-doctor]` in `pyproject.toml`).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Settings file")]
pub struct SettingsArgs {
    /// Read settings from FILE instead of searching jepa-doctor.toml / .jepa-doctor.toml /
    /// pyproject.toml [tool.jepa-doctor] from the run directory upward.
    #[arg(long, value_name = "FILE", conflicts_with = "no_settings")]
    pub settings: Option<PathBuf>,

    /// Ignore settings files; use only the command line and the defaults.
    #[arg(long)]
    pub no_settings: bool,

    /// Print the resolved settings and where each came from (command line, file, default), then
    /// exit without analysing.
    #[arg(long)]
    pub print_config: bool,
}

/// Parses the process's command line like [`clap::Parser::parse`] (same errors, same exit), and
/// records which arguments were typed rather than defaulted ([`AnalyzeArgs::given`]).
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    let args = output_values::join_output_values(std::env::args_os().collect());
    let matches = cmd
        .clone()
        .try_get_matches_from(args)
        .unwrap_or_else(|e| exit_on(e));
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| exit_on(e.format(&mut cmd)));
    if let (Command::Analyze(args), Some(("analyze", sub))) =
        (&mut cli.command, matches.subcommand())
    {
        args.given = sub
            .ids()
            .filter(|id| {
                sub.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.as_str().to_owned())
            .collect();
    }
    cli
}

/// Exits on a clap outcome: help and version as clap prints them (exit 0); a usage error once,
/// as every error of ours is printed, `jepa-doctor: error: …` with clap's usage and tip (exit 2).
fn exit_on(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    use std::io::Write;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    let text = e.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    // Standard error may be closed or full: nothing else to say then, the exit code remains.
    let _ = write!(std::io::stderr(), "jepa-doctor: error: {text}");
    std::process::exit(2)
}

/// The first options of `analyze` and `watch`: one run's inputs, how to read them and how to
/// decide (`watch` words the inputs' help for watching in `watch_wording`).
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Log files, run directories, or - for standard input (parts or ranks of one run).
    #[arg(required = true, value_name = "INPUT", value_parser = parse_input)]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// `jepa-doctor compare`: the runs, and the same reading and analysis options as `analyze`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Runs: run directories, log files, or saved `analyze --json` reports (*.json).
    #[arg(required = true, value_name = "RUN", value_parser = parse_input)]
    pub runs: Vec<String>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    #[command(flatten)]
    pub output: CompareOutputArgs,
}

/// What `compare` writes.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output", mut_args(compare_wording))]
pub struct CompareOutputArgs {
    /// Order of the runs: health (default), min-loss, final-loss, or eval:NAME (a downstream
    /// metric; higher first unless its name says loss or error).
    #[arg(long, value_name = "KEY", default_value = "health", value_parser = crate::compare::rank::RankBy::parse)]
    pub rank_by: crate::compare::rank::RankBy,

    /// Write the comparison as JSON to FILE, or to standard output with - (the default value).
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub json: Option<String>,

    /// Write the comparison as Markdown to FILE, or to standard output with -.
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub markdown: Option<String>,

    /// Draw every run's smoothed JEPA loss on one axis to FILE (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// The x axis of the figure: global step, epoch, or progress (fraction of each run).
    #[arg(long, value_enum, value_name = "AXIS", default_value_t = XAxis::Step)]
    pub x: XAxis,

    /// Size of the figure in pixels.
    #[arg(long, value_name = "WxH", default_value = "1600x1000", value_parser = parse_size)]
    pub plot_size: (u32, u32),

    #[command(flatten)]
    pub fail: FailOnArgs,

    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// `compare --x`: what the overlay's x axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum XAxis {
    /// Global step.
    #[default]
    Step,
    /// Epoch (step / iterations per epoch; runs without a known ipe are left out).
    Epoch,
    /// Fraction of each run (0 = its first step, 1 = its last).
    Progress,
}

/// `jepa-doctor watch`: the run, and how to follow it.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub watch: WatchOptions,
}

/// How to follow the run and what to say.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Watching", mut_args(watch_wording))]
pub struct WatchOptions {
    /// Seconds between evaluations when new data arrived (fractions allowed).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub interval: f64,

    /// Exit 0 when no new data arrived for this many seconds (default: never).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub idle_exit: Option<f64>,

    /// One JSON object per evaluation on standard output (JSON lines) instead of the status line.
    #[arg(long)]
    pub json: bool,

    /// Run this shell command once per alert, with the alert's JSON on its standard input.
    #[arg(long, value_name = "CMD")]
    pub on_alert: Option<String>,

    /// Report alerts and keep watching instead of exiting.
    #[arg(long)]
    pub keep_going: bool,

    #[command(flatten)]
    pub fail: FailOnArgs,

    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// How to decide.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Analysis")]
pub struct AnalysisArgs {
    /// Significance level of the rise after the minimum (Mann–Kendall, autocorrelation-corrected).
    #[arg(long, value_name = "P", default_value_t = 0.01, value_parser = parse_probability)]
    pub alpha: f64,

    /// Least share of the descent the loss must give back to count as a rebound.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.05, value_parser = parse_fraction)]
    pub min_rebound: f64,

    /// EMA smoothing weight on the raw points, as in TensorBoard (default: from the run length).
    #[arg(long, value_name = "W", value_parser = parse_weight)]
    pub smoothing: Option<f64>,

    /// Step at which warmup ends (default: the config's warmup × ipe, or the LR column's peak).
    #[arg(long, value_name = "STEP")]
    pub warmup_steps: Option<u64>,

    /// Resolution of the statistics: series longer than this are analysed as this many block
    /// medians.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(20..=100_000))]
    pub max_blocks: u64,
}

/// How to read the inputs.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Reading")]
pub struct ReadArgs {
    /// Input format; auto recognises it from the content.
    #[arg(long, value_enum, default_value_t = FormatChoice::Auto)]
    pub format: FormatChoice,

    /// Column holding the global step (generic logs).
    #[arg(long, value_name = "NAME")]
    pub step_col: Option<String>,

    /// Series to treat as the JEPA (prediction) loss.
    #[arg(long, value_name = "NAME")]
    pub jepa_col: Option<String>,

    /// Series to treat as the regularization / collapse monitor.
    #[arg(long, value_name = "NAME")]
    pub reg_col: Option<String>,

    /// Series to treat as the total loss.
    #[arg(long, value_name = "NAME")]
    pub loss_col: Option<String>,

    /// Params YAML of the run (default: params*.yaml next to the logs).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Iterations per epoch, for logs keyed by (epoch, itr) (default: config, log, or inferred).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub ipe: Option<u64>,

    /// Treat any skipped row, or value left out of a row (text where a key holds numbers), as
    /// an error (exit 2).
    #[arg(long)]
    pub strict: bool,

    /// The run to read from a source holding several (an MLflow store, a TensorBoard log
    /// directory, a W&B CSV export): its ID or name.
    #[arg(long = "run", value_name = "ID|NAME")]
    pub run: Option<String>,
}

/// What to write. (`Default` is "nothing asked for"; the command line's defaults come from clap.)
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Output", mut_args(analyze_wording))]
pub struct OutputArgs {
    /// Write the JSON report: --json alone or --json - to standard output, --json FILE (or
    /// --json=FILE) to a file.
    ///
    /// A run directory or a log after --json is an input, never the output path: `--json RUN_DIR`
    /// reads RUN_DIR and prints the report.
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub json: Option<String>,

    /// Draw the loss report to FILE (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// Size of the figure in pixels.
    #[arg(long, value_name = "WxH", default_value = "1600x1000", value_parser = parse_size)]
    pub plot_size: (u32, u32),

    /// Logarithmic y axes for the loss and regularization panels of the figure (default: only
    /// when a positive series spans more than a factor 30).
    #[arg(long)]
    pub log_y: bool,

    /// Leave the small curve out of the text report.
    #[arg(long)]
    pub no_chart: bool,

    /// Write a Markdown summary (for a CI job summary): --markdown alone or --markdown - to
    /// standard output, --markdown FILE (or --markdown=FILE) to a file.
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub markdown: Option<String>,

    /// Link the figure in the Markdown summary to URL (where it was published, e.g. a CI
    /// artifact) instead of embedding the --plot path.
    #[arg(long, value_name = "URL")]
    pub figure_url: Option<String>,

    /// Write the cleaned, merged series as CSV (step, then one column per series).
    #[arg(long, value_name = "FILE", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub export: Option<String>,

    /// Add GitHub Actions workflow annotations (::error / ::warning / ::notice) for the findings
    /// before the report on standard output.
    #[arg(long)]
    pub github: bool,

    #[command(flatten)]
    pub fail: FailOnArgs,

    /// Show how each finding was reached.
    #[arg(long)]
    pub explain: bool,

    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// `--fail-on`, the same option in `analyze`, `compare` and `watch` (each command words its help
/// with `mut_arg`; this text is `analyze`'s).
#[derive(Debug, Args, Clone, Default)]
pub struct FailOnArgs {
    /// Exit 1 when a finding at or above this level fires, or the verdict carries it (collapse
    /// and diverged are errors; unstable, rebound and stalled warnings; `rebound` trips on a
    /// rebound or anything worse).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

/// `--color` and `-q/--quiet`: how the report reaches the terminal, the same options in `analyze`,
/// `compare` and `watch` (each command words its help with `mut_arg`; this text is `analyze`'s).
#[derive(Debug, Args, Clone, Default)]
pub struct ConsoleArgs {
    /// Colour the text report: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Write nothing to standard output (no report, no --github annotations, no --json=- /
    /// --markdown=- / --export=-); outputs sent to files are still written and errors still go
    /// to standard error. The exit status tells the outcome.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// `--format`: auto or one of the formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FormatChoice {
    #[default]
    Auto,
    #[value(name = "vjepa-csv")]
    VjepaCsv,
    #[value(name = "vjepa2-csv")]
    Vjepa2Csv,
    #[value(name = "ijepa-csv")]
    IjepaCsv,
    Csv,
    Jsonl,
    Json,
    #[value(name = "console-log")]
    ConsoleLog,
    Tensorboard,
    #[value(name = "fairseq-log")]
    FairseqLog,
    #[value(name = "wandb-csv")]
    WandbCsv,
}

impl FormatChoice {
    /// The forced format, `None` for auto.
    pub fn forced(self) -> Option<Format> {
        match self {
            FormatChoice::Auto => None,
            FormatChoice::VjepaCsv => Some(Format::VjepaCsv),
            FormatChoice::Vjepa2Csv => Some(Format::Vjepa2Csv),
            FormatChoice::IjepaCsv => Some(Format::IjepaCsv),
            FormatChoice::Csv => Some(Format::Csv),
            FormatChoice::Jsonl => Some(Format::Jsonl),
            FormatChoice::Json => Some(Format::Json),
            FormatChoice::ConsoleLog => Some(Format::ConsoleLog),
            FormatChoice::Tensorboard => Some(Format::Tensorboard),
            FormatChoice::FairseqLog => Some(Format::FairseqLog),
            FormatChoice::WandbCsv => Some(Format::WandbCsv),
        }
    }
}
