//! The labelled failure benchmark (issue 11): generated runs of every failure shape the doctor
//! must never call healthy — pinned collapse, slow collapse, transient collapse, never
//! descended, component divergence, periodic crashes — and the controls that must stay healthy
//! or a benign rebound (no false collapse). Prints the confusion table of verdicts per class and
//! each detector's recall and false-alarm rate (`cargo test --test failure_benchmark --
//! --nocapture`), and asserts them per class, so a regression in any one class fails.

mod common;

use std::collections::BTreeMap;

use common::failures::{Class, Instance, generate};
use jepa_doctor::diagnose::finding::{Code, Severity, Verdict};
use jepa_doctor::diagnose::rebound::RegTrend;
use jepa_doctor::diagnose::{AnalysisSettings, Diagnosis, diagnose};

/// Instances per class.
const PER_CLASS: u64 = 24;
/// Base seed (printed; `FAILURE_BENCHMARK_SEED` overrides it); instance `i` of class `c` uses
/// `base + 1000·c + i`.
const BASE: u64 = 0x11_2026;

fn base_seed() -> u64 {
    std::env::var("FAILURE_BENCHMARK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(BASE)
}

/// The detectors the benchmark scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Detector {
    Collapse,
    Transient,
    NoDescent,
    Divergence,
    Drops,
}

impl Detector {
    const ALL: [Detector; 5] = [
        Detector::Collapse,
        Detector::Transient,
        Detector::NoDescent,
        Detector::Divergence,
        Detector::Drops,
    ];
    fn label(self) -> &'static str {
        match self {
            Detector::Collapse => "collapse (error)",
            Detector::Transient => "transient collapse",
            Detector::NoDescent => "no-descent",
            Detector::Divergence => "component-divergence",
            Detector::Drops => "sudden-drop",
        }
    }
    fn fires(self, d: &Diagnosis) -> bool {
        let has = |code: Code, sev: Option<Severity>| {
            d.findings
                .iter()
                .any(|f| f.code == code && sev.is_none_or(|s| f.severity == s))
        };
        match self {
            Detector::Collapse => has(Code::Collapse, Some(Severity::Error)),
            Detector::Transient => has(Code::Collapse, Some(Severity::Warning)),
            Detector::NoDescent => has(Code::NoDescent, None),
            Detector::Divergence => has(Code::ComponentDivergence, None),
            Detector::Drops => has(Code::SuddenDrop, None),
        }
    }
    /// The detector a failure class is about.
    fn of(class: Class) -> Option<Detector> {
        match class {
            Class::PinnedCollapse | Class::SlowCollapse => Some(Detector::Collapse),
            Class::TransientCollapse => Some(Detector::Transient),
            Class::NeverDescended => Some(Detector::NoDescent),
            Class::ComponentDivergence => Some(Detector::Divergence),
            Class::PeriodicCrashes => Some(Detector::Drops),
            _ => None,
        }
    }
}

/// Whether the diagnosis tells the right story for the instance, class by class.
fn right(i: &Instance, d: &Diagnosis) -> Result<(), String> {
    let finding = |code: Code| d.findings.iter().find(|f| f.code == code);
    let verdict = d.verdict;
    let want = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    match i.class {
        Class::Healthy | Class::SpreadKept => want(verdict == Verdict::Healthy, "healthy"),
        Class::BenignRebound => want(verdict == Verdict::Rebound, "rebound"),
        Class::PinnedCollapse => {
            let f = finding(Code::Collapse).ok_or("a collapse finding")?;
            want(
                verdict == Verdict::Collapse
                    && f.evidence["kind"] == "pinned"
                    && (f.message.contains("prediction std ≈")
                        || f.message.contains("of its early")),
                "collapse, pinned, naming the level and the implied std",
            )
        }
        Class::SlowCollapse => {
            let f = finding(Code::Collapse).ok_or("a collapse finding")?;
            let alone = f.evidence["monitor"].is_null();
            want(
                verdict == Verdict::Collapse
                    && f.evidence["kind"] == "loss-level"
                    && alone == f.message.contains("inferred from the loss alone"),
                "collapse by the loss level (inferred from the loss alone without a monitor)",
            )
        }
        Class::TransientCollapse => {
            let f = finding(Code::Collapse).ok_or("a collapse finding")?;
            want(
                verdict == Verdict::Unstable
                    && f.severity == Severity::Warning
                    && f.message.contains("recovered at step")
                    && !d.transient_collapses.is_empty()
                    && burst_not_flat(d),
                "unstable, transient collapse warning, recovered, reg never flat",
            )
        }
        Class::NeverDescended => {
            let f = finding(Code::NoDescent).ok_or("a no-descent finding")?;
            let severity = if i.uniform_k.is_some() {
                Severity::Error
            } else {
                Severity::Warning
            };
            want(
                verdict == Verdict::Stalled
                    && f.severity == severity
                    && !d.headline.contains("descended from")
                    && i.uniform_k
                        .is_none_or(|k| f.evidence["uniform_classes"] == k),
                "stalled, no-descent (error at ln K, naming K)",
            )
        }
        Class::ComponentDivergence => {
            let f = finding(Code::ComponentDivergence).ok_or("a component-divergence finding")?;
            let rebounding = f.evidence["rebounding"].to_string();
            let falling = f.evidence["falling"].to_string();
            want(
                verdict == Verdict::Rebound
                    && rebounding.contains("a2a")
                    && rebounding.contains("v2v")
                    && falling.contains("a2v")
                    && falling.contains("v2a"),
                "rebound: a2a and v2v rebound, a2v and v2a keep falling",
            )
        }
        Class::PeriodicCrashes => {
            let f = finding(Code::SuddenDrop).ok_or("a sudden-drop finding")?;
            let count = f.evidence["count"].as_u64().unwrap_or(0) as usize;
            let truth = i.drop_steps.len();
            let period = f.evidence["period_steps"].as_f64();
            let true_period = i.period_steps.unwrap_or(0.0);
            want(
                verdict == Verdict::Unstable
                    && count.abs_diff(truth) <= 1
                    && period.is_some_and(|p| (p - true_period).abs() <= 0.2 * true_period)
                    && finding(Code::Plateau).is_none(),
                &format!(
                    "unstable, {truth} drops (got {count}), period {true_period:.0} (got {period:?}), no plateau"
                ),
            )
        }
    }
}

