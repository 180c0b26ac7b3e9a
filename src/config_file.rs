//! The settings file: thresholds, the CI gate, column names and smoothing kept with the runs
//! instead of repeated on every command line.
//!
//! Where it is found (as ruff and uv find theirs): from the run directory (the first input's
//! directory, or the current directory for standard input) upward, the first directory holding
//! `jepa-doctor.toml`, `.jepa-doctor.toml`, or a `pyproject.toml` with a `[tool.jepa-doctor]`
//! table (a `pyproject.toml` without one is passed over). One file is used, never merged with
//! another; `--settings FILE` names it, `--no-settings` ignores all.
//!
//! The keys are the `analyze` flags without their dashes (`fail-on = "warning"`,
//! `alpha = 0.01`, `jepa-col = "loss-jepa"`; [`KEYS`]), each value checked by the same parser as
//! the flag. A flag typed on the command line wins over the file; the file wins over the default.
//! `--print-config` shows the result and where each value came from.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{AnalyzeArgs, Cli};

/// The keys a settings file may hold, with the id of the `analyze` argument each sets.
pub const KEYS: &[(&str, &str)] = &[
    ("fail-on", "fail_on"),
    ("alpha", "alpha"),
    ("min-rebound", "min_rebound"),
    ("smoothing", "smoothing"),
    ("warmup-steps", "warmup_steps"),
    ("max-blocks", "max_blocks"),
    ("format", "format"),
    ("step-col", "step_col"),
    ("jepa-col", "jepa_col"),
    ("reg-col", "reg_col"),
    ("loss-col", "loss_col"),
    ("strict", "strict"),
    ("color", "color"),
    ("plot-size", "plot_size"),
];

/// File names searched in each directory, in order.
const FILE_NAMES: &[&str] = &["jepa-doctor.toml", ".jepa-doctor.toml"];

/// Why a settings file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("{path}: unknown setting `{key}` (known: {known})")]
    UnknownKey {
        path: String,
        key: String,
        known: String,
    },
    #[error("{path}: {key} = {value}: {message}")]
    Value {
        path: String,
        key: String,
        value: String,
        message: String,
    },
}

/// Where a resolved setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    File(PathBuf),
    Default,
}

/// The settings file that was found, and its table.
#[derive(Clone, Debug)]
pub struct SettingsFile {
    pub path: PathBuf,
    /// `true` when the table is `[tool.jepa-doctor]` of a `pyproject.toml`.
    pub pyproject: bool,
    table: toml::Table,
}

/// The command line with the settings file applied, and the origin of each setting.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub args: AnalyzeArgs,
    /// The file used, if any.
    pub file: Option<PathBuf>,
    /// Where the search started (for `--print-config`).
    pub searched_from: Option<PathBuf>,
    /// One entry per [`KEYS`] key, in that order.
    pub sources: Vec<(&'static str, Source)>,
}

/// Applies the settings file (found or named) to `args`: keys not typed on the command line take
/// the file's value.
pub fn resolve(args: &AnalyzeArgs) -> Result<Resolved, SettingsError> {
    let (file, searched_from) = if args.settings.no_settings {
        (None, None)
    } else if let Some(path) = &args.settings.settings {
        (Some(read_settings(path, is_pyproject(path))?), None)
    } else {
        let start = start_dir(&args.run.inputs);
        (find(&start)?, Some(start))
    };
    let mut resolved = args.clone();
    let mut sources = Vec::new();
    let from_file = match &file {
        Some(f) => Some(parse_table(f)?),
        None => None,
    };
    for &(key, id) in KEYS {
        let source = if args.given.iter().any(|g| g == id) {
            Source::CommandLine
        } else if let (Some(f), Some(parsed)) = (&file, &from_file)
            && f.table.contains_key(key)
        {
            copy_setting(&mut resolved, parsed, id);
            Source::File(f.path.clone())
        } else {
            Source::Default
        };
        sources.push((key, source));
    }
    Ok(Resolved {
        args: resolved,
        file: file.map(|f| f.path),
        searched_from,
        sources,
    })
}

/// The directory the search starts from: the first input's directory (itself when it is one),
/// else the current directory.
fn start_dir(inputs: &[String]) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let Some(first) = inputs.iter().find(|i| i.as_str() != "-") else {
        return cwd;
    };
    let path = Path::new(first);
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    dir.canonicalize().unwrap_or(cwd)
}

/// The first settings file from `start` upward.
pub fn find(start: &Path) -> Result<Option<SettingsFile>, SettingsError> {
    for dir in start.ancestors() {
        for name in FILE_NAMES {
            let path = dir.join(name);
            if path.is_file() {
                return read_settings(&path, false).map(Some);
            }
        }
        let pyproject = dir.join("pyproject.toml");
        if pyproject.is_file() && has_tool_table(&pyproject)? {
            return read_settings(&pyproject, true).map(Some);
        }
    }
    Ok(None)
}

