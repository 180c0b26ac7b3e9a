//! `--json FILE` and `--markdown FILE` as DESIGN §2 writes them (`analyze run --json - --fail-on
//! warning`), without letting an output flag swallow an input. clap's value-optional flags need
//! `--json=FILE`; before clap sees the command line, a value written as the next word is joined
//! to its flag (`--json -` → `--json=-`, `--json out.json` → `--json=out.json`) unless that word
//! is an input: an existing directory (a run folder) or an existing file that is not a report of
//! the flag's kind (a log). `--json RUN_DIR` and `--json jepa_r0.csv` therefore still read the
//! run and print the report on standard output, and an input is never taken as the output path.

use std::ffi::OsString;
use std::path::Path;

/// The subcommands whose `--json` / `--markdown` write a report (for `watch`, `--json` is a
/// switch).
const REPORTING_COMMANDS: [&str; 2] = ["analyze", "compare"];

/// `args` (the whole command line, program name first) with each output value written as the
/// next word joined to its flag, as described in the module documentation. Words after `--` are
/// left alone.
pub(super) fn join_output_values(args: Vec<OsString>) -> Vec<OsString> {
    let reporting = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| REPORTING_COMMANDS.contains(&a));
    if !reporting {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut words = args.into_iter().peekable();
    while let Some(word) = words.next() {
        if word == "--" {
            out.push(word);
            out.extend(words);
            break;
        }
        let extension = match word.to_str() {
            Some("--json") => "json",
            Some("--markdown") => "md",
            _ => {
                out.push(word);
                continue;
            }
        };
        match words.peek().and_then(|next| next.to_str()) {
            Some(value) if is_output_value(value, extension) => {
                let mut joined = word;
                joined.push("=");
                joined.push(value);
                out.push(joined);
                words.next();
            }
            _ => out.push(word),
        }
    }
    out
}

/// Whether `word`, written after an output flag, is that flag's value: `-`, or a path that is not
/// an option and not an input (an existing directory, or an existing file without the report's
/// `extension`).
fn is_output_value(word: &str, extension: &str) -> bool {
    if word == "-" {
        return true;
    }
    if word.starts_with('-') || word.is_empty() {
        return false;
    }
    let path = Path::new(word);
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => false,
        Ok(_) => path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(extension)),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(words: &[&str]) -> Vec<String> {
        let args = words.iter().map(OsString::from).collect();
        join_output_values(args)
            .into_iter()
            .map(|w| w.into_string().unwrap())
            .collect()
    }

    #[test]
    fn a_value_as_the_next_word_is_joined_unless_it_is_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("jepa_r0.csv");
        std::fs::write(&log, "epoch,itr,loss\n").unwrap();
        let report = dir.path().join("old.json");
        std::fs::write(&report, "{}").unwrap();
        let (d, l, r) = (
            dir.path().to_str().unwrap(),
            log.to_str().unwrap(),
            report.to_str().unwrap(),
        );
        assert_eq!(
            joined(&["jd", "analyze", d, "--json", "-", "--fail-on", "warning"]),
            ["jd", "analyze", d, "--json=-", "--fail-on", "warning"]
        );
        assert_eq!(
            joined(&["jd", "analyze", "--json", "new.json", d]),
            ["jd", "analyze", "--json=new.json", d]
        );
        assert_eq!(
            joined(&["jd", "analyze", "--json", r, d]),
            ["jd", "analyze", &format!("--json={r}"), d]
        );
        // Inputs stay inputs: a run folder, a log.
        assert_eq!(
            joined(&["jd", "analyze", "--json", d]),
            ["jd", "analyze", "--json", d]
        );
        assert_eq!(
            joined(&["jd", "analyze", "--markdown", l]),
            ["jd", "analyze", "--markdown", l]
        );
        // Another option, the end of options, and watch's switch are left alone.
        assert_eq!(
            joined(&["jd", "analyze", "--json", "--markdown", d]),
            ["jd", "analyze", "--json", "--markdown", d]
        );
        assert_eq!(
            joined(&["jd", "analyze", "--", "--json", "x"]),
            ["jd", "analyze", "--", "--json", "x"]
        );
        assert_eq!(
            joined(&["jd", "watch", "--json", "x.json"]),
            ["jd", "watch", "--json", "x.json"]
        );
        assert_eq!(
            joined(&["jd", "compare", "--markdown", "sweep.md", d]),
            ["jd", "compare", "--markdown=sweep.md", d]
        );
    }
}
