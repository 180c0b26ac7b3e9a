//! The data every stage shares: one run's series on a single global step axis, each with a role.
//!
//! Ingest builds a [`Run`], the analysis reads it, the renderers describe it; nobody reaches back.
//! Values are stored as `f32` (what training code logs; half the memory of `f64` on 10M-row runs)
//! aligned with the run's [`StepAxis`]. A step where a series has no value holds [`MISSING`], a NaN
//! with a private payload, so a *logged* `nan` (a real, reportable event) is never confused with
//! "nothing was logged here". Use [`Series::get`] / [`Series::points`] rather than reading the raw
//! vector. A finite value beyond the `f32` range is kept exactly beside the columns ([`wide`]):
//! [`Series::finite_points`] and [`Series::value`] give it back as its `f64`.

use serde::Serialize;

mod series;
pub mod wide;

pub use series::{KindRun, Series, SeriesSummary, StepAxis, ValueKind};
pub use wide::{narrow, widen};

const MISSING_BITS: u32 = 0x7fc0_0bad;

/// The largest step accepted: the statistics work on steps as `f64`, exact up to 2^53.
pub const MAX_STEP: u64 = 1 << 53;

/// Marks "no value at this step". Never produced by parsing or arithmetic.
pub const MISSING: f32 = f32::from_bits(MISSING_BITS);

/// True when `v` is the [`MISSING`] marker (not merely a NaN).
#[inline]
pub fn is_missing(v: f32) -> bool {
    v.to_bits() == MISSING_BITS
}

/// What a series means for the diagnosis, decided from its name (DESIGN §4) or by a flag.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The JEPA prediction loss (`loss-jepa`, `p`, `pred_loss`, ...).
    Jepa,
    /// A regularization / collapse monitor (`reg-loss`, `r`, `vc_loss`, `sigreg`, ...).
    Reg,
    /// The optimised total (`loss`).
    Total,
    /// Learning rate.
    Lr,
    /// Weight decay.
    Wd,
    /// Gradient norm of some parameter group.
    GradNorm,
    /// EMA momentum of the target encoder.
    Ema,
    /// Wall / GPU / data-loading times.
    Timing,
    /// Downstream metrics (probe accuracy, kNN, validation loss).
    Eval,
    /// Anything else that is numeric.
    #[default]
    Other,
}

impl Role {
    /// The name used in reports and the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Jepa => "jepa",
            Role::Reg => "reg",
            Role::Total => "total",
            Role::Lr => "lr",
            Role::Wd => "wd",
            Role::GradNorm => "grad_norm",
            Role::Ema => "ema",
            Role::Timing => "timing",
            Role::Eval => "eval",
            Role::Other => "other",
        }
    }
}

/// The input formats jepa-doctor reads (names are part of the JSON contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    /// V-JEPA `{tag}_r{rank}.csv`: epoch,itr,loss,loss-jepa,reg-loss,grad norms,timings.
    #[serde(rename = "vjepa-csv")]
    VjepaCsv,
    /// V-JEPA 2 `log_r{rank}.csv`: epoch,itr,loss and timings.
    #[serde(rename = "vjepa2-csv")]
    Vjepa2Csv,
    /// I-JEPA CSV: epoch,itr,loss,mask-A,mask-B,time (ms).
    #[serde(rename = "ijepa-csv")]
    IjepaCsv,
    /// Any other CSV or TSV with a step-like column.
    #[serde(rename = "csv")]
    Csv,
    /// JSON lines: one object per line.
    #[serde(rename = "jsonl")]
    Jsonl,
    /// One JSON document: an array of records, or an object holding one (trainer_state.json).
    #[serde(rename = "json")]
    Json,
    /// Console output of V-JEPA / V-JEPA 2 / I-JEPA training (`[epoch, itr] loss: ...`).
    #[serde(rename = "console-log")]
    ConsoleLog,
    /// TensorBoard event files (`events.out.tfevents.*`), a file or a log directory.
    #[serde(rename = "tensorboard")]
    Tensorboard,
    /// MLflow tracking store: the file store (`mlruns/`) or the SQLite `mlflow.db`.
    #[serde(rename = "mlflow")]
    Mlflow,
    /// Weights & Biases: the UI's CSV export (`Step`, `<run> - <metric>`).
    #[serde(rename = "wandb-csv")]
    WandbCsv,
    /// Weights & Biases offline run folder (`.wandb` transaction log).
    #[serde(rename = "wandb")]
    Wandb,
    /// fairseq / fairseq-hydra console log (`[train_inner][INFO] - {json}` lines).
    #[serde(rename = "fairseq-log")]
    FairseqLog,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::VjepaCsv => "vjepa-csv",
            Format::Vjepa2Csv => "vjepa2-csv",
            Format::IjepaCsv => "ijepa-csv",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::ConsoleLog => "console-log",
            Format::Tensorboard => "tensorboard",
            Format::Mlflow => "mlflow",
            Format::WandbCsv => "wandb-csv",
            Format::Wandb => "wandb",
            Format::FairseqLog => "fairseq-log",
        }
    }

    /// Formats written by the upstream JEPA training code, whose quirks we know.
    pub fn is_jepa_family(self) -> bool {
        matches!(
            self,
            Format::VjepaCsv | Format::Vjepa2Csv | Format::IjepaCsv | Format::ConsoleLog
        )
    }
}

