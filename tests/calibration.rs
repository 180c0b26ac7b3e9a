//! Size of the rebound test: how often "p < 0.01" and "rebound" appear on runs with no rebound.
//! `cargo test --test calibration -- --nocapture` prints both tables (recorded in
//! docs/statistics.md).
//!
//! Table 1 is the statistic alone ([`persistent_trend`]) on trend-free AR(1) slices. Table 2 is the
//! detector's whole decision at the statistics level ([`prepare_values`] + [`decide_prepared`]:
//! de-spike, smooth, choose the minimum after warmup, skip the selection gap, test, effect size) on
//! runs that descend and then stay flat, so the null distribution includes the choice of the
//! minimum; plus plateaus that wander slowly (a few oscillations, peak to peak 4–7% of the
//! descent). The always-on tests simulate 300 series per cell; the `#[ignore]`d `*_1000_per_cell`
//! tests run the same cells with 1000 series each (the tables in docs/statistics.md:
//! `cargo test --test calibration -- --ignored --nocapture`). Seeds derive from a printed master
//! seed (`JEPA_DOCTOR_CALIBRATION_SEED` explores others).

use jepa_doctor::diagnose::rebound::{ReboundSettings, decide_prepared, prepare_values};
use jepa_doctor::stats::persistence::persistent_trend;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, StudentT};

/// Series per cell of the always-on tests (the ignored ones run [`FULL_SERIES_PER_CELL`]).
const SERIES_PER_CELL: usize = 300;
/// Series per cell of the calibration (≥ 1000).
const FULL_SERIES_PER_CELL: usize = 1000;
const ALPHA: f64 = 0.01;
/// The allowed false-alarm rate at α = 0.01 (the bound: 1.5%).
const MAX_RATE: f64 = 0.015;
const PHIS: [f64; 6] = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99];

fn master_seed() -> u64 {
    std::env::var("JEPA_DOCTOR_CALIBRATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_130)
}

/// Stationary AR(1) with unit marginal variance; Student-t(3) innovations when `heavy`.
fn ar1(n: usize, phi: f64, heavy: bool, rng: &mut StdRng) -> Vec<f64> {
    let t = StudentT::new(3.0).expect("valid degrees of freedom");
    let mut x = 0.0;
    (0..n)
        .map(|i| {
            let z: f64 = if heavy {
                t.sample(rng) / 3f64.sqrt()
            } else {
                StandardNormal.sample(rng)
            };
            x = if i == 0 {
                z
            } else {
                phi * x + (1.0 - phi * phi).sqrt() * z
            };
            x
        })
        .collect()
}

#[derive(Clone, Debug)]
struct Cell {
    label: String,
    phi: f64,
    heavy: bool,
    /// Noise standard deviation as a share of the level; 0 draws it per series from 1–5%.
    sigma: f64,
    /// Table 1: slice length. Table 2: run length in blocks.
    n: usize,
    /// Slow sinusoidal wander on the plateau (table 2 only).
    wander: bool,
    /// Series simulated in this cell.
    series: usize,
}

#[derive(Clone, Copy, Default)]
struct Rates {
    p_below_alpha: usize,
    detected: usize,
    insufficient: usize,
}

fn seed_of(index: usize) -> u64 {
    master_seed()
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407u64.wrapping_mul(index as u64 + 1))
}

/// Runs `f` on every cell, spread over the available cores.
fn run_cells(cells: &[Cell], f: fn(&Cell, &mut StdRng) -> Rates) -> Vec<Rates> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let mut out = vec![Rates::default(); cells.len()];
    std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..cells.len())
                        .step_by(threads)
                        .map(|i| (i, f(&cells[i], &mut StdRng::seed_from_u64(seed_of(i)))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for job in jobs {
            for (i, r) in job.join().expect("calibration worker") {
                out[i] = r;
            }
        }
    });
    out
}

fn statistic_cell(cell: &Cell, rng: &mut StdRng) -> Rates {
    let mut r = Rates::default();
    for _ in 0..cell.series {
        let y: Vec<f64> = ar1(cell.n, cell.phi, cell.heavy, rng)
            .iter()
            .map(|e| 1.0 + cell.sigma * e)
            .collect();
        let t = persistent_trend(&y);
        r.p_below_alpha += (t.p < ALPHA) as usize;
        r.insufficient += (t.min_attainable_p >= ALPHA) as usize;
    }
    r
}

/// A run that descends from 1.3 to its floor 0.3 over the first ~20% and then stays flat (or
/// wanders slowly around the floor), with noise proportional to the level.
fn null_run(cell: &Cell, rng: &mut StdRng) -> Vec<f64> {
    let n = cell.n;
    let noise = ar1(n, cell.phi, cell.heavy, rng);
    let sigma = if cell.sigma > 0.0 {
        cell.sigma
    } else {
        rng.random_range(0.01..0.05)
    };
    let (cycles, amplitude, phase) = if cell.wander {
        (
            rng.random_range(2.0..4.0),
            rng.random_range(0.04..0.07) / 2.0,
            rng.random_range(0.0..std::f64::consts::TAU),
        )
    } else {
        (0.0, 0.0, 0.0)
    };
    (0..n)
        .map(|i| {
            let t = i as f64 / (n - 1) as f64;
            let mut level = 0.3 + (-t / 0.04).exp();
            if cell.wander && t > 0.2 {
                let u = (t - 0.2) / 0.8;
                level += amplitude * (std::f64::consts::TAU * cycles * u + phase).sin();
            }
            level * (1.0 + sigma * noise[i])
        })
        .collect()
}

