//! Shell completion scripts and the man page, generated from the command-line definition so they
//! never drift from it.
//!
//! Two things clap's generators do not do for this binary, done here:
//! - **bash**: clap_complete 4.6 names the `case` arms of a hyphenated binary differently from the
//!   `cmd=` values it assigns (`jepa__subcmd__doctor__subcmd__analyze)` versus
//!   `cmd="jepa__doctor__subcmd__analyze"`), so no subcommand ever completes anything. The arms are
//!   renamed to the assigned spelling ([`fix_bash_case_arms`]).
//! - **man**: clap_mangen renders one page per command and lists subcommands as references to
//!   `jepa-doctor-analyze(1)` pages that are never installed. [`write_man`] renders one page with
//!   every subcommand's synopsis, description and options (any subcommand, so new ones are covered
//!   without edits), then EXIT STATUS, ENVIRONMENT and FILES, and refers to no other page.

use std::io::{self, Write};

use clap::Command;
use clap_complete::Shell;
use roff::{Roff, bold, italic, roman};

/// The binary's name as the shells see it.
pub const BIN_NAME: &str = "jepa-doctor";

/// Separator clap_complete's bash generator puts between command names in function names.
const BASH_CMD_SEP: &str = "__subcmd__";

/// Writes the completion script for `shell`, completing `cmd` as [`BIN_NAME`].
pub fn write_completions(shell: Shell, cmd: &mut Command, out: &mut dyn Write) -> io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, cmd, BIN_NAME, &mut script);
    if shell == Shell::Bash {
        let text = String::from_utf8_lossy(&script);
        out.write_all(fix_bash_case_arms(&text, BIN_NAME).as_bytes())
    } else {
        out.write_all(&script)
    }
}

/// Renames the `case` arms of clap_complete's bash script to the spelling its `cmd=` assignments
/// use: the binary name's `-` becomes `__`, not the command separator `__subcmd__`.
pub fn fix_bash_case_arms(script: &str, bin_name: &str) -> String {
    let wrong = bin_name.replace('-', BASH_CMD_SEP);
    let right = bin_name.replace('-', "__");
    if wrong == right {
        return script.to_owned();
    }
    script.replace(
        &format!("{wrong}{BASH_CMD_SEP}"),
        &format!("{right}{BASH_CMD_SEP}"),
    )
}

/// One environment variable the program reads, for the ENVIRONMENT section.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "NO_COLOR",
        "When set to a non-empty value, --color auto does not colour the text report (no-color.org).",
    ),
    (
        "JEPA_DOCTOR_TIMINGS",
        "When set, the time of each phase (read, clean, analyse, plot, write) is printed on standard error.",
    ),
    (
        "COLUMNS",
        "Width of the text report and its chart when standard output is not a terminal (default 80).",
    ),
    (
        "LC_ALL, LC_CTYPE, LANG",
        "The first one set decides whether the terminal chart uses Unicode (a UTF-8 locale) or ASCII.",
    ),
];

/// The exit statuses (DESIGN §2).
const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Analysed, and nothing at or above --fail-on fired (or a command other than analyze succeeded).",
    ),
    ("1", "Analysed, and a finding at or above --fail-on fired."),
    (
        "2",
        "Usage error, or an input that could not be read or used. The cause is printed once on standard error as jepa-doctor: error: ...",
    ),
];

/// Files read besides the inputs.
const FILES: &[(&str, &str)] = &[
    (
        "params*.yaml",
        "The run's params YAML next to the logs (V-JEPA, I-JEPA), read for the LR and EMA schedules and settings; --config names another.",
    ),
    (
        "jepa-doctor.toml, pyproject.toml [tool.jepa-doctor]",
        "Settings (thresholds, gate, column names, smoothing), searched from the run directory upward; flags on the command line win; analyze --print-config shows the resolved settings and where each came from.",
    ),
];

