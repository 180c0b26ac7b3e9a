//! What each evaluation of a growing run may report, so that the status follows the evidence and
//! does not flicker from one evaluation to the next.
//!
//! - The findings the rebound test decides (`rebound`, `rebound-with-collapse`,
//!   `component-divergence`) and `insufficient-data` (whether that test could reject at the look's
//!   level α_k) are decided at looks only ([`super::spending`]). Between looks, what the last look
//!   decided stands.
//! - Before the first look on the current data nothing was tested: the run is never `healthy`
//!   then (`insufficient-data`, "rebound not yet tested").
//! - Once a look judged the run (its diagnosis had no `insufficient-data`), a later look does not
//!   fall back to `insufficient-data` while the data has not shrunk below the rows of that look: the
//!   smaller level α_k of a later look, or a new minimum too recent to test a rise after, limits
//!   that look, it does not take back the evidence the run already gave.
//! - When the data shrinks, the evaluation says so ([`Standing::judge`] returns the note):
//!   a file truncated or replaced by a new run voids what the looks established (the run is
//!   untested again, and the look grid starts over without refunding α); a restart replaying
//!   steps, or the logs read again because a rank file appeared, keep the last look's findings
//!   until the rows are back where that look saw them.

use crate::diagnose::finding::{Code, Finding, Severity, Verdict};
use crate::diagnose::{Diagnosis, verdict_of};

/// Findings decided by the rebound test: reported only at looks.
pub fn needs_test(finding: &Finding) -> bool {
    matches!(
        finding.code,
        Code::Rebound | Code::ReboundWithCollapse | Code::ComponentDivergence
    )
}

/// Findings decided at looks only: the rebound test's, and whether it had the power to decide.
pub fn decided_at_looks(finding: &Finding) -> bool {
    needs_test(finding) || finding.code == Code::InsufficientData
}

/// How the rows went back since the last look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// A restart replays steps from `key` on (a restart header, a newer event file).
    Replay { key: u64 },
    /// Every log is read again from its start (a rank file appeared with steps already merged,
    /// or one of several files was rewritten): the same run, merged again.
    Reread,
    /// A file was truncated, replaced or rewritten whole: when fewer rows come back, it holds
    /// another trajectory and what the looks established on the old rows is void.
    Replaced,
}

/// A cut and the rows there were before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WentBack {
    cut: Cut,
    rows_before: u64,
}

/// What the looks decided so far, and how the data changed since.
#[derive(Clone, Debug, Default)]
pub struct Standing {
    /// The look-decided findings of the last look on the current data; `None` before one.
    established: Option<Vec<Finding>>,
    /// Rows at the first look that judged the run (no `insufficient-data`).
    judged_rows: Option<u64>,
    /// The rows went back since the last look and are not back yet.
    went_back: Option<WentBack>,
    /// Rows before the data was voided (a file truncated or replaced), until the next look.
    voided_from: Option<u64>,
}

impl Standing {
    /// Records a cut: `rows_before` rows were merged before it.
    pub fn cut(&mut self, cut: Cut, rows_before: u64) {
        let merged = match (self.went_back, cut) {
            // A replacement wins over anything else; a replay keeps its earliest key.
            (Some(w), _) if w.cut == Cut::Replaced => w.cut,
            (
                Some(WentBack {
                    cut: Cut::Replay { key: a },
                    ..
                }),
                Cut::Replay { key: b },
            ) => Cut::Replay { key: a.min(b) },
            _ => cut,
        };
        let rows_before = self
            .went_back
            .map_or(rows_before, |w| w.rows_before.max(rows_before));
        self.went_back = Some(WentBack {
            cut: merged,
            rows_before,
        });
    }

    /// Settles the cuts since the last evaluation against the rows now; `true` when the data was
    /// voided (the caller starts the look grid over). Rows back at (or beyond) what there was
    /// before the cut settle it whatever the cut: a file rewritten whole with the same rows and
    /// more (Lightning's `metrics.csv`, `trainer_state.json`) is the same run.
    pub fn settle(&mut self, rows: u64) -> bool {
        let Some(w) = self.went_back else {
            return false;
        };
        if rows >= w.rows_before {
            self.went_back = None;
            return false;
        }
        if w.cut != Cut::Replaced {
            // A replay or a re-read on its way back: the last look's findings stand.
            return false;
        }
        self.went_back = None;
        self.established = None;
        self.judged_rows = None;
        self.voided_from = Some(w.rows_before);
        true
    }

