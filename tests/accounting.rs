//! The accounting invariant on every fixture that reads: rows read = used + skipped + replaced, at
//! most 20 skipped rows listed (each with a reason), and non-finite values counted per series the
//! same way whether a column keeps its values or only their kinds.

mod common;

use std::path::{Path, PathBuf};

use jepa_doctor::clean::{CleanOptions, clean};
use jepa_doctor::ingest::table::ValuePolicy;
use jepa_doctor::ingest::{IngestOptions, load};
use jepa_doctor::model::{Run, is_missing};

/// Every log file and run directory under `fixtures/` (the reference data excepted).
fn inputs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        let is_run_dir = entries.iter().any(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "csv" || e == "log")
        });
        if is_run_dir && dir.parent().is_some_and(|p| !p.ends_with("fixtures")) {
            out.push(dir.to_path_buf());
        }
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if !path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "sha256")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    let root = PathBuf::from(common::fixture(""));
    for sub in std::fs::read_dir(&root).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_dir() && !sub.ends_with("reference") {
            walk(&sub, &mut out);
        }
    }
    out
}

fn read(input: &Path, values: ValuePolicy) -> Option<Run> {
    let opts = IngestOptions {
        values,
        ..IngestOptions::default()
    };
    let loaded = load(&[input.display().to_string()], &opts).ok()?;
    clean(loaded, &CleanOptions::default()).ok()
}

#[test]
fn every_fixture_accounts_for_every_row_and_counts_non_finite_values() {
    let mut checked = 0;
    for input in inputs() {
        let Some(run) = read(&input, ValuePolicy::default()) else {
            continue; // refused inputs are checked by tests/broken_corpus.rs
        };
        let rows = &run.input.rows;
        assert_eq!(
            rows.rows_read,
            rows.rows_used + rows.rows_skipped + rows.rows_replaced,
            "{}: {rows:?}",
            input.display()
        );
        assert_eq!(
            run.input.skipped.len() as u64,
            rows.rows_skipped.min(20),
            "{}",
            input.display()
        );
        assert!(run.input.skipped.iter().all(|s| !s.reason.is_empty()));

        // Every value kept: the non-finite counts from the values equal those from the kinds.
        let all = read(&input, ValuePolicy::all()).expect("reads with every value kept");
        assert_eq!(all.input.rows, run.input.rows, "{}", input.display());
        for (kept, kinds) in all.series.iter().zip(&run.series) {
            assert_eq!(kept.name, kinds.name);
            let counted = kept
                .values
                .iter()
                .filter(|v| !is_missing(**v) && !v.is_finite())
                .count();
            let summary = kinds.summary(&run.steps);
            assert_eq!(
                summary.non_finite,
                counted,
                "{}: {}",
                input.display(),
                kept.name
            );
            assert_eq!(summary.points, kept.summary(&all.steps).points);
        }
        checked += 1;
    }
    println!("{checked} fixtures checked");
    assert!(checked >= 60, "only {checked} fixtures read");
}
