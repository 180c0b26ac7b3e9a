//! Findings, severities and verdicts: the vocabulary of the diagnosis (DESIGN §6). Codes and
//! verdict names are part of the JSON contract.

use serde::Serialize;
use serde_json::Value;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// What a finding is about (DESIGN §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    Rebound,
    ReboundWithCollapse,
    Collapse,
    SuddenDrop,
    Spikes,
    NonFinite,
    /// A finite loss beyond the `f32` range: diverged by level.
    LossOverflow,
    Plateau,
    SlowDescent,
    LrTooLow,
    NoWarmup,
    NoDecay,
    ConfigSmell,
    InsufficientData,
    NoDescent,
    ComponentDivergence,
    /// (`watch`) the log stopped growing for longer than expected.
    StalledLog,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Rebound => "rebound",
            Code::ReboundWithCollapse => "rebound-with-collapse",
            Code::Collapse => "collapse",
            Code::SuddenDrop => "sudden-drop",
            Code::Spikes => "spikes",
            Code::NonFinite => "non-finite",
            Code::LossOverflow => "loss-overflow",
            Code::Plateau => "plateau",
            Code::SlowDescent => "slow-descent",
            Code::LrTooLow => "lr-too-low",
            Code::NoWarmup => "no-warmup",
            Code::NoDecay => "no-decay",
            Code::ConfigSmell => "config-smell",
            Code::InsufficientData => "insufficient-data",
            Code::NoDescent => "no-descent",
            Code::ComponentDivergence => "component-divergence",
            Code::StalledLog => "stalled-log",
        }
    }
}

/// One thing the doctor noticed, with its evidence and what to try.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub series: Option<String>,
    pub step_start: Option<u64>,
    pub step_end: Option<u64>,
    /// One line.
    pub message: String,
    /// Numbers behind the finding (an object).
    pub evidence: Value,
    pub recommendations: Vec<String>,
    /// How the conclusion was reached (shown with `--explain`).
    pub reasoning: Vec<String>,
}

impl Finding {
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity,
            series: None,
            step_start: None,
            step_end: None,
            message: message.into(),
            evidence: Value::Object(Default::default()),
            recommendations: Vec::new(),
            reasoning: Vec::new(),
        }
    }
    pub fn series(mut self, name: &str) -> Finding {
        self.series = Some(name.to_string());
        self
    }
    pub fn steps(mut self, start: Option<u64>, end: Option<u64>) -> Finding {
        self.step_start = start;
        self.step_end = end;
        self
    }
    pub fn evidence(mut self, evidence: Value) -> Finding {
        self.evidence = evidence;
        self
    }
    pub fn because(mut self, reason: impl Into<String>) -> Finding {
        self.reasoning.push(reason.into());
        self
    }
}

/// The one story of a run, the most severe that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Healthy,
    InsufficientData,
    Stalled,
    Rebound,
    Unstable,
    Collapse,
    Diverged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::InsufficientData => "insufficient-data",
            Verdict::Stalled => "stalled",
            Verdict::Rebound => "rebound",
            Verdict::Unstable => "unstable",
            Verdict::Collapse => "collapse",
            Verdict::Diverged => "diverged",
        }
    }

    /// The severity the verdict's story carries into the gate (DESIGN §6: a verdict is never
    /// less severe than its worst finding, and `--fail-on` sees it): diverged and collapse are
    /// errors; unstable, rebound and stalled warnings; healthy and insufficient data nothing.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Verdict::Diverged | Verdict::Collapse => Some(Severity::Error),
            Verdict::Unstable | Verdict::Rebound | Verdict::Stalled => Some(Severity::Warning),
            Verdict::Healthy | Verdict::InsufficientData => None,
        }
    }
}

/// `--fail-on`: the least that makes the exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Always exit 0 after analysing.
    Never,
    /// A rebound of any kind, or any error.
    Rebound,
    /// Any warning or error.
    Warning,
    /// Any error (the default).
    #[default]
    Error,
}

impl FailOn {
    /// Whether `finding` trips the gate.
    pub fn trips(self, finding: &Finding) -> bool {
        self.trips_named(finding.code.as_str(), finding.severity)
    }

    /// Whether a finding with this code (as named in the JSON contract) and severity trips the
    /// gate: `compare` judges saved reports, whose codes may be newer than this build.
    pub fn trips_named(self, code: &str, severity: Severity) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Error => severity == Severity::Error,
            FailOn::Warning => severity >= Severity::Warning,
            FailOn::Rebound => {
                severity == Severity::Error
                    || code == Code::Rebound.as_str()
                    || code == Code::ReboundWithCollapse.as_str()
            }
        }
    }

    /// Whether the verdict itself trips the gate: `error` on diverged / collapse, `warning` on
    /// any verdict carrying a warning, `rebound` on a rebound or anything worse than one
    /// (unstable, collapse, diverged).
    pub fn trips_verdict(self, verdict: Verdict) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Error => verdict.severity() == Some(Severity::Error),
            FailOn::Warning => verdict.severity() >= Some(Severity::Warning),
            FailOn::Rebound => verdict >= Verdict::Rebound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_levels() {
        let rebound = Finding::new(Code::Rebound, Severity::Warning, "");
        let spikes = Finding::new(Code::Spikes, Severity::Warning, "");
        let collapse = Finding::new(Code::Collapse, Severity::Error, "");
        let plateau = Finding::new(Code::Plateau, Severity::Info, "");
        for f in [&rebound, &spikes, &collapse, &plateau] {
            assert!(!FailOn::Never.trips(f));
        }
        assert!(FailOn::Rebound.trips(&rebound) && !FailOn::Rebound.trips(&spikes));
        assert!(FailOn::Rebound.trips(&collapse));
        assert!(FailOn::Warning.trips(&spikes) && !FailOn::Warning.trips(&plateau));
        assert!(FailOn::Error.trips(&collapse) && !FailOn::Error.trips(&rebound));
    }

    #[test]
    fn the_gate_follows_the_verdict() {
        assert!(FailOn::Rebound.trips_verdict(Verdict::Unstable));
        assert!(FailOn::Rebound.trips_verdict(Verdict::Rebound));
        assert!(!FailOn::Rebound.trips_verdict(Verdict::Stalled));
        assert!(FailOn::Warning.trips_verdict(Verdict::Unstable));
        assert!(FailOn::Warning.trips_verdict(Verdict::Stalled));
        assert!(!FailOn::Warning.trips_verdict(Verdict::Healthy));
        assert!(FailOn::Error.trips_verdict(Verdict::Collapse));
        assert!(FailOn::Error.trips_verdict(Verdict::Diverged));
        assert!(!FailOn::Error.trips_verdict(Verdict::Unstable));
        for v in [Verdict::Collapse, Verdict::Diverged, Verdict::Unstable] {
            assert!(!FailOn::Never.trips_verdict(v));
        }
    }

    #[test]
    fn codes_serialize_as_in_the_contract() -> Result<(), Box<dyn std::error::Error>> {
        let json = serde_json::to_string(&Code::ReboundWithCollapse)?;
        assert_eq!(json, "\"rebound-with-collapse\"");
        assert_eq!(
            serde_json::to_string(&Verdict::InsufficientData)?,
            "\"insufficient-data\""
        );
        assert_eq!(Code::LrTooLow.as_str(), "lr-too-low");
        Ok(())
    }
}