fn is_pyproject(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "pyproject.toml")
}

fn load_toml(path: &Path) -> Result<toml::Table, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    text.parse::<toml::Table>().map_err(|e| {
        let at = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line, column)
        });
        let path = match at {
            Some((line, column)) => format!("{}:{line}:{column}", path.display()),
            None => path.display().to_string(),
        };
        SettingsError::Toml {
            path,
            message: e.message().trim_end().replace('\n', " "),
        }
    })
}

fn has_tool_table(path: &Path) -> Result<bool, SettingsError> {
    let table = load_toml(path)?;
    Ok(table
        .get("tool")
        .and_then(|t| t.get("jepa-doctor"))
        .is_some())
}

/// Reads a settings file; for a `pyproject.toml`, its `[tool.jepa-doctor]` table (empty when
/// absent).
fn read_settings(path: &Path, pyproject: bool) -> Result<SettingsFile, SettingsError> {
    let mut table = load_toml(path)?;
    if pyproject {
        table = match table
            .remove("tool")
            .and_then(|mut t| t.as_table_mut().and_then(|t| t.remove("jepa-doctor")))
        {
            Some(toml::Value::Table(t)) => t,
            Some(other) => {
                return Err(SettingsError::Value {
                    path: path.display().to_string(),
                    key: "tool.jepa-doctor".into(),
                    value: other.to_string(),
                    message: "must be a table".into(),
                });
            }
            None => toml::Table::new(),
        };
    }
    Ok(SettingsFile {
        path: path.to_path_buf(),
        pyproject,
        table,
    })
}

/// The file's values parsed by the `analyze` parser itself (same checks and messages as the
/// flags), as a full set of arguments whose other fields are defaults.
fn parse_table(file: &SettingsFile) -> Result<AnalyzeArgs, SettingsError> {
    let path = file.path.display().to_string();
    let known = || KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
    let mut argv: Vec<String> = Vec::new();
    for (key, value) in &file.table {
        if !KEYS.iter().any(|(k, _)| k == key) {
            return Err(SettingsError::UnknownKey {
                path,
                key: key.clone(),
                known: known(),
            });
        }
        let bad = |message: &str| SettingsError::Value {
            path: path.clone(),
            key: key.clone(),
            value: value.to_string(),
            message: message.into(),
        };
        match value {
            toml::Value::Boolean(true) => argv.push(format!("--{key}")),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => argv.push(format!("--{key}={s}")),
            toml::Value::Integer(i) => argv.push(format!("--{key}={i}")),
            toml::Value::Float(x) => argv.push(format!("--{key}={x}")),
            _ => return Err(bad("must be a string, a number or true/false")),
        }
        // Check this one value alone, so a mistake names its key.
        if let Some(last) = argv.last()
            && let Err(e) = analyze_command().try_get_matches_from([last.as_str(), "-"])
        {
            return Err(bad(&clap_message(&e)));
        }
    }
    argv.push("-".into());
    let matches =
        analyze_command()
            .try_get_matches_from(&argv)
            .map_err(|e| SettingsError::Toml {
                path: path.clone(),
                message: clap_message(&e),
            })?;
    AnalyzeArgs::from_arg_matches(&matches).map_err(|e| SettingsError::Toml {
        path,
        message: clap_message(&e),
    })
}

/// The `analyze` subcommand as clap defines it.
fn analyze_command() -> clap::Command {
    Cli::command()
        .find_subcommand("analyze")
        .cloned()
        .unwrap_or_else(|| clap::Command::new("analyze"))
        .no_binary_name(true)
}

/// The reason in a clap error, without its `error:` prefix and usage lines.
fn clap_message(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.trim_start_matches("error: ");
    // "invalid value '2' for '--alpha <P>': must be ..." → "must be ..."
    let reason = match first.rsplit_once("': ") {
        Some((_, reason)) if first.starts_with("invalid value") => reason.to_owned(),
        _ => first.to_owned(),
    };
    match text.lines().find(|l| l.contains("[possible values:")) {
        Some(values) => format!("{reason} {}", values.trim()),
        None => reason,
    }
}

