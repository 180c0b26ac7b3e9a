//! `--json FILE` and `--markdown FILE` as DESIGN §2 writes them (`analyze run --json - --fail-on
//! warning`), without letting an output flag swallow an input. clap's value-optional flags need
//! `--json=FILE`; before clap sees the command line, a value written as the next word is joined
//! to its flag (`--json -` → `--json=-`, `--json out.json` → `--json=out.json`) unless that word
//! is an input: an existing directory (a run folder), or an existing file that is not an earlier
//! output of the same flag (a log, `trainer_state.json`, a saved `analyze` report given to
//! `compare`). An existing file is taken as the output only when it is one this command wrote
//! before (a Markdown file; a JSON report of this command, recognised by its first bytes), so
//! re-running a CI job rewrites its report, while `--json RUN_DIR`, `--json jepa_r0.csv` or
//! `--json trainer_state.json` read the run and print the report: an input is never taken as
//! the output path.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

/// The subcommands whose `--json` / `--markdown` write a report (for `watch`, `--json` is a
/// switch).
const REPORTING_COMMANDS: [&str; 2] = ["analyze", "compare"];

/// `args` (the whole command line, program name first) with each output value written as the
/// next word joined to its flag, as described in the module documentation. Words after `--` are
/// left alone.
pub(super) fn join_output_values(args: Vec<OsString>) -> Vec<OsString> {
    let Some(command) = args
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| REPORTING_COMMANDS.contains(a))
        .map(str::to_owned)
    else {
        return args;
    };
    let mut out = Vec::with_capacity(args.len());
    let mut words = args.into_iter().peekable();
    while let Some(word) = words.next() {
        if word == "--" {
            out.push(word);
            out.extend(words);
            break;
        }
        let output = match word.to_str() {
            Some("--json") => Output::Json,
            Some("--markdown") => Output::Markdown,
            _ => {
                out.push(word);
                continue;
            }
        };
        match words.peek().and_then(|next| next.to_str()) {
            Some(value) if is_output_value(value, output, &command) => {
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

#[derive(Clone, Copy)]
enum Output {
    Json,
    Markdown,
}

/// Whether `word`, written after an output flag of `command`, is that flag's value: `-`, a path
/// that does not exist yet, or an existing file this command wrote before (see the module
/// documentation); never an option, a directory or any other existing file.
fn is_output_value(word: &str, output: Output, command: &str) -> bool {
    if word == "-" {
        return true;
    }
    if word.starts_with('-') || word.is_empty() {
        return false;
    }
    let path = Path::new(word);
    match std::fs::metadata(path) {
        Err(_) => true,
        Ok(meta) if !meta.is_file() => false,
        Ok(_) => match output {
            Output::Markdown => path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("md")),
            Output::Json => is_report_of(path, command),
        },
    }
}

/// Whether the file at `path` is empty or starts like a JSON report `command` writes: the tool's
/// name in its first bytes, and `rank_by` (a `compare` report) or not (an `analyze` report).
fn is_report_of(path: &Path, command: &str) -> bool {
    let mut head = Vec::with_capacity(1024);
    let read = std::fs::File::open(path).and_then(|f| f.take(1024).read_to_end(&mut head));
    if read.is_err() {
        return false;
    }
    if head.is_empty() {
        return true;
    }
    let text = String::from_utf8_lossy(&head);
    let ours = text.trim_start().starts_with('{') && text.contains("\"jepa-doctor\"");
    ours && (text.contains("\"rank_by\"") == (command == "compare"))
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
        std::fs::write(&report, "{\n  \"schema_version\": 1,\n  \"tool\": {\"name\": \"jepa-doctor\"},\n  \"input\": {}\n}").unwrap();
        let state = dir.path().join("trainer_state.json");
        std::fs::write(&state, "{\"log_history\": []}").unwrap();
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
        // Inputs stay inputs: a run folder, a log, a JSON log, an analyze report given to compare.
        let st = state.to_str().unwrap();
        assert_eq!(
            joined(&["jd", "analyze", "--json", st]),
            ["jd", "analyze", "--json", st]
        );
        assert_eq!(
            joined(&["jd", "compare", "--json", r, d]),
            ["jd", "compare", "--json", r, d]
        );
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
