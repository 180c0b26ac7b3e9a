//! Which series the diagnosis reads: the JEPA loss (the `jepa` role, else the total; a
//! multi-term loss through its logged total), the collapse monitor read with it, and the refusal
//! (exit 2) of a run with nothing to analyse — no loss column recognised, or loss columns without
//! one finite value ("no usable loss": a logging fault, not a divergence, DESIGN §2 and §6).

use crate::error::IngestError;
use crate::model::{Role, Run, Series, ValueKind};

/// The series analysed as the JEPA loss: the `jepa` role, else the total loss; with several
/// `jepa` components (a multi-term loss) their logged total when there is one. A loss column
/// without one finite value (a logging fault) is passed over for one that has values; when no
/// loss has any, the first as the rule picks it ([`require_loss`] refuses that run).
pub fn jepa_series(run: &Run) -> Option<&Series> {
    pick_loss(run, has_finite).or_else(|| pick_loss(run, |_| true))
}

/// The rule of [`jepa_series`] among the series that are `usable`.
fn pick_loss(run: &Run, usable: fn(&Series) -> bool) -> Option<&Series> {
    let with = |role: Role| run.series.iter().find(|s| s.role == role && usable(s));
    let components = (run.series.iter())
        .filter(|s| s.role == Role::Jepa && usable(s))
        .count();
    if components >= 2
        && let Some(total) = with(Role::Total)
    {
        return Some(total);
    }
    with(Role::Jepa).or_else(|| with(Role::Total))
}

/// Whether `series` holds at least one finite value (stops at the first).
pub fn has_finite(series: &Series) -> bool {
    if series.has_values() {
        series.values.iter().any(|v| v.is_finite())
    } else {
        (series.kinds.iter()).any(|r| r.kind == ValueKind::Finite)
    }
}

/// The collapse monitor read with the JEPA loss: a hinge monitor (`reg-loss`, `std_loss`) first,
/// else a spread monitor of the predictions (`pred_var`, `pred_std`), else any `reg` series.
pub fn reg_series(run: &Run) -> Option<&Series> {
    let regs = || run.series.iter().filter(|s| s.role == Role::Reg);
    let spread = |s: &&Series| crate::ingest::roles::higher_means_spread(&s.name);
    regs()
        .find(|s| !spread(s))
        .or_else(|| regs().find(|s| spread(s) && s.name.to_lowercase().contains("pred")))
        .or_else(|| regs().next())
}

/// An error (exit 2) when no column can be analysed as the loss, or when no loss column has a
/// finite value.
pub fn require_loss(run: &Run) -> Result<(), IngestError> {
    if jepa_series(run).is_some() {
        return require_finite_loss(run);
    }
    /// Column names quoted in the message; a wide log's list is cut (the count is given).
    const SHOWN_COLUMNS: usize = 20;
    let columns: Vec<&str> = run.series.iter().map(|s| s.name.as_str()).collect();
    let listed = match columns.len() {
        0 => "(none)".to_string(),
        n if n <= SHOWN_COLUMNS => columns.join(", "),
        n => format!("{}, … ({n} in all)", columns[..SHOWN_COLUMNS].join(", ")),
    };
    Err(IngestError::unusable(
        &run.input.sources.join(", "),
        format!(
            "no loss column recognised; columns are {listed}; name one with --jepa-col / --loss-col"
        ),
    ))
}

/// An error (exit 2) when no loss column has a single finite value: there is no usable loss.
/// Such a run did not diverge (a run that diverges is finite first); its loss was never
/// computed or never recorded correctly, so there is nothing to diagnose.
fn require_finite_loss(run: &Run) -> Result<(), IngestError> {
    let losses: Vec<&Series> = (run.series.iter())
        .filter(|s| matches!(s.role, Role::Jepa | Role::Total))
        .collect();
    if losses.iter().any(|s| has_finite(s)) {
        return Ok(());
    }
    let described: Vec<String> = losses
        .iter()
        .map(|s| {
            let summary = s.summary(&run.steps);
            let kind = match s.first_non_finite(&run.steps).map(|(_, k)| k) {
                Some(ValueKind::PosInf) => "inf",
                Some(ValueKind::NegInf) => "-inf",
                _ => "nan",
            };
            match summary.points {
                0 => format!("{} has no value", s.name),
                1 => format!("{} is {kind} at its one logged point", s.name),
                n => format!("{} is {kind} at all {n} logged points", s.name),
            }
        })
        .collect();
    Err(IngestError::unusable(
        &run.input.sources.join(", "),
        format!(
            "no usable loss: {} — not one finite value, so the run did not diverge (a diverging run is finite first): its loss was never computed or never written correctly; check what the training code logs to {}",
            described.join(", "),
            if losses.len() == 1 {
                "this column"
            } else {
                "these columns"
            }
        ),
    ))
}