/// A row that could not be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    pub source: String,
    /// 1-based line in the source (text formats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based position of the record in a JSON document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.record) {
            (Some(line), _) => write!(f, "{}:{}: {}", self.source, line, self.reason),
            (None, Some(record)) => {
                write!(f, "{}: record {}: {}", self.source, record, self.reason)
            }
            (None, None) => write!(f, "{}: {}", self.source, self.reason),
        }
    }
}

/// How many rows were seen and what became of them: `rows_read = rows_used + rows_skipped +
/// rows_replaced`, always.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RowAccount {
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_skipped: u64,
    pub rows_replaced: u64,
}

impl RowAccount {
    pub fn add(&mut self, other: &RowAccount) {
        self.rows_read += other.rows_read;
        self.rows_used += other.rows_used;
        self.rows_skipped += other.rows_skipped;
        self.rows_replaced += other.rows_replaced;
    }
    /// The accounting invariant.
    pub fn balances(&self) -> bool {
        self.rows_read == self.rows_used + self.rows_skipped + self.rows_replaced
    }
}

/// Where the iterations-per-epoch used for global steps came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpeSource {
    /// `--ipe` on the command line.
    Flag,
    /// `optimization.ipe` in the params YAML.
    Config,
    /// The log's own `iterations per epoch/dataest length: N/M` line.
    Log,
    /// Largest logged `itr` + 1 (an underestimate when not every iteration is logged).
    Inferred,
}

/// Iterations per epoch and where that number came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ipe {
    pub value: u64,
    pub source: IpeSource,
}

/// Disagreement between ranks on the primary loss (absolute units of that loss).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankSpread {
    pub series: String,
    /// Steps at which at least two ranks logged a finite value.
    pub steps_compared: u64,
    /// Median over those steps of (max - min) across ranks.
    #[serde(serialize_with = "serialize_reported")]
    pub median_range: f64,
    /// Largest (max - min) across ranks.
    #[serde(serialize_with = "serialize_reported")]
    pub max_range: f64,
    pub max_range_step: u64,
}

/// Rounds a derived statistic to 6 significant digits, within the precision of the `f32` values
/// logs hold, so reports do not show conversion noise (`0.2263300001` → `0.22633`).
pub fn round_reported(x: f64) -> f64 {
    if x.is_finite() && x != 0.0 {
        format!("{x:.5e}").parse().unwrap_or(x)
    } else {
        x
    }
}

/// Serde helper: an optional `f64` rounded with [`round_reported`] (`null` when absent or
/// non-finite).
pub fn serialize_reported_opt<S: serde::Serializer>(
    x: &Option<f64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) if v.is_finite() => s.serialize_f64(round_reported(*v)),
        _ => s.serialize_none(),
    }
}

/// Serde helper: an `f64` rounded with [`round_reported`].
pub fn serialize_reported<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_reported(*x))
}

/// What was read and how: the `input` section of the JSON contract.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InputSummary {
    pub sources: Vec<String>,
    pub format: String,
    #[serde(flatten)]
    pub rows: RowAccount,
    /// Alias of `rows_replaced` kept for the JSON contract's name.
    pub duplicates_replaced: u64,
    pub restarts: u64,
    pub ranks: u64,
    pub config: Option<String>,
    pub ipe: Option<Ipe>,
    pub rank_spread: Option<RankSpread>,
    /// Non-log lines of console logs, ignored by design.
    pub lines_ignored: u64,
    /// The first few skipped rows with their reasons.
    pub skipped: Vec<SkippedRow>,
    pub warnings: Vec<String>,
}

/// A cleaned run: every series on one global step axis.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub steps: StepAxis,
    pub series: Vec<Series>,
    pub input: InputSummary,
    pub params: Option<crate::params::RunParams>,
}

impl Run {
    /// The first series with `role`, in column order.
    pub fn first_with_role(&self, role: Role) -> Option<&Series> {
        self.series.iter().find(|s| s.role == role)
    }
    pub fn series_named(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }
    /// Iterations per epoch when known (for epoch ticks and schedules).
    pub fn ipe(&self) -> Option<u64> {
        self.input.ipe.map(|i| i.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_distinct_from_logged_nan() {
        assert!(is_missing(MISSING));
        assert!(!is_missing(f32::NAN));
        assert!(!is_missing(f32::NAN));
        assert!(!is_missing(f32::NAN + 1.0));
        assert!(!is_missing(0.0));
    }

    #[test]
    fn reported_rounding_removes_f32_noise() {
        assert_eq!(round_reported(0.009999990463256836), 0.00999999);
        assert_eq!(round_reported(0.2263300001), 0.22633);
        assert_eq!(round_reported(f64::from(0.82586f32)), 0.82586);
        assert_eq!(round_reported(123456789.0), 123457000.0);
        assert!(round_reported(f64::NAN).is_nan());
    }

    #[test]
    fn series_points_skip_missing_but_keep_nan() {
        let axis = StepAxis::from_sorted(vec![0, 1, 2, 3]);
        let series = Series {
            name: "x".into(),
            role: Role::Jepa,
            values: vec![1.0, MISSING, f32::NAN, 2.0],
            ..Series::default()
        };
        let points: Vec<_> = series.points(&axis).map(|(s, _)| s).collect();
        assert_eq!(points, vec![0, 2, 3]);
        let summary = series.summary(&axis);
        assert_eq!(summary.points, 3);
        assert_eq!(summary.non_finite, 1);
        assert_eq!(summary.first_step, Some(0));
        assert_eq!(summary.last_step, Some(3));
        assert_eq!(series.finite_points(&axis).count(), 2);
    }
}
