//! The rebound detector on labelled synthetic runs (known truth), printed as a confusion table:
//! `cargo test --test rebound_benchmark -- --nocapture`.

mod common;

use common::synth::{Noise, Shape, Spec, Synth, generate, random_noise, to_run};
use jepa_doctor::diagnose::rebound::{Power, ReboundSettings, Warmup, WarmupSource, detect};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[derive(Default, Clone)]
struct Tally {
    cases: usize,
    detected: usize,
    undecided: usize,
}

struct Outcome {
    category: String,
    synth: Synth,
    detected: bool,
    undecided: bool,
    min_step: Option<u64>,
    summary: String,
}

/// The master seed: fixed so a failure is reproducible, printed by the test;
/// `JEPA_DOCTOR_BENCH_SEED` explores others (the committed numbers use the default).
fn master_seed() -> u64 {
    std::env::var("JEPA_DOCTOR_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127)
}

fn specs() -> Vec<(String, Spec)> {
    let mut rng = StdRng::seed_from_u64(master_seed());
    let mut out = Vec::new();
    // Every run draws its own seed from the master generator.
    let next = |rng: &mut StdRng, shape: Shape, category: String, spikes: bool| {
        let n = [300, 1500, 6000][rng.random_range(0..3)];
        let spec = Spec {
            shape,
            noise: random_noise(rng),
            n,
            spikes,
            warmup_known: rng.random_bool(0.5),
            reg_rising: false,
            seed: rng.random(),
        };
        (category, spec)
    };
    for magnitude in [0.05, 0.1, 0.2, 0.4, 0.6] {
        for k in 0..48 {
            let shape = Shape::Rebound {
                t_min: [0.25, 0.4, 0.55, 0.7][k % 4],
                magnitude,
                sharp: k % 2 == 0,
                concave: k % 3 == 0,
            };
            out.push(next(
                &mut rng,
                shape,
                format!("rebound {:>2.0}%", magnitude * 100.0),
                k % 6 == 5,
            ));
        }
    }
    for k in 0..80 {
        // Half the descent given back within a few dozen steps, mid-run; or a late ~10% jump
        // that persists to the end.
        let (shape, category) = if k % 2 == 0 {
            let t_min = rng.random_range(0.2..0.35);
            (
                Shape::Jump {
                    t_min,
                    t_jump: rng.random_range(t_min + 0.1..0.7),
                    size: rng.random_range(0.4..0.6),
                    width: 0.0,
                },
                "jump half",
            )
        } else {
            (
                Shape::Jump {
                    t_min: rng.random_range(0.2..0.4),
                    t_jump: rng.random_range(0.8..0.88),
                    size: rng.random_range(0.1..0.15),
                    width: 0.0,
                },
                "jump late 10%",
            )
        };
        let (category, mut spec) = next(&mut rng, shape, category.into(), false);
        if let Shape::Jump { width, .. } = &mut spec.shape {
            // 20–60 steps wide, whatever the run length.
            *width = rng.random_range(20.0..60.0) / spec.n as f64;
        }
        out.push((category, spec));
    }
    for _ in 0..80 {
        let tau = rng.random_range(0.15..0.35);
        out.push(next(
            &mut rng,
            Shape::Healthy { tau },
            "healthy descent".into(),
            false,
        ));
    }
    for _ in 0..80 {
        let tau = rng.random_range(0.02..0.06);
        out.push(next(
            &mut rng,
            Shape::Plateau { tau },
            "plateau".into(),
            false,
        ));
    }
    for _ in 0..60 {
        let shape = Shape::Wander {
            cycles: rng.random_range(2.0..4.0),
            pp: rng.random_range(0.04..0.07),
            phase: rng.random_range(0.0..std::f64::consts::TAU),
        };
        out.push(next(&mut rng, shape, "wandering plateau".into(), false));
    }
    for _ in 0..80 {
        let shape = Shape::WarmupRise {
            end: rng.random_range(0.02..0.1),
            rise: rng.random_range(0.1..0.4),
            tau: rng.random_range(0.03..0.15),
        };
        out.push(next(&mut rng, shape, "warmup rise".into(), false));
    }
    for _ in 0..40 {
        let tau = rng.random_range(0.03..0.3);
        out.push(next(
            &mut rng,
            Shape::Healthy { tau },
            "spiky healthy".into(),
            true,
        ));
    }
    for _ in 0..40 {
        let t_c = rng.random_range(0.4..0.8);
        out.push(next(
            &mut rng,
            Shape::Collapse { t_c },
            "collapse".into(),
            false,
        ));
    }
    out
}

fn run_case(category: String, spec: Spec) -> Outcome {
    let synth = generate(spec);
    let run = to_run(&synth);
    let warmup = synth.warmup_end.map(|end_step| Warmup {
        end_step,
        source: WarmupSource::Config,
    });
    let (rebound, _, _) = detect(
        &run.series[0],
        Some(&run.series[1]),
        &run.steps,
        warmup,
        &ReboundSettings::default(),
    );
    Outcome {
        category,
        detected: rebound.detected,
        undecided: rebound.power == Power::Insufficient,
        summary: format!("{} [{:?}]", rebound.summary, rebound.test),
        min_step: rebound.min_step,
        synth,
    }
}

/// Whether the located minimum is where the truth says: within 3% of the run of the noiseless
/// minimum, or — where the bottom is flat — anywhere the noiseless curve is within the noise level
/// of its minimum. (A sharp minimum has a within-noise region narrower than ±3%, so the first
/// rule decides; a flat bottom has a wider one.)
fn minimum_located(o: &Outcome) -> Option<bool> {
    let truth = o.synth.truth.min_index?;
    let found = o.min_step?;
    let n = o.synth.steps.len();
    let found_index = o.synth.steps.partition_point(|s| *s < found).min(n - 1);
    let clean = &o.synth.noiseless;
    let min = clean.iter().copied().fold(f64::INFINITY, f64::min);
    Some(
        found_index.abs_diff(truth) as f64 <= 0.03 * n as f64
            || clean[found_index] - min <= o.synth.spec.noise.sigma(),
    )
}

/// Per-class tally in order of first appearance.
fn tally(outcomes: &[Outcome], key: impl Fn(&Outcome) -> String) -> Vec<(String, Tally)> {
    let mut out: Vec<(String, Tally)> = Vec::new();
    for o in outcomes {
        let k = key(o);
        let at = match out.iter().position(|(c, _)| *c == k) {
            Some(i) => i,
            None => {
                out.push((k, Tally::default()));
                out.len() - 1
            }
        };
        out[at].1.cases += 1;
        out[at].1.detected += o.detected as usize;
        out[at].1.undecided += (o.undecided && !o.detected) as usize;
    }
    out
}

fn print_table(title: &str, rows: &[(String, Tally)]) {
    println!(
        "\n{title:<26} {:>6} {:>9} {:>10} {:>13}",
        "cases", "detected", "undecided", "not detected"
    );
    for (c, t) in rows {
        println!(
            "{c:<26} {:>6} {:>9} {:>10} {:>13}",
            t.cases,
            t.detected,
            t.undecided,
            t.cases - t.detected - t.undecided
        );
    }
}

fn noise_key(o: &Outcome) -> String {
    match o.synth.spec.noise {
        Noise::Persistent { phi, sigma } => {
            format!("AR φ={phi:.2} σ={:.0}% of level", sigma * 100.0)
        }
        other => other.label().to_string(),
    }
}

/// Noise the test can resolve a 10% rebound through: persistent noise with a correlation length
/// `(1+φ)/(1−φ)` (in points) of at most 2% of the run. Beyond that, the run holds too few
/// independent stretches for any test at α = 0.01, and the detector must say "undecided".
/// The rule is the same for every AR(1) noise, whatever its scale (of the level or of the
/// descent).
fn resolvable(o: &Outcome) -> bool {
    match o.synth.spec.noise {
        Noise::Persistent { phi, .. } | Noise::Autocorrelated { phi, .. } => {
            (1.0 + phi) / (1.0 - phi) <= 0.02 * o.synth.spec.n as f64
        }
        _ => true,
    }
}

#[test]
fn detector_on_labelled_synthetic_runs() {
    println!(
        "\nmaster seed {} (JEPA_DOCTOR_BENCH_SEED=… to explore)",
        master_seed()
    );
    let outcomes: Vec<Outcome> = specs().into_iter().map(|(c, s)| run_case(c, s)).collect();
    assert!(outcomes.len() >= 600);
    let classes = tally(&outcomes, |o| o.category.clone());
    println!(
        "rebound detector on {} labelled synthetic runs",
        outcomes.len()
    );
    print_table("truth", &classes);
    let rebounds: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.synth.truth.rebound == Some(true))
        .collect();
    let by_noise = tally(
        &rebounds
            .iter()
            .map(|o| Outcome {
                category: o.category.clone(),
                synth: o.synth.clone(),
                detected: o.detected,
                undecided: o.undecided,
                min_step: o.min_step,
                summary: String::new(),
            })
            .collect::<Vec<_>>(),
        noise_key,
    );
    print_table("rebounds ≥ 10% by noise", &by_noise);

    let recall_of = |sel: &[&Outcome]| {
        sel.iter().filter(|o| o.detected).count() as f64 / sel.len().max(1) as f64
    };
    let resolvable_rebounds: Vec<&Outcome> =
        rebounds.iter().copied().filter(|o| resolvable(o)).collect();
    let recall = recall_of(&resolvable_rebounds);
    let negatives: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o.category.as_str(),
                "healthy descent"
                    | "plateau"
                    | "warmup rise"
                    | "wandering plateau"
                    | "spiky healthy"
            )
        })
        .collect();
    let false_alarms =
        negatives.iter().filter(|o| o.detected).count() as f64 / negatives.len() as f64;
    let located: Vec<bool> = rebounds.iter().filter_map(|o| minimum_located(o)).collect();
    let location_rate = located.iter().filter(|x| **x).count() as f64 / located.len() as f64;
    println!(
        "\nrecall on rebounds ≥ 10% (resolvable noise): {:.1}% ({} cases; {} more in noise too persistent to resolve, {} of them detected); false alarms on healthy/plateau/wander/warmup-rise/spiky: {:.2}% ({} cases); minimum located: {:.1}% ({} cases)",
        100.0 * recall,
        resolvable_rebounds.len(),
        rebounds.len() - resolvable_rebounds.len(),
        rebounds
            .iter()
            .filter(|o| !resolvable(o) && o.detected)
            .count(),
        100.0 * false_alarms,
        negatives.len(),
        100.0 * location_rate,
        located.len()
    );
    for o in &outcomes {
        let wrong = match o.synth.truth.rebound {
            Some(truth) => truth != o.detected,
            None => false,
        };
        if wrong || minimum_located(o) == Some(false) {
            println!(
                "  miss: {} n={} {:?} {:?} detected={} undecided={} min_step={:?} truth_min={:?}",
                o.category,
                o.synth.spec.n,
                o.synth.spec.noise,
                o.synth.spec.shape,
                o.detected,
                o.undecided,
                o.min_step,
                o.synth.truth.min_index.map(|i| o.synth.steps[i])
            );
            println!("        {}", o.summary);
        }
    }
    // Per class: a regression in any one of them fails. The bounds are the measured rates with
    // the committed seed less a margin (docs/statistics.md): the calibrated test gives up power
    // under persistent noise to keep its size, and says "undecided" where it cannot decide.
    let independent = |o: &&Outcome| {
        matches!(
            o.synth.spec.noise,
            Noise::Gaussian { .. } | Noise::HeavyTailed { .. } | Noise::Heteroscedastic { .. }
        )
    };
    for (class, t) in &classes {
        let all: Vec<&Outcome> = outcomes.iter().filter(|o| o.category == *class).collect();
        let ind: Vec<&Outcome> = all.iter().copied().filter(independent).collect();
        let dep: Vec<&Outcome> = all.iter().copied().filter(|o| !independent(o)).collect();
        match class.as_str() {
            "rebound 10%" | "rebound 20%" | "rebound 40%" | "rebound 60%" => {
                let r = recall_of(&ind);
                assert!(
                    r >= 0.95,
                    "{class}: recall {r} under independent noise ({} runs)",
                    ind.len()
                );
                let r = recall_of(&dep);
                assert!(
                    r >= 0.5,
                    "{class}: recall {r} under persistent noise ({} runs)",
                    dep.len()
                );
            }
            "jump half" | "jump late 10%" => {
                let r = recall_of(&all);
                assert!(r >= 0.8, "{class}: recall {r} on {} runs", all.len())
            }
            "healthy descent" | "plateau" | "warmup rise" | "wandering plateau" => assert!(
                t.detected as f64 <= 0.01 * t.cases as f64,
                "{class}: {} false alarms in {}",
                t.detected,
                t.cases
            ),
            "spiky healthy" => assert_eq!(t.detected, 0, "spikes alone must not make a rebound"),
            _ => {}
        }
    }
    let ind_rebounds: Vec<&Outcome> = rebounds.iter().copied().filter(independent).collect();
    let ind_recall = recall_of(&ind_rebounds);
    println!(
        "recall on rebounds ≥ 10% under independent noise: {:.1}% ({} cases)",
        100.0 * ind_recall,
        ind_rebounds.len()
    );
    assert!(
        ind_recall >= 0.98,
        "recall under independent noise {ind_recall}"
    );
    assert!(recall >= 0.97, "recall {recall}");
    assert!(false_alarms <= 0.01, "false alarms {false_alarms}");
    assert!(location_rate >= 0.98, "minimum located {location_rate}");
}
