//! Too little data is said plainly: a persistence bound at its cap is "too few points to
//! estimate", not a correlation length longer than the run; a loss never finite is no usable loss
//! (exit 2), not a divergence; one row reads "1 finite point" once, and the rebound is undecided.

mod common;

use common::{doctor, fixture};

fn analyze(file: &str, extra: &[&str]) -> (String, Option<i32>) {
    let out = doctor()
        .args(["analyze", &fixture(file), "--no-chart", "--no-settings"])
        .args(extra)
        .env("COLUMNS", "400")
        .output()
        .unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.code())
}

#[test]
fn a_capped_persistence_bound_is_too_few_points_not_a_correlation_length() {
    let (text, _) = analyze("too_few/seven_blocks_after_minimum.csv", &["--explain"]);
    assert!(
        text.contains("too few to estimate how persistent the noise is"),
        "{text}"
    );
    assert!(!text.contains("with a correlation length of"), "{text}");
    assert!(!text.contains("one independent point per"), "{text}");
    assert!(text.contains("rebound  undecided"), "{text}");
}

#[test]
fn a_loss_never_finite_is_no_usable_loss_not_a_divergence() {
    let out = doctor()
        .args([
            "analyze",
            &fixture("too_few/loss_never_finite.csv"),
            "--no-settings",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no usable loss"), "{stderr}");
    assert!(stderr.contains("did not diverge"), "{stderr}");
    assert!(!stderr.contains("the run diverged"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("peak lr"), "{stderr}");
}

#[test]
fn one_row_says_one_point_once_and_is_undecided() {
    let (text, _) = analyze("too_few/one_row.csv", &[]);
    assert!(!text.contains("1 finite points"), "{text}");
    assert!(
        !text.contains("too few for the trend tests; only"),
        "{text}"
    );
    assert!(
        text.contains("only 1 finite point: too few to analyse"),
        "{text}"
    );
    assert!(text.contains("rebound  undecided"), "{text}");
}
