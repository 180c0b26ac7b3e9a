//! `--rank-by`: the order of the runs, with the direction of each key stated.
//!
//! - `health` (default): healthiest first — fewer error findings, then fewer warnings, then
//!   runs with enough data before `insufficient-data` ones, then lower final JEPA loss. (A benign
//!   rebound and a stall both carry one warning; the lower final loss decides between them.)
//! - `min-loss` / `final-loss`: lower smoothed minimum / final JEPA loss first. The JEPA loss is a
//!   proxy whose targets move with the EMA encoder, so a lower loss is **not** a better model
//!   across different LR or EMA settings (a collapsed run has the lowest loss of all); the
//!   renderers say so whenever the ranking is by loss.
//! - `eval:NAME`: the best value of the downstream metric NAME; higher first unless the name
//!   says loss or error ([`crate::ingest::roles::higher_is_better`]).
//!
//! Runs without the ranked value come after the ranked ones (no rank); runs that could not be
//! analysed come last. Ties keep the order given.

use super::row::RunRow;
use crate::diagnose::finding::{Severity, Verdict};
use crate::error::UsageError;
use crate::ingest::roles::higher_is_better;

/// The ranking key.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum RankBy {
    #[default]
    Health,
    MinLoss,
    FinalLoss,
    /// A downstream metric (`eval` series) by name.
    Eval(String),
}

impl RankBy {
    /// Parses `health`, `min-loss`, `final-loss` or `eval:NAME` (clap value parser).
    pub fn parse(text: &str) -> Result<RankBy, String> {
        match text {
            "health" => Ok(RankBy::Health),
            "min-loss" => Ok(RankBy::MinLoss),
            "final-loss" => Ok(RankBy::FinalLoss),
            _ => match text.strip_prefix("eval:") {
                Some(name) if !name.is_empty() => Ok(RankBy::Eval(name.to_string())),
                _ => Err(format!(
                    "'{text}' is not a ranking; use health, min-loss, final-loss or eval:NAME"
                )),
            },
        }
    }

    /// The name as typed (`eval:probe_acc`).
    pub fn name(&self) -> String {
        match self {
            RankBy::Health => "health".into(),
            RankBy::MinLoss => "min-loss".into(),
            RankBy::FinalLoss => "final-loss".into(),
            RankBy::Eval(n) => format!("eval:{n}"),
        }
    }

    /// The direction of the key, in words.
    pub fn direction(&self) -> String {
        match self {
            RankBy::Health => "healthiest first: fewer error findings, then fewer warnings, \
                               then lower final JEPA loss"
                .into(),
            RankBy::MinLoss => "lower minimum JEPA loss (smoothed) first".into(),
            RankBy::FinalLoss => "lower final JEPA loss (smoothed) first".into(),
            RankBy::Eval(n) if higher_is_better(n) => format!("higher best {n} first"),
            RankBy::Eval(n) => format!("lower best {n} first (its name says loss/error)"),
        }
    }

    /// The warning that goes with a ranking by loss.
    pub fn caveat(&self) -> Option<&'static str> {
        matches!(self, RankBy::MinLoss | RankBy::FinalLoss).then_some(
            "the JEPA loss is a proxy (its targets move with the EMA encoder): a lower loss is not \
             a better model across different LR / EMA settings, and a collapsed run has the lowest \
             loss of all; judge by downstream probes (--rank-by eval:NAME) or health",
        )
    }
}

/// `--rank-by=eval:NAME` must name a downstream metric that at least one analysed run logged;
/// otherwise every run would go unranked without a word. The error names the `eval` series the
/// runs do have (with how many runs have each), or says that none has any. Other keys, and a
/// comparison where no run could be analysed (its rows say why), pass.
///
/// # Errors
/// A [`UsageError`] (exit 2) naming NAME and the metrics that exist.
pub fn check_key(rows: &[RunRow], by: &RankBy) -> Result<(), UsageError> {
    let RankBy::Eval(name) = by else {
        return Ok(());
    };
    let analysed: Vec<&RunRow> = rows.iter().filter(|r| r.error.is_none()).collect();
    if analysed.is_empty() || analysed.iter().any(|r| r.eval_named(name).is_some()) {
        return Ok(());
    }
    // Each metric once, in the order first met, with the number of runs that have it.
    let mut metrics: Vec<(&str, usize)> = Vec::new();
    for e in analysed.iter().flat_map(|r| &r.eval) {
        match metrics.iter_mut().find(|(m, _)| *m == e.series) {
            Some((_, n)) => *n += 1,
            None => metrics.push((&e.series, 1)),
        }
    }
    let have = if metrics.is_empty() {
        "none of the runs has a downstream metric (an eval series: probe, kNN, accuracy, a validation metric); rank by health, min-loss or final-loss".to_string()
    } else {
        let runs = analysed.len();
        let listed: Vec<String> = metrics
            .iter()
            .map(|(m, n)| format!("{m} ({n} of {runs} runs)"))
            .collect();
        format!(
            "the eval series these runs have: {}; rank by one of them (--rank-by=eval:{})",
            listed.join(", "),
            metrics[0].0
        )
    };
    Err(UsageError(format!(
        "--rank-by=eval:{name}: no run has an eval series named {name}; {have}"
    )))
}

/// What a row is sorted by (lower first) and the value to report as `rank_value`.
type Key = (Vec<f64>, Option<f64>);