/// Copies the argument `id` from `src` to `dst`.
fn copy_setting(dst: &mut AnalyzeArgs, src: &AnalyzeArgs, id: &str) {
    match id {
        "fail_on" => dst.output.fail.fail_on = src.output.fail.fail_on,
        "alpha" => dst.run.analysis.alpha = src.run.analysis.alpha,
        "min_rebound" => dst.run.analysis.min_rebound = src.run.analysis.min_rebound,
        "smoothing" => dst.run.analysis.smoothing = src.run.analysis.smoothing,
        "warmup_steps" => dst.run.analysis.warmup_steps = src.run.analysis.warmup_steps,
        "max_blocks" => dst.run.analysis.max_blocks = src.run.analysis.max_blocks,
        "format" => dst.run.read.format = src.run.read.format,
        "step_col" => dst.run.read.step_col.clone_from(&src.run.read.step_col),
        "jepa_col" => dst.run.read.jepa_col.clone_from(&src.run.read.jepa_col),
        "reg_col" => dst.run.read.reg_col.clone_from(&src.run.read.reg_col),
        "loss_col" => dst.run.read.loss_col.clone_from(&src.run.read.loss_col),
        "strict" => dst.run.read.strict = src.run.read.strict,
        "color" => dst.output.console.color = src.output.console.color,
        "plot_size" => dst.output.plot_size = src.output.plot_size,
        _ => {}
    }
}

/// The value of the argument `id` as TOML (`None` when unset: the default is decided later).
fn value_of(args: &AnalyzeArgs, id: &str) -> Option<String> {
    use clap::ValueEnum;
    let name = |v: Option<clap::builder::PossibleValue>| v.map(|p| format!("\"{}\"", p.get_name()));
    let text = |s: &Option<String>| {
        s.as_ref()
            .map(|s| toml::Value::from(s.as_str()).to_string())
    };
    match id {
        "fail_on" => name(args.output.fail.fail_on.to_possible_value()),
        "alpha" => Some(args.run.analysis.alpha.to_string()),
        "min_rebound" => Some(args.run.analysis.min_rebound.to_string()),
        "smoothing" => args.run.analysis.smoothing.map(|w| w.to_string()),
        "warmup_steps" => args.run.analysis.warmup_steps.map(|s| s.to_string()),
        "max_blocks" => Some(args.run.analysis.max_blocks.to_string()),
        "format" => name(args.run.read.format.to_possible_value()),
        "step_col" => text(&args.run.read.step_col),
        "jepa_col" => text(&args.run.read.jepa_col),
        "reg_col" => text(&args.run.read.reg_col),
        "loss_col" => text(&args.run.read.loss_col),
        "strict" => Some(args.run.read.strict.to_string()),
        "color" => name(args.output.console.color.to_possible_value()),
        "plot_size" => Some(format!(
            "\"{}x{}\"",
            args.output.plot_size.0, args.output.plot_size.1
        )),
        _ => None,
    }
}

/// What an unset key means.
fn unset_meaning(key: &str) -> &'static str {
    match key {
        "smoothing" => "chosen from the run length",
        "warmup-steps" => "from the config, the LR column, else the first 5%",
        "step-col" | "jepa-col" | "reg-col" | "loss-col" => "recognised from the names",
        _ => "unset",
    }
}

/// `--print-config`: the resolved settings as a TOML file one could save, each line saying
/// where its value came from.
pub fn write_resolved(out: &mut dyn std::io::Write, r: &Resolved) -> std::io::Result<()> {
    match (&r.file, &r.searched_from) {
        (Some(path), _) => writeln!(out, "# settings file: {}", path.display())?,
        (None, Some(from)) => writeln!(
            out,
            "# settings file: none (searched {} from {} upward)",
            FILE_NAMES
                .iter()
                .chain(&["pyproject.toml [tool.jepa-doctor]"])
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            from.display()
        )?,
        (None, None) => writeln!(out, "# settings file: none (--no-settings)")?,
    }
    let lines: Vec<(String, String)> = r
        .sources
        .iter()
        .map(|(key, source)| {
            let id = KEYS
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, id)| *id);
            let line = match value_of(&r.args, id) {
                Some(v) => format!("{key} = {v}"),
                None => format!("# {key} = ({})", unset_meaning(key)),
            };
            let origin = match source {
                Source::CommandLine => "command line".to_owned(),
                Source::File(p) => p
                    .file_name()
                    .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into()),
                Source::Default => "default".to_owned(),
            };
            (line, origin)
        })
        .collect();
    let width = lines
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (line, origin) in lines {
        let pad = width - line.chars().count();
        writeln!(out, "{line}{:pad$}  # {origin}", "")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_names_an_analyze_argument() {
        let cmd = analyze_command();
        for (key, id) in KEYS {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id().as_str() == *id)
                .unwrap_or_else(|| panic!("{key}: no argument {id}"));
            assert_eq!(arg.get_long(), Some(*key));
        }
    }
}
