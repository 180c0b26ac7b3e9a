//! The comparison as a table of text cells, shared by the text and Markdown renderers: one row
//! per run, the fixed columns of issue 15, one column per downstream metric and one per
//! hyperparameter that differs between the runs.

use serde_json::Value;

use crate::compare::Comparison;
use crate::compare::config_diff::short_names;
use crate::compare::row::RunRow;
use crate::diagnose::finding::{Severity, Verdict};
use crate::human;

/// Headers and cells; `verdicts[i]` colours row `i` in a terminal.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub verdicts: Vec<Option<Verdict>>,
}

/// Downstream metrics shown as columns: the names seen, in order, at most 3.
fn eval_names(c: &Comparison) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in &c.runs {
        for e in &r.eval {
            if !names.contains(&e.series) && names.len() < 3 {
                names.push(e.series.clone());
            }
        }
    }
    names
}

/// The table of a comparison.
pub fn table(c: &Comparison) -> Table {
    let evals = eval_names(c);
    let mut headers: Vec<String> = [
        "#",
        "run",
        "verdict",
        "min loss @ step",
        "final loss",
        "rebound",
        "reg trend",
        "findings ≥ warning",
        "peak LR",
        "warmup steps",
        "EMA",
    ]
    .map(String::from)
    .to_vec();
    headers.extend(evals.iter().map(|e| format!("best {e}")));
    let diff = diff_columns(c);
    headers.extend(short_names(&diff));
    let rows = c.runs.iter().map(|r| cells(r, &evals, c)).collect();
    let verdicts = c.runs.iter().map(RunRow::verdict_level).collect();
    Table {
        headers,
        rows,
        verdicts,
    }
}

/// The differing settings that get a column: all but the peak LR and the EMA momentum
/// (`…lr`, `…ema`), which the fixed columns already show for every run.
fn diff_columns(c: &Comparison) -> Vec<String> {
    c.config_diff
        .iter()
        .filter(|k| !matches!(k.rsplit('.').next(), Some("lr" | "ema")))
        .cloned()
        .collect()
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), human::value)
}

fn cells(r: &RunRow, evals: &[String], c: &Comparison) -> Vec<String> {
    let rank = r.rank.map_or_else(|| "–".into(), |n| n.to_string());
    if r.error.is_some() {
        let mut row = vec![rank, r.name.clone(), "not analysed".into()];
        row.resize(11 + evals.len() + diff_columns(c).len(), String::new());
        return row;
    }
    let min = match (r.min_loss, r.min_step) {
        (Some(v), Some(s)) => format!("{} @ {s}", human::value(v)),
        (v, _) => opt(v),
    };
    let rebound = if r.rebound_detected() {
        format!(
            "+{} ({})",
            human::percent(r.rebound_number("magnitude").unwrap_or(0.0)),
            human::p_eq(r.rebound_number("p_value").unwrap_or(1.0))
        )
    } else {
        "no".into()
    };
    let mut codes: Vec<&str> = Vec::new();
    for f in r.findings_at_least(Severity::Warning) {
        if !codes.contains(&f.code.as_str()) {
            codes.push(&f.code);
        }
    }
    let ema = match (r.ema_start, r.ema_end) {
        (Some(a), Some(b)) if a == b => human::value(a),
        (Some(a), Some(b)) => format!("{}→{}", human::value(a), human::value(b)),
        _ => "–".into(),
    };
    let mut row = vec![
        rank,
        r.name.clone(),
        r.verdict.clone().unwrap_or_default(),
        min,
        opt(r.final_loss),
        rebound,
        // `absent`: no reg series, or no span after the minimum to test.
        match r.reg_trend.as_deref() {
            None | Some("absent") => "–".into(),
            Some(t) => t.to_string(),
        },
        if codes.is_empty() {
            "–".into()
        } else {
            codes.join(", ")
        },
        r.peak_lr.map_or_else(|| "–".into(), human::sci),
        r.warmup_end_step
            .map_or_else(|| "–".into(), |s| s.to_string()),
        ema,
    ];
    for name in evals {
        row.push(r.eval_named(name).map_or_else(
            || "–".into(),
            |e| format!("{} @ {}", human::value(e.best), e.best_step),
        ));
    }
    for key in &diff_columns(c) {
        row.push(r.config.get(key).map_or_else(|| "–".into(), setting));
    }
    row
}

/// A config value in a cell: numbers as the report formats them, lists in brackets.
fn setting(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        // Learning rates and other small settings in scientific notation, the rest as written.
        Value::Number(n) => match n.as_f64() {
            Some(x) if x != 0.0 && x.abs() < 1e-2 => human::sci(x),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(setting).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}
