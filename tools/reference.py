#!/usr/bin/env python3
"""Reference values for jepa-doctor's statistics (dev-only; not needed to build or test).

Computes, on a few fixed series, what the reference Python implementations give:
  - ruptures (Truong et al.) PELT with the "l2" (mean shift) and "linear" (segment-wise linear
    trend) costs, jump=1, for a given penalty and minimum segment length;
  - pymannkendall's Mann-Kendall test (tie-corrected variance), the Hamed-Rao (1998)
    autocorrelation-corrected variant, and Sen's slope.
The series and the results are written to fixtures/reference/stats_reference.json; the Rust unit
tests in src/stats/ read that file and must agree (same changepoints, p-values to 1e-6).

    pip install ruptures==1.1.10 pymannkendall==1.4.3 numpy scipy
    python3 tools/reference.py
"""
import json
import math
import os

import numpy as np
import pymannkendall as mk
import ruptures as rpt


def series():
    rng = np.random.default_rng(20261127)
    out = {}
    # 1. three levels: mean shifts at 70 and 140
    y = np.concatenate([np.full(70, 1.0), np.full(70, 0.6), np.full(60, 0.75)])
    out["three_levels"] = y + rng.normal(0, 0.05, y.size)
    # 2. descent then rise (a V), noisy
    t = np.linspace(0, 1, 150)
    out["v_shape"] = np.where(t < 0.55, 1.0 - 1.2 * t, 0.34 + 0.8 * (t - 0.55)) + rng.normal(0, 0.03, t.size)
    # 3. plateau: pure noise
    out["plateau"] = 0.3 + rng.normal(0, 0.02, 100)
    # 4. trend with AR(1) noise (positive autocorrelation, for Hamed-Rao)
    e = np.zeros(300)
    for i in range(1, 300):
        e[i] = 0.8 * e[i - 1] + rng.normal(0, 0.02)
    out["ar1_trend"] = 0.5 + 0.0004 * np.arange(300) + e
    # 5. rounded values: many ties
    out["ties"] = np.round(0.2 + 0.002 * np.arange(60) + rng.normal(0, 0.02, 60), 2)
    # 6. exponential decay then a rise, with three spikes
    t = np.linspace(0, 1, 250)
    y = 0.25 + 0.6 * np.exp(-t / 0.12) + np.where(t > 0.6, 0.3 * (t - 0.6), 0.0)
    y = y + rng.normal(0, 0.01, t.size)
    y[[40, 120, 200]] += [0.5, 0.8, 0.4]
    out["decay_rise_spikes"] = y
    return out


def noise_var(y):
    """Robust noise variance from second differences: (MAD / 0.6745)^2 / 6."""
    d2 = np.diff(y, 2)
    mad = np.median(np.abs(d2 - np.median(d2)))
    return (mad / 0.6744897501960817) ** 2 / 6.0


def main():
    cases = []
    for name, y in series().items():
        y = [float(v) for v in y]
        arr = np.asarray(y)
        n = arr.size
        x = np.arange(n, dtype=float)
        s2 = noise_var(arr)
        case = {"name": name, "values": y, "noise_var": s2}
        min_size = max(3, n // 50)
        pen_l2 = 2.0 * s2 * math.log(n)
        pen_lin = 3.0 * s2 * math.log(n)
        case["pelt_l2"] = {
            "penalty": pen_l2,
            "min_size": min_size,
            "breakpoints": rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(arr).predict(pen=pen_l2),
        }
        design = np.column_stack([arr, x, np.ones(n)])
        case["pelt_linear"] = {
            "penalty": pen_lin,
            "min_size": min_size,
            "breakpoints": rpt.Pelt(model="linear", min_size=min_size, jump=1).fit(design).predict(pen=pen_lin),
        }
        o = mk.original_test(arr)
        case["mann_kendall"] = {"s": float(o.s), "var_s": float(o.var_s), "z": float(o.z), "p": float(o.p), "tau": float(o.Tau)}
        h = mk.hamed_rao_modification_test(arr)
        case["hamed_rao"] = {"s": float(h.s), "var_s": float(h.var_s), "z": float(h.z), "p": float(h.p)}
        ss = mk.sens_slope(arr)
        case["sens_slope"] = {"slope": float(ss.slope), "intercept": float(ss.intercept)}
        cases.append(case)
    meta = {
        "generated_by": "tools/reference.py",
        "ruptures": rpt.__version__,
        "pymannkendall": mk.__version__,
        "numpy": np.__version__,
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "fixtures", "reference", "stats_reference.json")
    with open(path, "w") as f:
        json.dump({"meta": meta, "cases": cases}, f, indent=1)
        f.write("\n")
    for c in cases:
        print(c["name"], "l2", c["pelt_l2"]["breakpoints"], "linear", c["pelt_linear"]["breakpoints"],
              "mk p=%.3g" % c["mann_kendall"]["p"], "hr p=%.3g" % c["hamed_rao"]["p"])


if __name__ == "__main__":
    main()
