#!/usr/bin/env python3
"""Writes the synthetic run fixtures under fixtures/synthetic/ (dev-only; the files are committed).

Each run is a V-JEPA-style CSV (`epoch,itr,loss,loss-jepa,reg-loss,...`, 1-based epochs, `itr`
restarting every epoch) with a params YAML, built from a known curve plus seeded noise, so the
tests know the truth. Re-run after changing a shape: python3 tools/make_fixtures.py
"""
import json
import math
import os
import random

HEADER = "epoch,itr,loss,loss-jepa,reg-loss,enc-grad-norm,pred-grad-norm,gpu-time(ms),wall-time(ms)\n"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "synthetic")


def params(lr=6.25e-4, start_lr=2e-4, final_lr=1e-6, warmup=2, epochs=20, ipe=100, reg_coeff=0.0,
           ema=(0.998, 1.0), ipe_scale=1.25, pred_depth=6, pred_embed_dim=192):
    return f"""data:
  batch_size: 32
loss:
  loss_exp: 1.0
  reg_coeff: {reg_coeff}
mask:
- num_blocks: 8
  spatial_scale: [0.15, 0.15]
- num_blocks: 2
  spatial_scale: [0.7, 0.7]
model:
  model_name: vit_tiny
  pred_depth: {pred_depth}
  pred_embed_dim: {pred_embed_dim}
optimization:
  clip_grad: 10.0
  ema: [{ema[0]}, {ema[1]}]
  epochs: {epochs}
  final_lr: {final_lr}
  ipe: {ipe}
  ipe_scale: {ipe_scale}
  lr: {lr}
  start_lr: {start_lr}
  warmup: {warmup}
  weight_decay: 0.04
"""


def write_run(name, jepa, reg, ipe=100, yaml=None, grad=None, nan_tail=0):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(name)
    rows = []
    for s, (j, r) in enumerate(zip(jepa, reg)):
        e, i = s // ipe + 1, s % ipe
        g = grad(s) if grad else (0.0 if e <= 3 else 0.1 + 0.02 * rng.random())
        rows.append(f"{e},{i},{j:.5f},{j:.5f},{r:.5f},{g:.5f},{3 * g:.5f},{450 + rng.randrange(20)},{455 + rng.randrange(20)}\n")
    for k in range(nan_tail):
        s = len(jepa) + k
        rows.append(f"{s // ipe + 1},{s % ipe},nan,nan,{reg[-1]:.5f},nan,nan,450,455\n")
    with open(os.path.join(d, "jepa_r0.csv"), "w") as f:
        f.write(HEADER + "".join(rows))
    with open(os.path.join(d, "params-pretrain.yaml"), "w") as f:
        f.write(yaml or params())


def noisy(curve, n, sigma, seed):
    rng = random.Random(seed)
    return [max(1e-4, curve(s / (n - 1)) + rng.gauss(0, sigma)) for s in range(n)]


