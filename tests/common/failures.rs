//! Labelled failure shapes with known truth, from a seed (issue 11): pinned collapse, slow
//! collapse, transient collapse, never-descended (flat, or pinned at ln K), component
//! divergence, periodic crashes; and the controls that must stay what they are — healthy descents
//! (including a loss that falls far while the monitor shows the predictions still spread) and
//! benign rebounds. Each instance is a V-JEPA-shaped run: a JEPA loss, a reg-loss monitor
//! (`mean(relu(1 − std))`, in [0, 1]) when the class has one, a logged LR with linear warmup and
//! cosine decay, and noise (Gaussian or AR(1)) at a realistic share of the descent.
#![allow(dead_code)]

use jepa_doctor::model::{InputSummary, Role, Run, Series, StepAxis};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// The classes of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Control: descends to 15–30% of its start and flattens; reg-loss low, at the healthy
    /// reg_coeff-0 level (≈ 0.87), or absent.
    Healthy,
    /// Control: the loss falls to 4–8% of its start while the reg-loss stays low (the
    /// predictions keep their spread): the monitor wins, not collapse.
    SpreadKept,
    /// Control: descends, then gives back 20–50% of the descent with reg-loss falling or flat.
    BenignRebound,
    /// reg-loss pinned at 0.985–0.995 from the first few dozen steps; the loss falls to 3–8%.
    PinnedCollapse,
    /// The loss eases down, then falls to 2–8% of its level over 2–40% of the run (no monitor, or
    /// a reg-loss at the reg_coeff-0 level that does not show spread).
    SlowCollapse,
    /// reg-loss low, bursts to 0.93–0.99 for 5–12% of the run, then back; the loss is healthy.
    TransientCollapse,
    /// Flat from step 0 (or a rise during warmup, then pinned at ln K of a K-way softmax).
    NeverDescended,
    /// Two loss terms rebound while two others keep falling; the total is logged.
    ComponentDivergence,
    /// Descent, then 6–12 sudden drops at a regular period, each recovering.
    PeriodicCrashes,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::Healthy,
        Class::SpreadKept,
        Class::BenignRebound,
        Class::PinnedCollapse,
        Class::SlowCollapse,
        Class::TransientCollapse,
        Class::NeverDescended,
        Class::ComponentDivergence,
        Class::PeriodicCrashes,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Class::Healthy => "healthy",
            Class::SpreadKept => "healthy, spread kept",
            Class::BenignRebound => "benign rebound",
            Class::PinnedCollapse => "pinned collapse",
            Class::SlowCollapse => "slow collapse",
            Class::TransientCollapse => "transient collapse",
            Class::NeverDescended => "never descended",
            Class::ComponentDivergence => "component divergence",
            Class::PeriodicCrashes => "periodic crashes",
        }
    }

    /// Controls must never be called collapse.
    pub fn is_control(self) -> bool {
        matches!(
            self,
            Class::Healthy | Class::SpreadKept | Class::BenignRebound
        )
    }
}

/// One generated run and its truth.
pub struct Instance {
    pub class: Class,
    pub seed: u64,
    pub run: Run,
    /// Steps of the sudden drops (periodic crashes).
    pub drop_steps: Vec<u64>,
    /// The crash period in steps (periodic crashes).
    pub period_steps: Option<f64>,
    /// `K` when the loss is pinned at ln K.
    pub uniform_k: Option<u64>,
}

fn noise(rng: &mut StdRng, n: usize, sigma: f64) -> Vec<f64> {
    let phi = if rng.random_bool(0.5) {
        0.0
    } else {
        [0.5, 0.8][rng.random_range(0..2)]
    };
    let scale = (1.0f64 - phi * phi).sqrt();
    let mut e = 0.0;
    (0..n)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            e = phi * e + scale * z;
            sigma * e
        })
        .collect()
}

fn series(name: &str, role: Role, v: &[f64]) -> Series {
    Series {
        name: name.into(),
        role,
        values: v.iter().map(|x| *x as f32).collect(),
        note: None,
        kinds: Vec::new(),
    }
}

