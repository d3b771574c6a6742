#!/usr/bin/env python3
"""Writes percentile_fixture.json: samples and numpy's percentiles of them.

The C++ percentile() (app/bench/serve_metrics.h) must agree with numpy's
default method ("linear"). Run from this folder:
    python3 make_percentile_fixture.py
"""
import json

import numpy as np

rng = np.random.default_rng(20261121)
cases = []
samples = [
    [42.0],
    [1.0, 2.0],
    [3.0, 1.0, 2.0],
    list(rng.exponential(12.5, size=7)),
    list(rng.lognormal(3.0, 1.0, size=100)),
    list(rng.uniform(0.0, 1000.0, size=1001)),
    list(np.round(rng.normal(50.0, 20.0, size=37), 1)),  # with ties
]
for s in samples:
    ps = [0.0, 1.0, 10.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0]
    values = np.percentile(np.array(s, dtype=np.float64), ps)
    cases.append({
        "samples": [float(x) for x in s],
        "percentiles": ps,
        "expected": [float(v) for v in values],
        "mean": float(np.mean(s)),
    })
with open("percentile_fixture.json", "w") as f:
    json.dump({"numpy_version": np.__version__, "cases": cases}, f)
    f.write("\n")
