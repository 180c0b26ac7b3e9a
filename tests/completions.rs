//! The completion scripts run in the real shells, and the man page checked against the
//! command-line definition.
//!
//! Each shell test generates the script with the real binary, loads it into the real shell and
//! asks for the completions of `jepa-doctor analyze --fail-on <TAB>`: bash by calling the
//! completion function the script registers (as readline would), zsh by typing into an
//! interactive `zsh -f` driven through `zsh/zpty` with `compinit`, fish with `complete -C`.
//! A missing shell is reported on stderr (`SKIPPED: zsh is not installed ...`); with
//! `JEPA_DOCTOR_REQUIRE_SHELLS=1` (set by `.ci/run`, which installs them) it is a failure.

use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use clap::CommandFactory;
use jepa_doctor::cli::Cli;

const FAIL_ON_VALUES: [&str; 4] = ["never", "rebound", "warning", "error"];

fn doctor() -> Command {
    Command::cargo_bin("jepa-doctor").unwrap()
}

fn script(shell: &str) -> String {
    let out = doctor().args(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Whether `shell` can be run; says so clearly when it cannot.
fn shell_present(shell: &str) -> bool {
    let found = StdCommand::new(shell)
        .arg("-c")
        .arg("exit 0")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = format!(
            "SKIPPED: {shell} is not installed, so its completion script was not exercised \
             (apt-get install {shell}; .ci/run installs it)"
        );
        if std::env::var_os("JEPA_DOCTOR_REQUIRE_SHELLS").is_some() {
            panic!("{msg} — and JEPA_DOCTOR_REQUIRE_SHELLS is set");
        }
        eprintln!("{msg}");
    }
    found
}

fn run(cmd: &mut StdCommand) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The completions bash offers for the words of `line` (the last word being completed).
fn bash_complete(script_path: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    // What readline does on TAB: look up the function `complete` registered for the command
    // and call it with (command, current word, previous word).
    let program = format!(
        r#"source '{}'
spec=$(complete -p jepa-doctor) || exit 3
func=$(sed -E 's/.*-F ([^ ]+) .*/\1/' <<<"$spec")
COMP_WORDS=({})
COMP_CWORD={cword}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$func" jepa-doctor '{}' '{prev}'
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script_path.display(),
        quoted.join(" "),
        words[cword],
    );
    run(StdCommand::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(program))
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn bash_completes_subcommands_and_fail_on_values() {
    if !shell_present("bash") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jepa-doctor.bash");
    std::fs::write(&path, script("bash")).unwrap();
    let values = bash_complete(&path, &["jepa-doctor", "analyze", "--fail-on", ""]);
    assert_eq!(values, FAIL_ON_VALUES, "bash offered {values:?}");
    let options = bash_complete(&path, &["jepa-doctor", "analyze", "--fai"]);
    assert_eq!(options, ["--fail-on"]);
    let subcommands = bash_complete(&path, &["jepa-doctor", "an"]);
    assert_eq!(subcommands, ["analyze"]);
}

#[test]
fn zsh_completes_fail_on_values() {
    if !shell_present("zsh") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("_jepa-doctor"), script("zsh")).unwrap();
    // An interactive zsh in a pseudo-terminal: load the script through fpath + compinit as a
    // user's setup would, type the line and TAB, and collect the screen until the list appears.
    let driver = r#"
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D; LISTMAX=1000; echo READY-\$((40+2))"
out=""; SECONDS=0
while (( SECONDS < 20 )); do zpty -r -t z chunk && out+=$chunk; [[ $out == *READY-42* ]] && break; done
zpty -w -n z "jepa-doctor analyze --fail-on "$'\t'
out=""; SECONDS=0
while (( SECONDS < 20 )); do
  zpty -r -t z chunk && out+=$chunk
  [[ $out == *warning* && $out == *rebound* && $out == *never* && $out == *error* ]] && break
  sleep 0.05
done
zpty -d z
print -r -- "$out"
"#;
    let screen = run(StdCommand::new("zsh")
        .args(["-f", "-c", driver, "zsh"])
        .arg(dir.path()));
    let screen = strip_escapes(&screen);
    for v in FAIL_ON_VALUES {
        assert!(
            screen.lines().any(|l| l.trim_start().starts_with(v)),
            "zsh did not list {v}:\n{screen}"
        );
    }
}

#[test]
fn fish_completes_fail_on_values() {
    if !shell_present("fish") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jepa-doctor.fish");
    std::fs::write(&path, script("fish")).unwrap();
    let listing = run(StdCommand::new("fish").args([
        "--no-config",
        "-c",
        &format!(
            "source '{}'; complete -C 'jepa-doctor analyze --fail-on '",
            path.display()
        ),
    ]));
    let mut offered: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split('\t').next())
        .collect();
    offered.sort();
    let mut want = FAIL_ON_VALUES.to_vec();
    want.sort();
    assert_eq!(offered, want, "fish offered:\n{listing}");
}

fn man_page() -> String {
    let out = doctor().arg("man").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Roff text as a reader sees it: `\-` is `-`, font escapes removed.
fn plain(roff: &str) -> String {
    roff.replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\fP", "")
        .replace("\\*(Aq", "'")
}

/// Terminal output without its escape sequences (`ESC [ ... letter`, `ESC ] ... BEL`).
fn strip_escapes(screen: &str) -> String {
    let mut out = String::new();
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        break;
                    }
                }
            }
            Some(']') => {
                for c in chars.by_ref() {
                    if c == '\u{7}' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn man_page_documents_every_subcommand_and_option() {
    let page = plain(&man_page());
    let mut cmd = Cli::command();
    cmd.build();
    let mut checked = 0;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = sub.get_name();
        assert!(
            page.contains(&format!("COMMAND: JEPA-DOCTOR {}", name.to_uppercase())),
            "no section for {name}"
        );
        assert!(
            page.contains(&format!("jepa-doctor {name} [OPTIONS]")),
            "no synopsis for {name}"
        );
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(
                    page.contains(&format!("--{long}")),
                    "{name}: --{long} missing"
                );
                checked += 1;
            }
            if let Some(help) = arg.get_long_help().or_else(|| arg.get_help()) {
                let first_words: String = help.to_string().chars().take(30).collect();
                assert!(
                    page.contains(&first_words),
                    "{name}: help of {:?} missing",
                    arg.get_id()
                );
            }
        }
    }
    assert!(checked >= 20, "only {checked} options checked");
    for section in ["NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT"] {
        assert!(
            page.contains(&format!(".SH {section}"))
                || page.contains(&format!(".SH \"{section}\"")),
            "no {section}"
        );
    }
    for var in ["NO_COLOR", "JEPA_DOCTOR_TIMINGS"] {
        assert!(page.contains(var), "{var} not documented");
    }
}

#[test]
fn man_page_refers_to_no_other_page_and_renders_cleanly() {
    let roff = man_page();
    let page = plain(&roff);
    // A reference is `name(section)`; the only page this tool installs is its own.
    let refs: Vec<&str> = page
        .match_indices("(1)")
        .map(|(i, _)| {
            let start = page[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |s| s + 1);
            &page[start..i]
        })
        .collect();
    assert!(refs.is_empty(), "references to other pages: {refs:?}");
    assert!(!page.contains("SEE ALSO"));
    // groff (when present) renders it without a warning.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jepa-doctor.1");
    std::fs::write(&path, &roff).unwrap();
    match StdCommand::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .arg(&path)
        .output()
    {
        Ok(out) => {
            assert!(out.status.success());
            assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
        }
        Err(_) => eprintln!("SKIPPED: groff is not installed; the man page was not rendered"),
    }
}
