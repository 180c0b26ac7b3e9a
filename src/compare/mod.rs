//! `jepa-doctor compare`: several runs side by side (DESIGN §2, §7b; issue 15).
//!
//! A sweep is judged run by run and then read across: which run is healthy, which collapsed, and
//! what changed between them. This module holds the *data* of a comparison — where each run
//! comes from ([`sources`]), one row per run ([`row`]) built from the run's `analyze` JSON report
//! (so a live run and a saved `analyze --json` report give the same row), the hyperparameters that
//! differ ([`config_diff`]) and the ranking ([`rank`]). [`setup`] summarises a run's setup (peak
//! LR, EMA, downstream metrics, flattened params) and is also part of the `analyze` report.
//! Reading and analysing the runs is orchestrated by `app`; the renderers live in
//! `report/compare_*.rs`.

pub mod config_diff;
pub mod rank;
pub mod row;
pub mod setup;
pub mod sources;

use crate::diagnose::finding::FailOn;
use rank::RankBy;
use row::RunRow;

/// Every run of a comparison, ranked, with what differs between them.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub rank_by: RankBy,
    /// In rank order; runs that could not be analysed last, in the order given.
    pub runs: Vec<RunRow>,
    /// Dotted params keys whose values differ between the runs that have a config.
    pub config_diff: Vec<String>,
    /// 0, 1 when any run trips `--fail-on`, 2 when no run could be analysed.
    pub exit_code: u8,
}

/// Exit status: analysed, nothing at or above the gate (same numbers as `analyze`).
const EXIT_OK: u8 = 0;
const EXIT_FINDING: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// Ranks `runs`, diffs their configs and decides the exit status under `fail_on`.
pub fn compare(mut runs: Vec<RunRow>, rank_by: RankBy, fail_on: FailOn) -> Comparison {
    for r in &mut runs {
        r.exit_code = r.error.is_none().then(|| u8::from(r.trips(fail_on)));
    }
    rank::rank(&mut runs, &rank_by);
    let config_diff = config_diff::differing_keys(&runs);
    let analysed = runs.iter().filter(|r| r.error.is_none()).count();
    let exit_code = if analysed == 0 {
        EXIT_ERROR
    } else if runs.iter().any(|r| r.exit_code == Some(EXIT_FINDING)) {
        EXIT_FINDING
    } else {
        EXIT_OK
    };
    Comparison {
        rank_by,
        runs,
        config_diff,
        exit_code,
    }
}
