//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use jepa_doctor::clean::{CleanOptions, clean};
use jepa_doctor::ingest::{IngestOptions, load};
use jepa_doctor::model::{Run, Series};

/// The binary under test (`assert_cmd`), for the end-to-end tests.
pub fn doctor() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("jepa-doctor").unwrap()
}

/// The `tool` object of a JSON report (analyze and compare), as docs/json.md states it.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// Stdout of `jepa-doctor ARGS`, without colour; the run must exit 0 or 1 (analysed).
pub fn stdout_of(args: &[&str]) -> String {
    let out = doctor()
        .args(args)
        .arg("--color=never")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Stdout of `jepa-doctor analyze fixtures/REL ARGS…` with a figure planned at `fig.png` in a
/// fresh directory: `args(png)` gives the flags after the input. Returns the directory (the
/// figure lives as long as it does), the figure's path and stdout; the exit status is not checked.
pub fn analyze_with_figure(
    rel: &str,
    args: impl FnOnce(&std::path::Path) -> Vec<String>,
) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("fig.png");
    let out = doctor()
        .arg("analyze")
        .arg(fixture(rel))
        .args(args(&png))
        .output()
        .unwrap();
    (dir, png, String::from_utf8(out.stdout).unwrap())
}

/// Path of a file under `fixtures/`.
pub fn fixture(rel: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures", rel]
        .iter()
        .collect();
    p.display().to_string()
}

/// Reads and cleans inputs with default options.
pub fn run_of(inputs: &[&str]) -> Run {
    run_with(inputs, &IngestOptions::default(), &CleanOptions::default())
}

pub fn run_with(inputs: &[&str], ingest: &IngestOptions, opts: &CleanOptions) -> Run {
    let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    let loaded = load(&inputs, ingest).unwrap_or_else(|e| panic!("load {inputs:?}: {e}"));
    clean(loaded, opts).unwrap_or_else(|e| panic!("clean {inputs:?}: {e}"))
}

/// The error message reading `inputs` gives.
pub fn error_of(inputs: &[&str]) -> String {
    let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    match load(&inputs, &IngestOptions::default()).and_then(|l| clean(l, &CleanOptions::default()))
    {
        Ok(_) => panic!("expected an error for {inputs:?}"),
        Err(e) => e.to_string(),
    }
}

pub fn series<'a>(run: &'a Run, name: &str) -> &'a Series {
    run.series_named(name)
        .unwrap_or_else(|| panic!("no series {name}; have {:?}", names(run)))
}

pub fn names(run: &Run) -> Vec<&str> {
    run.series.iter().map(|s| s.name.as_str()).collect()
}

/// Present values of a series in step order.
pub fn values(run: &Run, name: &str) -> Vec<(u64, f32)> {
    series(run, name).points(&run.steps).collect()
}
pub mod sweep;
pub mod synth;

/// The run's steps as a vector.
pub fn steps(run: &Run) -> Vec<u64> {
    run.steps.iter().collect()
}
pub mod failures;

/// The SVG figure `command` draws (`--plot=fig.svg`, `-q`; `--no-settings` for `analyze`), with
/// `extra` flags; the run must not be unusable (exit < 2).
pub fn svg_of(command: &[&str], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("fig.svg");
    let out = doctor()
        .args(command)
        .arg("-q")
        .args((command[0] == "analyze").then_some("--no-settings"))
        .arg(format!("--plot={}", svg.display()))
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{out:?}");
    std::fs::read_to_string(&svg).unwrap()
}

/// The text of every `<text>` element of an SVG.
pub fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_owned())
        })
        .collect()
}

/// Copies the folder `from` to `to` with everything below it; symbolic links are made again as
/// links to the same target (W&B's `latest-run`), not followed.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(link, target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