/// A burst inside the span after the minimum is never summarised as a flat reg trend.
fn burst_not_flat(d: &Diagnosis) -> bool {
    let overlaps = d.rebound.min_step.is_some_and(|m| {
        d.transient_collapses
            .iter()
            .any(|e| e.recovered_step.unwrap_or(e.last_step) >= m)
    });
    !overlaps || d.rebound.reg_trend_after_min == RegTrend::Burst
}

#[test]
fn failure_benchmark() {
    let base = base_seed();
    println!("failure benchmark: base seed {base}, {PER_CLASS} instances per class");
    let settings = AnalysisSettings::default();
    let mut verdicts: BTreeMap<Class, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let mut correct: BTreeMap<Class, usize> = BTreeMap::new();
    let mut fired: BTreeMap<(Class, Detector), usize> = BTreeMap::new();
    let mut misses: Vec<String> = Vec::new();
    for (c, class) in Class::ALL.into_iter().enumerate() {
        for k in 0..PER_CLASS {
            let seed = base + 1000 * c as u64 + k;
            let instance = generate(class, seed);
            let d = diagnose(&instance.run, &settings);
            *verdicts
                .entry(class)
                .or_default()
                .entry(d.verdict.as_str())
                .or_default() += 1;
            for det in Detector::ALL {
                if det.fires(&d) {
                    *fired.entry((class, det)).or_default() += 1;
                }
            }
            match right(&instance, &d) {
                Ok(()) => *correct.entry(class).or_default() += 1,
                Err(want) => misses.push(format!(
                    "  {} seed {seed}: wanted {want}; got {} — {}",
                    class.label(),
                    d.verdict.as_str(),
                    d.headline
                )),
            }
        }
    }

    let columns = [
        "healthy",
        "rebound",
        "unstable",
        "collapse",
        "stalled",
        "diverged",
        "insufficient-data",
    ];
    println!("\nverdicts per class (rows: truth)");
    print!("{:<22}", "class");
    for col in columns {
        print!("{:>10}", &col[..col.len().min(9)]);
    }
    println!("{:>10}", "right");
    for class in Class::ALL {
        print!("{:<22}", class.label());
        for col in columns {
            print!(
                "{:>10}",
                verdicts
                    .get(&class)
                    .and_then(|v| v.get(col))
                    .copied()
                    .unwrap_or(0)
            );
        }
        println!(
            "{:>10}",
            format!("{}/{PER_CLASS}", correct.get(&class).copied().unwrap_or(0))
        );
    }

    println!("\ndetectors: recall on their class, false alarms on the others");
    let mut rates: BTreeMap<Detector, (f64, f64)> = BTreeMap::new();
    for det in Detector::ALL {
        let (mut hit, mut pos, mut false_alarm, mut neg) = (0, 0, 0, 0);
        for class in Class::ALL {
            let n = fired.get(&(class, det)).copied().unwrap_or(0);
            if Detector::of(class) == Some(det) {
                hit += n;
                pos += PER_CLASS as usize;
            } else {
                false_alarm += n;
                neg += PER_CLASS as usize;
            }
        }
        let recall = hit as f64 / pos as f64;
        let fa = false_alarm as f64 / neg as f64;
        rates.insert(det, (recall, fa));
        println!(
            "  {:<22} recall {hit}/{pos} = {:.2}   false alarms {false_alarm}/{neg} = {:.3}",
            det.label(),
            recall,
            fa
        );
    }
    if !misses.is_empty() {
        println!("\nmisses:");
        for m in &misses {
            println!("{m}");
        }
    }

    // Controls: never a false collapse (of any severity), and the right verdict.
    for class in Class::ALL.into_iter().filter(|c| c.is_control()) {
        let false_collapse = fired
            .get(&(class, Detector::Collapse))
            .copied()
            .unwrap_or(0)
            + fired
                .get(&(class, Detector::Transient))
                .copied()
                .unwrap_or(0);
        assert_eq!(false_collapse, 0, "{}: a false collapse", class.label());
    }
    // Per class: the share of instances with the whole right story.
    let floor = |_: Class| 0.9;
    for class in Class::ALL {
        let share = correct.get(&class).copied().unwrap_or(0) as f64 / PER_CLASS as f64;
        assert!(
            share >= floor(class),
            "{}: right story on {share:.2} of the instances (< {})",
            class.label(),
            floor(class)
        );
    }
    // Per detector: recall on its class and false alarms elsewhere.
    for (det, (recall, fa)) in rates {
        assert!(recall >= 0.95, "{}: recall {recall:.2}", det.label());
        assert!(fa <= 0.02, "{}: false alarms {fa:.3}", det.label());
    }
}