/// A logged LR: linear warmup from 10% of the peak over `warm` of the run, then cosine to 1e-6.
fn lr(n: usize, warm: f64) -> Vec<f64> {
    let peak = 1e-3;
    let w = (warm * n as f64).max(1.0);
    (0..n)
        .map(|i| {
            let k = i as f64;
            if k < w {
                0.1 * peak + 0.9 * peak * k / w
            } else {
                let p = (k - w) / (n as f64 - w);
                1e-6 + (peak - 1e-6) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        })
        .collect()
}

/// Exponential descent from `start` to `floor` with time constant `tau` (share of the run).
fn descent(t: f64, start: f64, floor: f64, tau: f64) -> f64 {
    floor + (start - floor) * (-t / tau).exp()
}

/// A low reg-loss that falls from its initial high as the predictions spread out.
fn reg_low(t: f64, level: f64) -> f64 {
    level + (0.9 - level) * (-t / 0.02).exp()
}

/// Generates one instance of `class` from `seed`.
pub fn generate(class: Class, seed: u64) -> Instance {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = rng.random_range(1500..4000usize);
    let start = rng.random_range(0.5..1.5);
    let warm = rng.random_range(0.03..0.08);
    let ts: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
    let sigma_share = rng.random_range(0.005..0.02);
    let mut drop_steps = Vec::new();
    let mut period_steps = None;
    let mut uniform_k = None;
    let mut extra: Vec<Series> = Vec::new();
    let mut spread_monitor: Option<Vec<f64>> = None;
    let (jepa, reg): (Vec<f64>, Option<Vec<f64>>) = match class {
        Class::Healthy => {
            let floor = start * rng.random_range(0.15..0.30);
            let tau = rng.random_range(0.08..0.2);
            let j = ts.iter().map(|t| descent(*t, start, floor, tau)).collect();
            let reg = match rng.random_range(0..3) {
                0 => None,
                1 => {
                    let level = rng.random_range(0.01..0.08);
                    Some(ts.iter().map(|t| reg_low(*t, level)).collect())
                }
                _ => {
                    let level = rng.random_range(0.84..0.9);
                    Some(
                        ts.iter()
                            .map(|t| level + 0.06 * (-t / 0.05).exp())
                            .collect(),
                    )
                }
            };
            (j, reg)
        }
        Class::SpreadKept => {
            let floor = start * rng.random_range(0.04..0.08);
            let tau = rng.random_range(0.08..0.2);
            let level = rng.random_range(0.01..0.06);
            let j = ts.iter().map(|t| descent(*t, start, floor, tau)).collect();
            if rng.random_bool(0.33) {
                // A prediction-std monitor that stays near its early level.
                let early = rng.random_range(0.3..1.0);
                spread_monitor = Some(ts.iter().map(|t| early * (1.0 - 0.2 * t)).collect());
                (j, None)
            } else {
                (j, Some(ts.iter().map(|t| reg_low(*t, level)).collect()))
            }
        }
        Class::BenignRebound => {
            let floor = start * rng.random_range(0.2..0.35);
            let t_min = rng.random_range(0.3..0.6);
            let magnitude = rng.random_range(0.2..0.5);
            let tau = t_min / 4.0;
            let j = ts
                .iter()
                .map(|t| {
                    let down = descent(*t, start, floor, tau);
                    let rise = if *t > t_min {
                        magnitude * (start - floor) * (t - t_min) / (1.0 - t_min)
                    } else {
                        0.0
                    };
                    down + rise
                })
                .collect();
            let level = rng.random_range(0.02..0.08);
            let reg = if rng.random_bool(0.5) {
                Some(
                    ts.iter()
                        .map(|t| reg_low(*t, level) * (1.0 - 0.5 * t))
                        .collect(),
                )
            } else {
                Some(ts.iter().map(|t| reg_low(*t, level)).collect())
            };
            (j, reg)
        }
        Class::PinnedCollapse if rng.random_bool(0.33) => {
            // A prediction-std monitor (higher = more spread) that falls to ≤ 3% of its early
            // level within the first fifth of the run and stays there.
            let floor = start * rng.random_range(0.03..0.08);
            let tau = rng.random_range(0.05..0.2);
            let early = rng.random_range(0.3..1.0);
            let t_c = rng.random_range(0.05..0.2);
            let low = early * rng.random_range(0.005..0.03);
            let std: Vec<f64> = ts
                .iter()
                .map(|t| low + (early - low) / (1.0 + ((t - t_c) / 0.01).exp()))
                .collect();
            spread_monitor = Some(std);
            (
                ts.iter().map(|t| descent(*t, start, floor, tau)).collect(),
                None,
            )
        }
        Class::PinnedCollapse => {
            let floor = start * rng.random_range(0.03..0.08);
            let tau = rng.random_range(0.05..0.2);
            let pinned = rng.random_range(0.985..0.995);
            let ramp = rng.random_range(10.0..60.0) / n as f64;
            (
                ts.iter().map(|t| descent(*t, start, floor, tau)).collect(),
                Some(
                    ts.iter()
                        .map(|t| pinned - (pinned - 0.7) * (-t / ramp).exp())
                        .collect(),
                ),
            )
        }
        Class::SlowCollapse => {
            let eased = start * rng.random_range(0.85..0.97);
            let t_fall = rng.random_range(0.2..0.5);
            // From a few dozen steps to 40% of the run; the low level holds ≥ 15% of the run.
            let duration = rng.random_range(0.02..0.4f64).min(0.85 - t_fall);
            let low = eased * rng.random_range(0.02..0.08);
            let j = ts
                .iter()
                .map(|t| {
                    let before = descent(*t, start, eased, 0.1);
                    if *t < t_fall {
                        before
                    } else {
                        let p = ((t - t_fall) / duration).min(1.0);
                        // Smooth fall (cosine) from the eased level to the low level.
                        let s = 0.5 * (1.0 - (std::f64::consts::PI * p).cos());
                        before + (low - before) * s
                    }
                })
                .collect();
            // A third log a reg-loss at the reg_coeff-0 level (≈ 0.87): it does not show spread,
            // so the loss level still decides.
            let reg = rng.random_bool(0.33).then(|| {
                let level = rng.random_range(0.84..0.9);
                ts.iter().map(|_| level).collect()
            });
            (j, reg)
        }
        Class::TransientCollapse => {
            let floor = start * rng.random_range(0.2..0.3);
            let tau = rng.random_range(0.08..0.15);
            let level = rng.random_range(0.01..0.06);
            let t0 = rng.random_range(0.35..0.7);
            let width = rng.random_range(0.05..0.12);
            let peak = rng.random_range(0.93..0.99);
            let reg = ts
                .iter()
                .map(|t| {
                    if *t >= t0 && *t <= t0 + width {
                        peak
                    } else {
                        reg_low(*t, level)
                    }
                })
                .collect();
            (
                ts.iter().map(|t| descent(*t, start, floor, tau)).collect(),
                Some(reg),
            )
        }
        Class::NeverDescended => {
            if rng.random_bool(0.5) {
                let k = [1024u64, 4096, 65536, 1000][rng.random_range(0..4)];
                let level = (k as f64).ln();
                uniform_k = Some(k);
                let from = level * rng.random_range(0.9..0.97);
                let j: Vec<f64> = ts
                    .iter()
                    .map(|t| {
                        if *t < warm {
                            from + (level - from) * t / warm
                        } else {
                            level
                        }
                    })
                    .collect();
                // A uniform output is exact: only rounding-level noise.
                let tiny = noise(&mut rng, n, 1e-5 * level);
                let j = j.iter().zip(&tiny).map(|(a, b)| a + b).collect();
                return finish_plain(class, seed, j, warm, uniform_k, Vec::new());
            }
            (ts.iter().map(|_| start).collect(), None)
        }
        Class::ComponentDivergence => {
            let t_min = rng.random_range(0.3..0.5);
            let magnitude = rng.random_range(0.3..0.6);
            let mut total = vec![0.0; n];
            for (name, rebounds) in [("a2a", true), ("v2v", true), ("a2v", false), ("v2a", false)] {
                let s0 = start * rng.random_range(0.8..1.2);
                let floor = s0 * rng.random_range(0.2..0.35);
                let tau = if rebounds {
                    t_min / 4.0
                } else {
                    rng.random_range(0.25..0.4)
                };
                let v: Vec<f64> = ts
                    .iter()
                    .map(|t| {
                        let down = descent(*t, s0, floor, tau);
                        if rebounds && *t > t_min {
                            down + magnitude * (s0 - floor) * (t - t_min) / (1.0 - t_min)
                        } else {
                            down
                        }
                    })
                    .collect();
                let e = noise(&mut rng, n, sigma_share * (s0 - floor));
                let v: Vec<f64> = v.iter().zip(&e).map(|(a, b)| a + b).collect();
                for (acc, x) in total.iter_mut().zip(&v) {
                    *acc += x;
                }
                extra.push(series(name, Role::Jepa, &v));
            }
            return finish_plain(class, seed, total, warm, None, extra);
        }
        Class::PeriodicCrashes => {
            let floor = start * rng.random_range(0.25..0.35);
            let tau = rng.random_range(0.05..0.1);
            let first = rng.random_range(0.3..0.45);
            let count = rng.random_range(6..12usize);
            let period = (1.0 - first - 0.03) / count as f64;
            let depth = rng.random_range(0.25..0.4) * (start - floor);
            let recovery = period * rng.random_range(0.2..0.4);
            let crashes: Vec<f64> = (0..count).map(|i| first + i as f64 * period).collect();
            drop_steps = crashes.iter().map(|t| (t * n as f64) as u64).collect();
            period_steps = Some(period * n as f64);
            let j = ts
                .iter()
                .map(|t| {
                    let base = descent(*t, start, floor, tau);
                    let last = crashes.iter().rev().find(|c| **c <= *t);
                    base - last.map_or(0.0, |c| depth * (-(t - c) / recovery).exp())
                })
                .collect();
            (j, None)
        }
    };
    let range = jepa.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - jepa.iter().copied().fold(f64::INFINITY, f64::min);
    let scale = if range > 1e-9 { range } else { 0.02 * start };
    // Noise grows with the level (training losses are noisier high up than near their floor).
    let e = noise(&mut rng, n, sigma_share * scale);
    let jepa: Vec<f64> = jepa
        .iter()
        .zip(&e)
        .map(|(a, b)| (a + b * (0.3 + 0.7 * a / start)).max(1e-4))
        .collect();
    let reg = reg.map(|r| {
        let e = noise(&mut rng, n, 0.004);
        r.iter()
            .zip(&e)
            .map(|(a, b)| (a + b).clamp(0.0, 1.0))
            .collect()
    });
    if let Some(std) = spread_monitor {
        let e = noise(&mut rng, n, 0.01);
        let std: Vec<f64> = std
            .iter()
            .zip(&e)
            .map(|(a, b)| (a * (1.0 + b)).max(1e-6))
            .collect();
        extra.push(series("pred_std", Role::Reg, &std));
    }
    let steps: Vec<u64> = (0..n as u64).collect();
    finish(
        class,
        seed,
        steps,
        jepa,
        reg,
        lr(n, warm),
        drop_steps,
        period_steps,
        uniform_k,
        extra,
    )
}

/// An instance on steps 0..n with the usual LR, without a reg series, drops or a period.
fn finish_plain(
    class: Class,
    seed: u64,
    jepa: Vec<f64>,
    warm: f64,
    uniform_k: Option<u64>,
    extra: Vec<Series>,
) -> Instance {
    let n = jepa.len();
    let steps: Vec<u64> = (0..n as u64).collect();
    let lr = lr(n, warm);
    finish(
        class,
        seed,
        steps,
        jepa,
        None,
        lr,
        Vec::new(),
        None,
        uniform_k,
        extra,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    class: Class,
    seed: u64,
    steps: Vec<u64>,
    jepa: Vec<f64>,
    reg: Option<Vec<f64>>,
    lr: Vec<f64>,
    drop_steps: Vec<u64>,
    period_steps: Option<f64>,
    uniform_k: Option<u64>,
    extra: Vec<Series>,
) -> Instance {
    // With loss terms the logged loss is their total; else it is the JEPA loss.
    let components = extra.iter().any(|s| s.role == Role::Jepa);
    let loss_role = if components { Role::Total } else { Role::Jepa };
    let loss_name = if components { "loss" } else { "loss-jepa" };
    let mut all = vec![series(loss_name, loss_role, &jepa)];
    all.extend(extra);
    if let Some(r) = reg {
        all.push(series("reg-loss", Role::Reg, &r));
    }
    all.push(series("lr", Role::Lr, &lr));
    Instance {
        class,
        seed,
        run: Run {
            steps: StepAxis::from_sorted(steps),
            series: all,
            input: InputSummary::default(),
            params: None,
        },
        drop_steps,
        period_steps,
        uniform_k,
    }
}
