//! The rebound detector on labelled synthetic runs (known truth), printed as a confusion table:
//! `cargo test --test rebound_benchmark -- --nocapture`.

mod common;

use common::synth::{Shape, Spec, Synth, generate, random_noise, to_run};
use jepa_doctor::diagnose::rebound::{ReboundSettings, Warmup, WarmupSource, detect};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[derive(Default, Clone)]
struct Tally {
    cases: usize,
    detected: usize,
}

struct Outcome {
    category: String,
    synth: Synth,
    detected: bool,
    min_step: Option<u64>,
}

/// The benchmark's seed; `JEPA_DOCTOR_BENCH_SEED` explores others (the committed numbers use the
/// default).
fn base_seed() -> u64 {
    std::env::var("JEPA_DOCTOR_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_127)
}

fn specs() -> Vec<(String, Spec)> {
    let mut rng = StdRng::seed_from_u64(base_seed());
    let mut out = Vec::new();
    let mut seed = base_seed() * 1000;
    let mut next = |rng: &mut StdRng, shape: Shape, category: String, spikes: bool| {
        seed += 1;
        let n = [300, 1500, 6000][rng.random_range(0..3)];
        let spec = Spec {
            shape,
            noise: random_noise(rng),
            n,
            spikes,
            warmup_known: rng.random_bool(0.5),
            reg_rising: false,
            seed,
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

#[test]
fn detector_on_labelled_synthetic_runs() {
    let outcomes: Vec<Outcome> = specs().into_iter().map(|(c, s)| run_case(c, s)).collect();
    assert!(outcomes.len() >= 300);
    let mut categories: Vec<(String, Tally)> = Vec::new();
    for o in &outcomes {
        let at = match categories.iter().position(|(c, _)| *c == o.category) {
            Some(i) => i,
            None => {
                categories.push((o.category.clone(), Tally::default()));
                categories.len() - 1
            }
        };
        categories[at].1.cases += 1;
        categories[at].1.detected += o.detected as usize;
    }
    println!(
        "\nrebound detector on {} labelled synthetic runs",
        outcomes.len()
    );
    println!(
        "{:<18} {:>6} {:>9} {:>12}",
        "truth", "cases", "detected", "not detected"
    );
    for (c, t) in &categories {
        println!(
            "{c:<18} {:>6} {:>9} {:>12}",
            t.cases,
            t.detected,
            t.cases - t.detected
        );
    }
    let by_noise = |label: &str, want_rebound: bool| {
        let sel: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| {
                o.synth.spec.noise.label() == label && o.synth.truth.rebound == Some(want_rebound)
            })
            .collect();
        (sel.iter().filter(|o| o.detected).count(), sel.len())
    };
    println!("\nby noise      rebound ≥10% detected   false alarms");
    for label in [
        "gaussian",
        "heavy-tailed",
        "heteroscedastic",
        "autocorrelated",
    ] {
        let (d, n) = by_noise(label, true);
        let (f, m) = by_noise(label, false);
        println!("{label:<16} {d:>5}/{n:<5}              {f:>3}/{m}");
    }

    let positives: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.synth.truth.rebound == Some(true))
        .collect();
    let recall = positives.iter().filter(|o| o.detected).count() as f64 / positives.len() as f64;
    let negatives: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o.category.as_str(),
                "healthy descent" | "plateau" | "warmup rise"
            )
        })
        .collect();
    let false_alarms =
        negatives.iter().filter(|o| o.detected).count() as f64 / negatives.len() as f64;
    let located: Vec<bool> = positives
        .iter()
        .filter_map(|o| minimum_located(o))
        .collect();
    let location_rate = located.iter().filter(|x| **x).count() as f64 / located.len() as f64;
    println!(
        "\nrecall on rebounds ≥ 10%: {:.1}% ({} cases); false alarms on healthy/plateau/warmup-rise: {:.2}% ({} cases); minimum located: {:.1}% ({} cases)",
        100.0 * recall,
        positives.len(),
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
                "  miss: {} n={} {:?} {:?} detected={} min_step={:?} truth_min={:?}",
                o.category,
                o.synth.spec.n,
                o.synth.spec.noise,
                o.synth.spec.shape,
                o.detected,
                o.min_step,
                o.synth.truth.min_index.map(|i| o.synth.steps[i])
            );
        }
    }
    assert!(recall >= 0.98, "recall {recall}");
    assert!(false_alarms <= 0.01, "false alarms {false_alarms}");
    assert!(location_rate >= 0.98, "minimum located {location_rate}");
    let spiky = outcomes.iter().filter(|o| o.category == "spiky healthy");
    assert_eq!(
        spiky.filter(|o| o.detected).count(),
        0,
        "spikes alone must not make a rebound"
    );
}
