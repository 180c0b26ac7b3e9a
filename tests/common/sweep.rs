//! A learning-rate sweep with known truth, from a seed: V-JEPA run directories (`jepa_r0.csv` with
//! the upstream header, `params-pretrain.yaml`) whose shape is decided by the run's peak LR —
//! the shapes DESIGN §1 describes for a JEPA LR sweep:
//!
//! | peak LR            | truth     | JEPA loss                                   | reg-loss                       |
//! |--------------------|-----------|---------------------------------------------|--------------------------------|
//! | < 1e-4             | `stall`   | barely moves (≤ 3% of its start)            | flat near 0.9                  |
//! | 1e-4 ..< 5e-4      | `healthy` | exponential descent to a floor              | falls                          |
//! | 5e-4 ..< 4e-3      | `rebound` | descends, bottoms out, gives back ~30%      | keeps falling (benign)         |
//! | ≥ 4e-3             | `collapse`| falls to ~3% of its start                   | rises from 0.5 to ≥ 0.97, held |
//!
//! Noise is multiplicative AR(1) (φ 0.5, 2% of the level), so the collapsed curve is as noisy
//! relative to its level as the others. Used by tests/compare.rs and examples/gen_sweep.rs.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// What a run of the sweep is, by construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Truth {
    Stall,
    Healthy,
    Rebound,
    Collapse,
}

impl Truth {
    pub fn of_lr(lr: f64) -> Truth {
        if lr < 1e-4 {
            Truth::Stall
        } else if lr < 5e-4 {
            Truth::Healthy
        } else if lr < 4e-3 {
            Truth::Rebound
        } else {
            Truth::Collapse
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Truth::Stall => "stall",
            Truth::Healthy => "healthy",
            Truth::Rebound => "rebound",
            Truth::Collapse => "collapse",
        }
    }
}

/// Epochs and iterations per epoch of every run (1,000 steps).
pub const EPOCHS: u64 = 10;
pub const IPE: u64 = 100;

/// `(jepa, reg)` at progress `t` ∈ [0, 1] for a run of this truth; `jitter` ∈ [0, 1) varies the
/// time constants a little between runs.
fn shape(truth: Truth, t: f64, jitter: f64) -> (f64, f64) {
    let j = 0.8 + 0.4 * jitter;
    match truth {
        Truth::Stall => (0.8 - 0.02 * t, 0.9 - 0.01 * t),
        Truth::Healthy => (
            0.3 + 0.5 * (-t / (0.15 * j)).exp(),
            0.3 + 0.6 * (-t / (0.25 * j)).exp(),
        ),
        Truth::Rebound => (
            0.3 + 0.5 * (-t / (0.08 * j)).exp() + 0.2 * (t - 0.3).max(0.0),
            0.25 + 0.65 * (-t / (0.3 * j)).exp(),
        ),
        Truth::Collapse => (
            0.8 * (0.03 + 0.97 * (-t / (0.12 * j)).exp()),
            0.5 + 0.485 * (1.0 - (-t / (0.12 * j)).exp()),
        ),
    }
}

/// Writes one run directory `dir` for peak LR `lr`, seeded by `seed`.
pub fn write_run(dir: &Path, lr: f64, seed: u64) -> std::io::Result<Truth> {
    let truth = Truth::of_lr(lr);
    let mut rng = StdRng::seed_from_u64(seed);
    let jitter: f64 = {
        let z: f64 = StandardNormal.sample(&mut rng);
        (0.5 + 0.2 * z).clamp(0.0, 0.99)
    };
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from(
        "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n",
    );
    let n = EPOCHS * IPE;
    let (mut ej, mut er) = (0.0f64, 0.0f64);
    for step in 0..n {
        let t = step as f64 / (n - 1) as f64;
        let (jepa, reg) = shape(truth, t, jitter);
        let zj: f64 = StandardNormal.sample(&mut rng);
        let zr: f64 = StandardNormal.sample(&mut rng);
        ej = 0.5 * ej + 0.866 * zj;
        er = 0.5 * er + 0.866 * zr;
        let jepa = jepa * (1.0 + 0.02 * ej);
        let reg = (reg * (1.0 + 0.01 * er)).clamp(0.0, 1.0);
        let (epoch, itr) = (step / IPE + 1, step % IPE);
        let grad = if step < IPE {
            0.0
        } else {
            1.0 + 0.1 * zj.abs()
        };
        let _ = writeln!(
            csv,
            "{epoch},{itr},{jepa:.5},{jepa:.5},{reg:.5},{grad:.5},{grad:.5},700,705"
        );
    }
    std::fs::write(dir.join("jepa_r0.csv"), csv)?;
    std::fs::write(dir.join("params-pretrain.yaml"), params(lr))?;
    Ok(truth)
}

/// The params YAML of a run (V-JEPA layout; only the LR differs between runs).
pub fn params(lr: f64) -> String {
    format!(
        "data:\n  batch_size: 32\nlogging:\n  folder: runs/sweep\n  write_tag: jepa\nloss:\n  reg_coeff: 0.0\n\
         model:\n  model_name: vit_tiny\n  pred_depth: 6\n  pred_embed_dim: 192\n\
         optimization:\n  ema:\n  - 0.996\n  - 1.0\n  epochs: {EPOCHS}\n  final_lr: 1.0e-06\n  ipe: {IPE}\n  ipe_scale: 1.0\n  lr: {lr:e}\n  start_lr: 1.0e-06\n  warmup: 1\n  weight_decay: 0.04\n"
    )
}

/// Peak LRs of an `n`-run sweep, log-spaced from 1e-5 to 3e-2.
pub fn sweep_lrs(n: usize) -> Vec<f64> {
    let (lo, hi) = (1e-5f64.ln(), 3e-2f64.ln());
    (0..n)
        .map(|i| {
            let x = (lo + (hi - lo) * i as f64 / (n.max(2) - 1) as f64).exp();
            // Two significant digits, as people write learning rates.
            let e = x.log10().floor();
            (x / 10f64.powf(e) * 10.0).round() / 10.0 * 10f64.powf(e)
        })
        .collect()
}

/// Writes an `n`-run sweep under `root` (`lr_<value>` directories); returns (dir, lr, truth).
pub fn write_sweep(
    root: &Path,
    n: usize,
    seed: u64,
) -> std::io::Result<Vec<(std::path::PathBuf, f64, Truth)>> {
    sweep_lrs(n)
        .into_iter()
        .enumerate()
        .map(|(i, lr)| {
            let dir = root.join(format!("lr_{lr:.1e}"));
            let truth = write_run(&dir, lr, seed.wrapping_add(i as u64))?;
            Ok((dir, lr, truth))
        })
        .collect()
}
