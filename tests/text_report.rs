//! The text report reads well in a terminal: prose wraps to the width, a recommendation is
//! never printed twice, the "changes" line says what it lists, and `--explain` says why on every
//! verdict, healthy included.

mod common;

use assert_cmd::Command;
use common::fixture;

fn report(dir: &str, extra: &[&str], columns: Option<&str>) -> String {
    let mut cmd = Command::cargo_bin("jepa-doctor").unwrap();
    cmd.args(["analyze", &fixture(dir), "--no-chart", "--no-settings"])
        .args(extra);
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The prose part: everything before the "read" section (the series table is a table).
fn prose(text: &str) -> &str {
    text.split("\nread ").next().unwrap_or(text)
}

#[test]
fn prose_wraps_to_the_width() {
    for width in [60usize, 80, 100] {
        let text = report(
            "samples/highlr_reg",
            &["--explain"],
            Some(&width.to_string()),
        );
        let long: Vec<&str> = prose(&text)
            .lines()
            .filter(|l| l.chars().count() > width)
            .collect();
        // Only the one-line minimum summary may exceed (it is built from fixed pieces).
        assert!(
            long.iter().all(|l| l.contains("→ minimum")),
            "{width}: {long:#?}"
        );
    }
    // Without a terminal or COLUMNS, lines stay whole (for pipes and files).
    let whole = report("samples/highlr_reg", &[], None);
    assert!(whole.lines().any(|l| l.chars().count() > 120));
}

#[test]
fn no_recommendation_is_printed_twice() {
    for dir in [
        "samples/highlr_reg",
        "synthetic/collapse",
        "synthetic/periodic_crashes",
        "synthetic/diverged",
        "synthetic/spiky",
    ] {
        let text = report(dir, &[], None);
        let recs: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("→ "))
            .filter(|r| !r.contains("said above"))
            .collect();
        let mut unique = recs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), recs.len(), "{dir}: {recs:#?}");
    }
}

#[test]
fn the_changes_line_explains_itself() {
    let text = report("samples/recipe", &[], None);
    let line = text
        .lines()
        .find(|l| l.starts_with("changes  "))
        .expect("a changes line");
    assert!(line.contains("PELT changepoints"), "{line}");
}

#[test]
fn explain_says_why_on_every_verdict() {
    for dir in [
        "samples/recipe",
        "samples/highlr_reg",
        "synthetic/collapse",
        "synthetic/rebound_reg_falling",
        "synthetic/diverged",
        "synthetic/few_epochs",
    ] {
        let text = report(dir, &["--explain"], None);
        let verdict = text.split(':').next().unwrap();
        let why = text
            .lines()
            .find(|l| l.starts_with("why      "))
            .unwrap_or_else(|| panic!("{dir}: no why line\n{text}"));
        assert!(why.contains(verdict), "{dir}: {why}");
        assert!(why.contains("because"), "{dir}: {why}");
    }
}