    /// Restricts `diagnosis` to what this evaluation may report (see the module comment) and
    /// returns the note that says why the status is what it is, when it needs one. `step_of`
    /// turns a key into a global step; `next_look_rows` is where the next look happens.
    pub fn judge(
        &mut self,
        diagnosis: &mut Diagnosis,
        at_look: bool,
        rows: u64,
        next_look_rows: u64,
        step_of: impl Fn(u64) -> u64,
    ) -> Option<String> {
        let before: Vec<Code> = diagnosis.findings.iter().map(|f| f.code).collect();
        if at_look {
            let insufficient = diagnosis
                .findings
                .iter()
                .any(|f| f.code == Code::InsufficientData);
            if insufficient && self.judged_rows.is_some_and(|j| rows >= j) {
                diagnosis
                    .findings
                    .retain(|f| f.code != Code::InsufficientData);
            } else if !insufficient && self.judged_rows.is_none() {
                self.judged_rows = Some(rows);
            }
            self.established = Some(
                diagnosis
                    .findings
                    .iter()
                    .filter(|f| decided_at_looks(f))
                    .cloned()
                    .collect(),
            );
            self.voided_from = None;
            self.went_back = None;
        } else {
            diagnosis.findings.retain(|f| !decided_at_looks(f));
            if let Some(established) = &self.established {
                diagnosis.findings.extend(established.iter().cloned());
            }
        }
        let after: Vec<Code> = diagnosis.findings.iter().map(|f| f.code).collect();
        if after != before {
            diagnosis
                .findings
                .sort_by_key(|f| std::cmp::Reverse(f.severity));
            diagnosis.verdict = verdict_of(&diagnosis.findings);
            diagnosis.headline = headline_of(diagnosis.verdict, &diagnosis.findings, at_look);
        }
        let untested = self.established.is_none();
        if untested && diagnosis.verdict == Verdict::Healthy {
            diagnosis.verdict = Verdict::InsufficientData;
            diagnosis.headline = format!(
                "descending; rebound not yet tested (next look at {next_look_rows} rows, {rows} so far)"
            );
        }
        if untested {
            return Some(match self.voided_from {
                Some(before) => format!(
                    "log truncated or replaced ({before} rows before): {rows} rows since; rebound not yet tested (next look at {next_look_rows} rows)"
                ),
                None => format!("rebound not yet tested (first look at {next_look_rows} rows)"),
            });
        }
        let w = self.went_back?;
        Some(match w.cut {
            Cut::Replay { key } => format!(
                "restarted: replaying from step {} ({rows} of {} rows so far); the last look's findings stand until the replay passes them",
                step_of(key),
                w.rows_before
            ),
            Cut::Reread | Cut::Replaced => format!(
                "logs read again (a rank file appeared or a file was rewritten): {rows} of {} rows merged so far; the last look's findings stand meanwhile",
                w.rows_before
            ),
        })
    }
}

/// The verdict in one sentence once the findings were restricted.
fn headline_of(verdict: Verdict, findings: &[Finding], at_look: bool) -> String {
    match findings.iter().find(|f| f.severity >= Severity::Warning) {
        Some(f) => f.message.clone(),
        None if at_look => format!("{}: no warning or error found", verdict.as_str()),
        None => format!(
            "{}: nothing established so far (the rebound test runs at the next look)",
            verdict.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnosis(codes: &[(Code, Severity)]) -> Diagnosis {
        let findings: Vec<Finding> = codes
            .iter()
            .map(|(c, s)| Finding::new(*c, *s, c.as_str().to_string()))
            .collect();
        let mut d = crate::diagnose::diagnose(
            &crate::model::Run::default(),
            &crate::diagnose::AnalysisSettings::default(),
        );
        d.verdict = verdict_of(&findings);
        d.findings = findings;
        d
    }

    #[test]
    fn a_judged_run_does_not_fall_back_to_insufficient_data() {
        let mut s = Standing::default();
        let healthy = || diagnosis(&[(Code::Plateau, Severity::Info)]);
        let weak = || diagnosis(&[(Code::InsufficientData, Severity::Info)]);
        // Before the first look: untested, never healthy.
        let mut d = healthy();
        let note = s.judge(&mut d, false, 100, 200, |k| k);
        assert_eq!(d.verdict, Verdict::InsufficientData);
        assert!(note.is_some_and(|n| n.contains("not yet tested")));
        // The first look judges the run.
        let mut d = healthy();
        assert_eq!(s.judge(&mut d, true, 200, 250, |k| k), None);
        assert_eq!(d.verdict, Verdict::Healthy);
        // Between looks and at a later look, a lack of power at a smaller level is not a fall back.
        for at_look in [false, true] {
            let mut d = weak();
            s.judge(&mut d, at_look, 260, 313, |k| k);
            assert_eq!(d.verdict, Verdict::Healthy, "at look: {at_look}");
        }
        // A replay below the last look's rows keeps the verdict and says so.
        s.cut(Cut::Replay { key: 120 }, 260);
        assert!(!s.settle(150));
        let mut d = weak();
        let note = s.judge(&mut d, false, 150, 313, |k| k);
        assert_eq!(d.verdict, Verdict::Healthy);
        assert!(note.is_some_and(|n| n.contains("replaying from step 120")));
        // A file replaced by another run voids it: untested again, and said.
        s.cut(Cut::Replaced, 300);
        assert!(s.settle(20));
        let mut d = healthy();
        let note = s.judge(&mut d, false, 20, 200, |k| k);
        assert_eq!(d.verdict, Verdict::InsufficientData);
        assert!(note.is_some_and(|n| n.contains("truncated or replaced (300 rows before)")));
    }
}
