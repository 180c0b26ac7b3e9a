//! Synthetic training runs with known truth, from a seed: healthy descents, plateaus (flat or
//! wandering slowly), an early rise during warmup, rebounds of chosen size and position,
//! persistent jumps, collapses; with Gaussian, heavy-tailed, heteroscedastic or autocorrelated
//! (absolute, or proportional to the level up to AR φ 0.99) noise and optional spikes.
#![allow(dead_code)]

use jepa_doctor::model::{InputSummary, Role, Run, Series, StepAxis};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, StudentT};

/// Floor and amplitude of every curve: the loss starts near `FLOOR + AMPLITUDE`.
pub const FLOOR: f64 = 0.2;
pub const AMPLITUDE: f64 = 1.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Exponential descent still going at the end.
    Healthy { tau: f64 },
    /// Exponential descent reaching its floor early.
    Plateau { tau: f64 },
    /// Rises by `rise` (share of the amplitude) until `end` (run fraction), then descends.
    WarmupRise { end: f64, rise: f64, tau: f64 },
    /// Descends to a minimum at `t_min`, then gives back `magnitude` of the descent.
    /// `sharp`: linear descent into a kink; else an exponential descent onto a flat bottom.
    Rebound {
        t_min: f64,
        magnitude: f64,
        sharp: bool,
        concave: bool,
    },
    /// Healthy descent, then at `t_c` the loss collapses toward zero and reg-loss toward 1.
    Collapse { t_c: f64 },
    /// Descends onto a flat bottom by `t_min`, then at `t_jump` jumps up by `size` of the descent
    /// within `width` (run fraction) and stays there.
    Jump {
        t_min: f64,
        t_jump: f64,
        size: f64,
        width: f64,
    },
    /// Reaches its floor early, then wanders slowly around it: `cycles` oscillations of
    /// peak-to-peak `pp` (share of the descent) over the rest of the run. Not a rebound.
    Wander { cycles: f64, pp: f64, phase: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Noise {
    Gaussian {
        sigma: f64,
    },
    /// Student-t with 3 degrees of freedom, scaled to standard deviation `sigma`.
    HeavyTailed {
        sigma: f64,
    },
    /// Standard deviation proportional to the level (`sigma` at the mid level).
    Heteroscedastic {
        sigma: f64,
    },
    /// AR(1) with coefficient `phi` and marginal standard deviation `sigma`.
    Autocorrelated {
        phi: f64,
        sigma: f64,
    },
    /// AR(1) with coefficient `phi` and standard deviation `sigma` × the level (1–5% of the
    /// level is what training logs show).
    Persistent {
        phi: f64,
        sigma: f64,
    },
}

impl Noise {
    pub fn sigma(self) -> f64 {
        match self {
            Noise::Gaussian { sigma }
            | Noise::HeavyTailed { sigma }
            | Noise::Heteroscedastic { sigma }
            | Noise::Autocorrelated { sigma, .. } => sigma,
            // At the floor, where a rebound starts.
            Noise::Persistent { sigma, .. } => sigma * FLOOR,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Noise::Gaussian { .. } => "gaussian",
            Noise::HeavyTailed { .. } => "heavy-tailed",
            Noise::Heteroscedastic { .. } => "heteroscedastic",
            Noise::Autocorrelated { .. } => "autocorrelated",
            Noise::Persistent { .. } => "persistent",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub shape: Shape,
    pub noise: Noise,
    pub n: usize,
    pub spikes: bool,
    /// Tell the detector where warmup ends (else it assumes the first 5%).
    pub warmup_known: bool,
    /// For rebounds: whether the reg-loss rises over the rebound (collapse signature).
    pub reg_rising: bool,
    pub seed: u64,
}

/// What the generator knows about a run.
#[derive(Clone, Debug)]
pub struct Truth {
    /// Some(true/false); None where the answer is deliberately ambiguous (5% rebounds).
    pub rebound: Option<bool>,
    /// Index of the noiseless minimum (for shapes with one after warmup).
    pub min_index: Option<usize>,
    pub sharp_min: bool,
}

#[derive(Clone, Debug)]
pub struct Synth {
    pub spec: Spec,
    pub steps: Vec<u64>,
    pub jepa: Vec<f64>,
    pub reg: Vec<f64>,
    pub noiseless: Vec<f64>,
    pub warmup_end: Option<u64>,
    pub truth: Truth,
}

fn curve(shape: Shape, t: f64) -> f64 {
    let decay = |tau: f64, t: f64| FLOOR + AMPLITUDE * (-t / tau).exp();
    match shape {
        Shape::Healthy { tau } | Shape::Plateau { tau } => decay(tau, t),
        Shape::WarmupRise { end, rise, tau } => {
            if t < end {
                FLOOR + AMPLITUDE * (1.0 + rise * t / end)
            } else {
                FLOOR + AMPLITUDE * (1.0 + rise) * (-(t - end) / tau).exp()
            }
        }
        Shape::Rebound {
            t_min,
            magnitude,
            sharp,
            concave,
        } => {
            let base = if sharp {
                if t < t_min {
                    FLOOR + AMPLITUDE * (1.0 - t / t_min)
                } else {
                    FLOOR
                }
            } else {
                decay(t_min / 6.0, t.min(t_min)) - AMPLITUDE * (-6.0f64).exp()
            };
            if t <= t_min {
                return base;
            }
            let u = (t - t_min) / (1.0 - t_min);
            let g = if concave {
                (1.0 - (-3.0 * u).exp()) / (1.0 - (-3.0f64).exp())
            } else {
                u
            };
            base + magnitude * AMPLITUDE * g
        }
        Shape::Jump {
            t_min,
            t_jump,
            size,
            width,
        } => {
            let base = decay(t_min / 6.0, t.min(t_min)) - AMPLITUDE * (-6.0f64).exp();
            let u = ((t - t_jump) / width).clamp(0.0, 1.0);
            base + size * AMPLITUDE * u
        }
        Shape::Wander { cycles, pp, phase } => {
            let base = decay(0.04, t);
            let u = ((t - 0.2) / 0.8).max(0.0);
            let ramp = (t / 0.2).min(1.0);
            base + ramp * pp / 2.0 * AMPLITUDE * (std::f64::consts::TAU * cycles * u + phase).sin()
        }
        Shape::Collapse { t_c } => {
            let level = decay(0.15, t.min(t_c));
            if t < t_c {
                level
            } else {
                let u = ((t - t_c) / 0.02).min(1.0);
                level * (1.0 - 0.95 * u)
            }
        }
    }
}

fn reg_curve(shape: Shape, t: f64, rising: bool) -> f64 {
    let healthy = 0.3 + 0.6 * (-t / 0.2).exp();
    match shape {
        Shape::Collapse { t_c } if t >= t_c => {
            healthy + (0.98 - healthy) * ((t - t_c) / 0.02).min(1.0)
        }
        Shape::Rebound { t_min, .. } if rising && t > t_min => {
            let at_min = 0.3 + 0.6 * (-t_min / 0.2).exp();
            at_min + 0.4 * (t - t_min) / (1.0 - t_min)
        }
        _ => healthy,
    }
}

pub fn generate(spec: Spec) -> Synth {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let n = spec.n;
    let steps: Vec<u64> = (0..n as u64).map(|i| i * 10).collect();
    let t = |i: usize| i as f64 / (n - 1) as f64;
    let noiseless: Vec<f64> = (0..n).map(|i| curve(spec.shape, t(i))).collect();
    let student = StudentT::new(3.0).unwrap();
    let mean_level = FLOOR + AMPLITUDE / 2.0;
    let mut ar = 0.0;
    let mut jepa = Vec::with_capacity(n);
    for (i, level) in noiseless.iter().enumerate() {
        let z: f64 = StandardNormal.sample(&mut rng);
        let e = match spec.noise {
            Noise::Gaussian { sigma } => sigma * z,
            Noise::HeavyTailed { sigma } => sigma * student.sample(&mut rng) / 3f64.sqrt(),
            Noise::Heteroscedastic { sigma } => sigma * z * level / mean_level,
            Noise::Autocorrelated { phi, sigma } => {
                ar = if i == 0 {
                    sigma * z
                } else {
                    phi * ar + (1.0 - phi * phi).sqrt() * sigma * z
                };
                ar
            }
            Noise::Persistent { phi, sigma } => {
                ar = if i == 0 {
                    z
                } else {
                    phi * ar + (1.0 - phi * phi).sqrt() * z
                };
                sigma * level * ar
            }
        };
        jepa.push((level + e).max(1e-4));
    }
    if spec.spikes {
        let count = (n / 200).max(2);
        for _ in 0..count {
            let i = rng.random_range(0..n);
            jepa[i] *= rng.random_range(2.0..5.0);
        }
    }
    let reg: Vec<f64> = (0..n)
        .map(|i| {
            let z: f64 = StandardNormal.sample(&mut rng);
            (reg_curve(spec.shape, t(i), spec.reg_rising) + 0.01 * z).clamp(0.0, 1.0)
        })
        .collect();
    let warmup_frac = match spec.shape {
        Shape::WarmupRise { end, .. } => end,
        _ => 0.03,
    };
    let warmup_end = spec
        .warmup_known
        .then(|| steps[((n - 1) as f64 * warmup_frac) as usize]);
    let truth = match spec.shape {
        Shape::Rebound {
            t_min,
            magnitude,
            sharp,
            ..
        } => Truth {
            rebound: if magnitude >= 0.1 { Some(true) } else { None },
            min_index: Some(((n - 1) as f64 * t_min).round() as usize),
            sharp_min: sharp,
        },
        Shape::Jump { t_min, size, .. } => Truth {
            rebound: if size >= 0.1 { Some(true) } else { None },
            min_index: Some(((n - 1) as f64 * t_min).round() as usize),
            sharp_min: false,
        },
        _ => Truth {
            rebound: Some(false),
            min_index: None,
            sharp_min: false,
        },
    };
    Synth {
        spec,
        steps,
        jepa,
        reg,
        noiseless,
        warmup_end,
        truth,
    }
}

/// The synthetic run as jepa-doctor's model: `loss-jepa` and `reg-loss` on one axis.
pub fn to_run(s: &Synth) -> Run {
    let series = |name: &str, role: Role, v: &[f64]| Series {
        name: name.into(),
        role,
        values: v.iter().map(|x| *x as f32).collect(),
        note: None,
        kinds: Vec::new(),
    };
    Run {
        steps: StepAxis::from_sorted(s.steps.clone()),
        series: vec![
            series("loss-jepa", Role::Jepa, &s.jepa),
            series("reg-loss", Role::Reg, &s.reg),
        ],
        input: InputSummary::default(),
        params: None,
    }
}

/// A random noise model at a realistic level (share of the descent).
pub fn random_noise(rng: &mut StdRng) -> Noise {
    match rng.random_range(0..5) {
        0 => Noise::Gaussian {
            sigma: [0.01, 0.03, 0.05][rng.random_range(0..3)],
        },
        1 => Noise::HeavyTailed {
            sigma: [0.01, 0.03][rng.random_range(0..2)],
        },
        2 => Noise::Heteroscedastic {
            sigma: [0.01, 0.03, 0.05][rng.random_range(0..3)],
        },
        3 => Noise::Autocorrelated {
            phi: [0.5, 0.8][rng.random_range(0..2)],
            sigma: [0.01, 0.02][rng.random_range(0..2)],
        },
        _ => random_persistent(rng),
    }
}

/// AR(1) noise proportional to the level: φ up to 0.99, σ 1–5% of the level.
pub fn random_persistent(rng: &mut StdRng) -> Noise {
    Noise::Persistent {
        phi: [0.5, 0.8, 0.9, 0.95, 0.99][rng.random_range(0..5)],
        sigma: [0.01, 0.02, 0.05][rng.random_range(0..3)],
    }
}