fn decision_cell(cell: &Cell, rng: &mut StdRng) -> Rates {
    let settings = ReboundSettings::default();
    let span = (cell.n as f64 / 80.0).max(1.0);
    let warmup_end = (0.05 * cell.n as f64) as u64;
    let mut r = Rates::default();
    for _ in 0..cell.series {
        let y = null_run(cell, rng);
        let rebound = decide_prepared(&prepare_values(&y, span), warmup_end, &settings);
        r.p_below_alpha += rebound.p_value.is_some_and(|p| p < ALPHA) as usize;
        r.detected += rebound.detected as usize;
        r.insufficient +=
            (rebound.power == jepa_doctor::diagnose::rebound::Power::Insufficient) as usize;
    }
    r
}

fn pct(k: usize, series: usize) -> f64 {
    100.0 * k as f64 / series as f64
}

fn noise_cells(lengths: &[usize], sigmas: &[f64], series: usize) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &n in lengths {
        for &sigma in sigmas {
            for heavy in [false, true] {
                for phi in PHIS {
                    cells.push(Cell {
                        label: format!(
                            "n={n:<4} σ={:<5} {:<8} φ={phi:.2}",
                            if sigma > 0.0 {
                                format!("{:.0}%", sigma * 100.0)
                            } else {
                                "1–5%".into()
                            },
                            if heavy { "t(3)" } else { "gaussian" }
                        ),
                        phi,
                        heavy,
                        sigma,
                        n,
                        wander: false,
                        series,
                    });
                }
            }
        }
    }
    cells
}

#[test]
fn the_trend_statistic_holds_its_size_under_persistence() {
    statistic_size(SERIES_PER_CELL);
}

#[test]
#[ignore = "the issue's ≥ 1000 series per cell: about 1.5 minutes on two loaded cores"]
fn the_trend_statistic_holds_its_size_under_persistence_1000_per_cell() {
    statistic_size(FULL_SERIES_PER_CELL);
}

fn statistic_size(series: usize) {
    let cells = noise_cells(&[50, 200, 800], &[0.03], series);
    let rates = run_cells(&cells, statistic_cell);
    println!(
        "\ncalibration 1: the statistic on trend-free AR(1) slices, {series} series per cell, master seed {}",
        master_seed()
    );
    println!("{:<34} {:>10} {:>13}", "cell", "p < 0.01", "no power");
    let mut worst = 0.0f64;
    for (c, r) in cells.iter().zip(&rates) {
        println!(
            "{:<34} {:>9.1}% {:>12.1}%",
            c.label,
            pct(r.p_below_alpha, series),
            pct(r.insufficient, series)
        );
        worst = worst.max(pct(r.p_below_alpha, series));
    }
    println!("largest false-alarm rate: {worst:.1}%");
    for (c, r) in cells.iter().zip(&rates) {
        assert!(
            r.p_below_alpha as f64 <= MAX_RATE * series as f64,
            "{}: {:.1}% of trend-free series gave p < {ALPHA}",
            c.label,
            pct(r.p_below_alpha, series)
        );
    }
}

#[test]
fn the_whole_decision_holds_its_size_including_the_choice_of_the_minimum() {
    decision_size(SERIES_PER_CELL);
}

#[test]
#[ignore = "the issue's ≥ 1000 runs per cell: about 1.5 minutes on two loaded cores"]
fn the_whole_decision_holds_its_size_including_the_choice_of_the_minimum_1000_per_cell() {
    decision_size(FULL_SERIES_PER_CELL);
}

fn decision_size(series: usize) {
    let mut cells = noise_cells(&[300, 600], &[0.0], series);
    for (phi, sigma) in [(0.0, 0.01), (0.5, 0.01), (0.9, 0.01), (0.5, 0.03)] {
        cells.push(Cell {
            label: format!("wander n=600 σ={:.0}% φ={phi:.2}", sigma * 100.0),
            phi,
            heavy: false,
            sigma,
            n: 600,
            wander: true,
            series,
        });
    }
    let rates = run_cells(&cells, decision_cell);
    println!(
        "\ncalibration 2: the detector's decision on runs that descend and stay flat (minimum chosen from the data), {series} runs per cell, master seed {}",
        master_seed()
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "cell", "p < 0.01", "rebound", "no power"
    );
    for (c, r) in cells.iter().zip(&rates) {
        println!(
            "{:<34} {:>9.1}% {:>9.1}% {:>9.1}%",
            c.label,
            pct(r.p_below_alpha, series),
            pct(r.detected, series),
            pct(r.insufficient, series)
        );
    }
    for (c, r) in cells.iter().zip(&rates) {
        let limit = MAX_RATE * series as f64;
        assert!(
            r.detected as f64 <= limit,
            "{}: {:.1}% called rebounds",
            c.label,
            pct(r.detected, series)
        );
        // The printed p-value itself is calibrated, on a wandering plateau too: the plateau's
        // integrated autocorrelation time bounds the persistence from below.
        assert!(
            r.p_below_alpha as f64 <= limit,
            "{}: {:.1}% gave p < {ALPHA}",
            c.label,
            pct(r.p_below_alpha, series)
        );
    }
}
