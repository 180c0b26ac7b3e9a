//! The per-command parts of the shared options: help text and value shape that differ between
//! `analyze`, `compare` and `watch`, applied with `mut_args` (which, unlike `mut_arg`, keeps the
//! arguments' order, so the help, man page and completion scripts stay as they were).

use clap::Arg;

/// The shape of an output that goes to FILE, or to standard output when the flag has no value
/// (`--json` alone means `--json=-`): `--json` and `--markdown` of `analyze` and `compare`.
fn file_or_stdout(arg: Arg) -> Arg {
    arg.value_name("FILE")
        .num_args(0..=1)
        .default_missing_value("-")
}

/// `analyze`: `--json` / `--markdown` take a file with `=`; `--json FILE` is joined to that form
/// before parsing unless FILE is an input (`cli::output_values`).
pub(super) fn analyze_wording(arg: Arg) -> Arg {
    match arg.get_id().as_str() {
        "json" | "markdown" => file_or_stdout(arg).require_equals(true),
        _ => arg,
    }
}

/// `compare`: the outputs' shape, and `--fail-on` / `--quiet` worded for several runs.
pub(super) fn compare_wording(arg: Arg) -> Arg {
    match arg.get_id().as_str() {
        "json" | "markdown" => file_or_stdout(arg).require_equals(true),
        "fail_on" => arg.help("Exit 1 when a finding at or above this level fires in any run"),
        "quiet" => arg.help("Print nothing; only the exit status tells the outcome"),
        _ => arg,
    }
}

/// `watch`: the inputs worded for a growing run, `--fail-on`, `--color` and `--quiet` for alerts.
pub(super) fn watch_wording(arg: Arg) -> Arg {
    match arg.get_id().as_str() {
        "fail_on" => {
            arg.help("Alert (and exit 1) when a finding at or above this level is established")
        }
        "inputs" => arg.help(
            "Log files or run directories of one run (rank files that appear later are picked up)",
        ),
        "color" => arg.help("Colour the report printed on alert: auto, always, never"),
        "quiet" => arg.help("Print nothing but alerts' reports; the exit status tells the outcome"),
        _ => arg,
    }
}