/// The ranked value of a row (lower sorts first), and the value to report.
fn key(row: &RunRow, by: &RankBy) -> Option<Key> {
    match by {
        RankBy::Health => {
            let count = |level| row.findings_at_least(level).count() as f64;
            let errors = count(Severity::Error);
            let warnings = count(Severity::Warning) - errors;
            let final_loss = row.final_loss.unwrap_or(f64::INFINITY);
            let thin = f64::from(u8::from(
                row.verdict_level() == Some(Verdict::InsufficientData),
            ));
            Some((vec![errors, warnings, thin, final_loss], None))
        }
        RankBy::MinLoss => row.min_loss.map(|v| (vec![v], Some(v))),
        RankBy::FinalLoss => row.final_loss.map(|v| (vec![v], Some(v))),
        RankBy::Eval(name) => {
            let e = row.eval_named(name)?;
            let sign = if e.higher_is_better { -1.0 } else { 1.0 };
            Some((vec![sign * e.best], Some(e.best)))
        }
    }
}

/// Sorts `rows` by `by` and numbers the ranked ones from 1.
pub fn rank(rows: &mut Vec<RunRow>, by: &RankBy) {
    let mut keyed: Vec<(usize, Option<Key>, RunRow)> = rows
        .drain(..)
        .enumerate()
        .map(|(i, r)| {
            let k = if r.error.is_none() { key(&r, by) } else { None };
            (i, k, r)
        })
        .collect();
    // Ranked (by key), then analysed without the value, then failed; each in the order given.
    let class = |k: &Option<Key>, r: &RunRow| match (k, &r.error) {
        (Some(_), _) => 0,
        (None, None) => 1,
        (None, Some(_)) => 2,
    };
    keyed.sort_by(|a, b| {
        class(&a.1, &a.2).cmp(&class(&b.1, &b.2)).then_with(|| {
            match (&a.1, &b.1) {
                (Some((ka, _)), Some((kb, _))) => ka
                    .iter()
                    .zip(kb)
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal),
                _ => std::cmp::Ordering::Equal,
            }
            .then(a.0.cmp(&b.0))
        })
    });
    let mut next = 1;
    for (_, k, mut r) in keyed {
        if let Some((_, value)) = k {
            r.rank = Some(next);
            r.rank_value = value;
            next += 1;
        }
        rows.push(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::row::FindingBrief;
    use crate::compare::setup::EvalBest;

    fn row(name: &str, verdict: &str, final_loss: f64, findings: &[(&str, &str)]) -> RunRow {
        RunRow {
            name: name.into(),
            verdict: Some(verdict.into()),
            final_loss: Some(final_loss),
            min_loss: Some(final_loss / 2.0),
            findings: findings
                .iter()
                .map(|(c, s)| FindingBrief {
                    code: c.to_string(),
                    severity: s.to_string(),
                })
                .collect(),
            ..RunRow::default()
        }
    }

    #[test]
    fn health_puts_the_healthy_run_first_and_failures_last() {
        let mut rows = vec![
            RunRow::failed("broken", vec![], "unreadable".into()),
            row("collapsed", "collapse", 0.01, &[("collapse", "error")]),
            row("rebound", "rebound", 0.5, &[("rebound", "warning")]),
            row("healthy-b", "healthy", 0.4, &[("plateau", "info")]),
            row("healthy-a", "healthy", 0.3, &[]),
        ];
        rank(&mut rows, &RankBy::Health);
        let order: Vec<(&str, Option<usize>)> =
            rows.iter().map(|r| (r.name.as_str(), r.rank)).collect();
        assert_eq!(
            order,
            [
                ("healthy-a", Some(1)),
                ("healthy-b", Some(2)),
                ("rebound", Some(3)),
                ("collapsed", Some(4)),
                ("broken", None)
            ]
        );
    }

    #[test]
    fn loss_ranks_the_collapsed_run_first_which_is_why_it_carries_a_caveat() {
        let mut rows = vec![
            row("healthy", "healthy", 0.3, &[]),
            row("collapsed", "collapse", 0.01, &[("collapse", "error")]),
        ];
        rank(&mut rows, &RankBy::MinLoss);
        assert_eq!(rows[0].name, "collapsed");
        assert_eq!(rows[0].rank_value, Some(0.005));
        assert!(RankBy::MinLoss.caveat().is_some() && RankBy::Health.caveat().is_none());
    }

    #[test]
    fn eval_direction_follows_the_metric_name() -> Result<(), String> {
        let with_eval = |name: &str, metric: &str, best: f64| {
            let mut r = row(name, "healthy", 0.3, &[]);
            r.eval = vec![EvalBest {
                series: metric.into(),
                higher_is_better: higher_is_better(metric),
                best,
                best_step: 10,
                last: best,
                last_step: 10,
            }];
            r
        };
        let mut rows = vec![
            with_eval("a", "probe_acc", 0.6),
            with_eval("b", "probe_acc", 0.7),
            row("no-metric", "healthy", 0.1, &[]),
        ];
        rank(&mut rows, &RankBy::parse("eval:probe_acc")?);
        assert_eq!(rows[0].name, "b");
        assert_eq!(rows[2].rank, None);
        let mut rows = vec![
            with_eval("a", "val_loss", 0.6),
            with_eval("b", "val_loss", 0.7),
        ];
        rank(&mut rows, &RankBy::parse("eval:val_loss")?);
        assert_eq!(rows[0].name, "a");
        assert!(RankBy::parse("eval:").is_err() && RankBy::parse("loss").is_err());
        Ok(())
    }
}