def main():
    n = 2000
    reg_falling = noisy(lambda t: 0.35 + 0.5 * math.exp(-t / 0.25), n, 0.01, 1)
    # Descends to a minimum at 40% of the run, then gives back ~30% of the descent while the
    # reg-loss keeps falling: shifting EMA targets.
    def rebound(t):
        base = 0.25 + 0.6 * math.exp(-t / 0.08)
        return base + (0.18 * (t - 0.4) / 0.6 if t > 0.4 else 0.0)
    write_run("rebound_reg_falling", noisy(rebound, n, 0.012, 2), reg_falling)
    # The same rebound while reg-loss climbs toward 1: predictions collapsing.
    reg_rising = noisy(lambda t: 0.35 + 0.5 * math.exp(-t / 0.1) + (0.5 * (t - 0.4) / 0.6 if t > 0.4 else 0.0), n, 0.01, 3)
    write_run("rebound_reg_rising", noisy(rebound, n, 0.012, 4), [min(1.0, r) for r in reg_rising])
    # Early rise during warmup (2 epochs), then a healthy descent to a floor: no finding.
    def warm(t):
        return 0.9 + 0.3 * t / 0.1 if t < 0.1 else 0.2 + 1.0 * math.exp(-(t - 0.1) / 0.12)
    write_run("warmup_rise_then_fall", noisy(warm, n, 0.01, 5), reg_falling)

    # Collapse: a healthy descent, then at 60% the loss drops to near zero while reg-loss -> 1.
    def collapse(t):
        level = 0.25 + 0.6 * math.exp(-min(t, 0.6) / 0.12)
        return level if t < 0.6 else level * (1 - 0.96 * min(1.0, (t - 0.6) / 0.01))
    reg_collapse = noisy(lambda t: 0.35 + 0.5 * math.exp(-t / 0.2) if t < 0.6
                         else min(0.99, 0.37 + 0.62 * min(1.0, (t - 0.6) / 0.02)), n, 0.005, 7)
    write_run("collapse", noisy(collapse, n, 0.006, 6), [min(1.0, r) for r in reg_collapse])

    # LR 1e-5: a slow descent that is still going at the end.
    slow = noisy(lambda t: 0.3 + 0.6 * math.exp(-t / 0.9), n, 0.01, 8)
    write_run("lr_too_low", slow, reg_falling,
              yaml=params(lr=1e-5, start_lr=1e-6, final_lr=1e-7))

    # Diverges: NaN losses at the end, like V-JEPA before its assert.
    diverge = noisy(lambda t: 0.25 + 0.6 * math.exp(-t / 0.1) + (3.0 * (t - 0.9) ** 2 if t > 0.9 else 0), n - 3, 0.01, 9)
    write_run("diverged", diverge, reg_falling[: n - 3], nan_tail=3)

    # Periodic crashes: after the descent the loss creeps up and drops suddenly every 300 steps.
    def saw(t):
        s = t * (n - 1)
        base = 0.3 + 0.5 * math.exp(-t / 0.05)
        if s < 500:
            return base
        return base + 0.12 * (((s - 500) % 300) / 300)
    write_run("periodic_crashes", noisy(saw, n, 0.004, 10), reg_falling)

    # No warmup, no decay: a constant LR from the first step, and a constant EMA.
    write_run("no_warmup_no_decay", noisy(lambda t: 0.25 + 0.6 * math.exp(-t / 0.1), n, 0.01, 11), reg_falling,
              yaml=params(lr=6.25e-4, start_lr=6.25e-4, final_lr=6.25e-4, warmup=0, ema=(0.998, 0.998)))

    # Warmup longer than the run.
    write_run("warmup_longer_than_run", noisy(lambda t: 0.25 + 0.6 * math.exp(-t / 0.1), 600, 0.01, 12),
              reg_falling[:600], yaml=params(warmup=10, epochs=6))

    # Spikes on a healthy descent.
    spiky = noisy(lambda t: 0.25 + 0.6 * math.exp(-t / 0.1), n, 0.01, 13)
    for s_, k in ((420, 3.0), (900, 4.5), (1333, 2.6), (1700, 3.4)):
        spiky[s_] *= k
    write_run("spiky", spiky, reg_falling)

    # Eight epoch averages: too few points.
    d = os.path.join(OUT, "few_epochs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "epoch_means.csv"), "w") as f:
        f.write("epoch,train_loss\n")
        for e, v in enumerate([0.92, 0.61, 0.44, 0.37, 0.39, 0.42, 0.44, 0.47]):
            f.write(f"{e + 1},{v}\n")

    # A rebound while a downstream probe gets worse (JSON lines, eval every 200 steps).
    rng = random.Random(14)
    lines = []
    for s_ in range(0, 3000, 10):
        t = s_ / 2999
        loss = 0.3 + 0.6 * math.exp(-t / 0.08) + (0.25 * (t - 0.4) / 0.6 if t > 0.4 else 0) + rng.gauss(0, 0.01)
        lines.append(json.dumps({"step": s_, "train/loss_jepa": round(loss, 5), "train/lr": 5e-4}))
        if s_ % 200 == 0:
            acc = 0.2 + 0.4 * (1 - math.exp(-t / 0.15)) - (0.15 * (t - 0.45) if t > 0.45 else 0)
            lines.append(json.dumps({"step": s_, "eval/knn_top1": round(acc, 4)}))
    d = os.path.join(OUT, "rebound_probe_falls")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
