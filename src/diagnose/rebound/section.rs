//! The `rebound` section of the report (DESIGN §7) as data: what the detector ([`super`]) found,
//! the trend of the regularization series over the same span, where warmup ended, and the
//! calibrated test behind the p-value. Deciding is [`super::detect`]'s job; saying it in words is
//! `explain`'s.

use serde::Serialize;

use crate::model::serialize_reported_opt;

/// Direction of the regularization series after the minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegTrend {
    Falling,
    Flat,
    Rising,
    Absent,
    /// The monitor burst to collapse and recovered inside the span (set by the diagnosis from
    /// [`crate::diagnose::collapse`]): no single trend describes it.
    Burst,
}

impl RegTrend {
    pub fn as_str(self) -> &'static str {
        match self {
            RegTrend::Falling => "falling",
            RegTrend::Flat => "flat",
            RegTrend::Rising => "rising",
            RegTrend::Absent => "absent",
            RegTrend::Burst => "burst",
        }
    }
}

/// Whether the post-minimum test could reach the significance level at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    Adequate,
    /// Too few points after the minimum: the smallest attainable p-value exceeds alpha.
    Insufficient,
    /// Nothing to test (no minimum before the end, or too little data).
    NotApplicable,
}

/// The trend of the regularization series over the rebound span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegTrendDetail {
    pub series: String,
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub p_value: f64,
    /// Sen-slope change over the span, in the series' units.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub change: f64,
    /// The change that counts as a direction on this series' scale.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub change_threshold: f64,
    pub points: usize,
}

/// Where warmup ends and how that was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Warmup {
    pub end_step: u64,
    pub source: WarmupSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarmupSource {
    /// `--warmup-steps`.
    Flag,
    /// `optimization.warmup × ipe` from the params YAML.
    Config,
    /// Where the logged learning rate first reaches its peak.
    LrColumn,
    /// No information: the first 5% of the run.
    Default,
}

/// The `rebound` section of the report (DESIGN §7), with what led to the decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rebound {
    pub detected: bool,
    pub series: Option<String>,
    pub min_step: Option<u64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub min_value: Option<f64>,
    pub onset_step: Option<u64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub end_value: Option<f64>,
    /// Share of the descent given back: (end − min)/(start − min).
    #[serde(serialize_with = "serialize_reported_opt")]
    pub magnitude: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub p_value: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub slope_per_1k_steps: Option<f64>,
    pub reg_trend_after_min: RegTrend,
    /// Highest smoothed level before the minimum.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub start_value: Option<f64>,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub z: Option<f64>,
    /// Points (blocks) after the minimum that the trend test saw.
    pub points_after_min: usize,
    pub power: Power,
    #[serde(serialize_with = "serialize_reported_opt")]
    pub min_attainable_p: Option<f64>,
    pub last_step: Option<u64>,
    pub warmup: Option<Warmup>,
    pub reg: Option<RegTrendDetail>,
    /// Points per block of the analysis (1 = every point).
    pub block_size: usize,
    /// One sentence saying what was seen and why it is or is not a rebound.
    pub summary: String,
    /// Steps `[first, last]` around `min_step` whose smoothed level is within the noise of the
    /// minimum: the flat bottom, where checkpoints are worth probing.
    pub min_step_range: Option<[u64; 2]>,
    /// Checkpoint steps worth a downstream probe: across `min_step_range`, and the end.
    pub probe_steps: Vec<u64>,
    /// The post-descent plateau: the increasing isotonic fit of the smoothed loss at the minimum.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub plateau_value: Option<f64>,
    /// Peak-to-peak of the smoothed loss around that monotone fit after the minimum.
    #[serde(serialize_with = "serialize_reported_opt")]
    pub plateau_wander: Option<f64>,
    /// Where a persistent upward level shift happened, when the rise is a jump.
    pub jump_step: Option<u64>,
    /// How the p-value was computed.
    pub test: Option<RiseTestDetail>,
}

/// The calibrated test behind `p_value` (see [`crate::stats::persistence`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiseTestDetail {
    /// First step of the tested span (the selection gap after the minimum skipped).
    pub start_step: u64,
    /// Blocks tested.
    pub points: usize,
    /// Bias-corrected upper bound of the noise's AR(1) coefficient.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub ar1_upper: f64,
    /// Points per independent point, `(1 + φ)/(1 − φ)`.
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub correlation_length: f64,
    /// Mann–Kendall p-value (variance inflated for the persistence).
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub p_trend: f64,
    /// Pettitt level-shift p-value (inflated likewise).
    #[serde(serialize_with = "crate::model::serialize_reported")]
    pub p_shift: f64,
}

impl Rebound {
    /// The section when the run has no loss series at all.
    pub fn nothing_found() -> Rebound {
        Rebound::nothing(None, "no loss series found (name one with --jepa-col)")
    }

    pub(super) fn nothing(series: Option<&str>, summary: impl Into<String>) -> Rebound {
        Rebound {
            detected: false,
            series: series.map(str::to_string),
            min_step: None,
            min_value: None,
            onset_step: None,
            end_value: None,
            magnitude: None,
            p_value: None,
            slope_per_1k_steps: None,
            reg_trend_after_min: RegTrend::Absent,
            start_value: None,
            z: None,
            points_after_min: 0,
            power: Power::NotApplicable,
            min_attainable_p: None,
            last_step: None,
            warmup: None,
            reg: None,
            block_size: 0,
            summary: summary.into(),
            min_step_range: None,
            probe_steps: Vec::new(),
            plateau_value: None,
            plateau_wander: None,
            jump_step: None,
            test: None,
        }
    }
}