/// Writes the man page (roff) for `cmd`: one page covering every subcommand.
pub fn write_man(cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    let mut page = String::new();
    page.push_str(&render(|w| man.render_name_section(w))?);

    let subcommands: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let mut synopsis = Roff::new();
    synopsis.control("SH", ["SYNOPSIS"]);
    for sub in &subcommands {
        synopsis.text(short_synopsis(sub)).control("br", []);
    }
    page.push_str(&strip_preamble(&synopsis.render()));
    page.push_str(&render(|w| man.render_description_section(w))?);
    page.push_str(&render(|w| man.render_options_section(w))?);

    for sub in &subcommands {
        let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
        let sub_man = clap_mangen::Man::new((*sub).clone());
        let mut roff = Roff::new();
        roff.control("SH", [format!("COMMAND: {}", name.to_uppercase()).as_str()]);
        roff.text(short_synopsis(sub)).control("PP", []);
        page.push_str(&strip_preamble(&roff.render()));
        page.push_str(&drop_heading(&render(|w| {
            sub_man.render_description_section(w)
        })?));
        // Option groups become subsections of the command's section.
        let options = render(|w| sub_man.render_options_section(w))?;
        page.push_str(&demote_headings(&options, "options"));
    }

    page.push_str(&strip_preamble(&definition_list(
        "EXIT STATUS",
        EXIT_STATUS,
    )));
    page.push_str(&strip_preamble(&definition_list(
        "ENVIRONMENT",
        ENVIRONMENT,
    )));
    page.push_str(&strip_preamble(&definition_list("FILES", FILES)));
    page.push_str(&render(|w| man.render_version_section(w))?);
    out.write_all(page.as_bytes())
}

/// `jepa-doctor analyze [OPTIONS] <INPUT>...`: the command, `[OPTIONS]` when it has any, and its
/// positional arguments (`...` when repeated, in brackets when optional).
fn short_synopsis(cmd: &Command) -> Vec<roff::Inline> {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut line = vec![bold(name)];
    if cmd
        .get_arguments()
        .any(|a| !a.is_positional() && !a.is_hide_set())
    {
        line.push(roman(" [OPTIONS]"));
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), |v| v.to_string());
        let repeated = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let dots = if repeated { "..." } else { "" };
        let (open, close) = if arg.is_required_set() {
            ("<", ">")
        } else {
            ("[", "]")
        };
        line.push(roman(format!(" {open}")));
        line.push(italic(value));
        line.push(roman(format!("{close}{dots}")));
    }
    line
}

/// A section of `.TP` entries: bold term, then its description.
fn definition_list(heading: &str, entries: &[(&str, &str)]) -> String {
    let mut roff = Roff::new();
    roff.control("SH", [heading]);
    for (term, text) in entries {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
    roff.render()
}

/// Runs a clap_mangen section renderer into a string without the apostrophe preamble.
fn render(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<String> {
    let mut buf = Vec::new();
    f(&mut buf)?;
    Ok(strip_preamble(&String::from_utf8_lossy(&buf)))
}

/// Drops the two-line apostrophe preamble roff writes before every rendering (kept once, from
/// the title).
fn strip_preamble(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(".ie \\n(.g .ds Aq") && !l.starts_with(".el .ds Aq"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Removes `.SH` lines (the section heading clap_mangen adds).
fn drop_heading(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(".SH "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Turns `.SH HEADING` into `.SS Heading` (a subsection); `default` names the untitled group.
fn demote_headings(text: &str, default: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix(".SH ") {
            Some(h) => {
                let h = h.trim_matches('"');
                let title = if h == "OPTIONS" {
                    default.to_owned()
                } else {
                    h.to_lowercase()
                };
                let mut roff = Roff::new();
                roff.control("SS", [capitalise(&title).as_str()]);
                strip_preamble(&roff.to_roff())
            }
            None => format!("{l}\n"),
        })
        .collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_arms_take_the_assigned_spelling() {
        let script = "cmd=\"jepa__doctor__subcmd__analyze\"\n        jepa__subcmd__doctor__subcmd__analyze)\n        jepa__doctor)\n";
        let fixed = fix_bash_case_arms(script, "jepa-doctor");
        assert!(fixed.contains("        jepa__doctor__subcmd__analyze)"));
        assert!(!fixed.contains("jepa__subcmd__doctor"));
        assert_eq!(fix_bash_case_arms(script, "doctor"), script);
    }
}
