#!/usr/bin/env python3
"""Checks the reference itself (ctest: reference_llama_ref_selfcheck).

1. llama_ref.py greedy-decodes the real trained aidreams260K model (GGUF
   written by llama.cpp's convert-llama2c-to-ggml) from BOS and must give
   exactly the 127 ids of greedy_from_bos.txt (made with llama2.c's math).
2. The committed fixtures are what make_reference_models.py writes today:
   every regenerated model has the tensor hash recorded in the manifest, and
   the reference logits recomputed from it match the stored ones.
3. The reference is sensitive to what it must get right: NEOX rope instead
   of adjacent pairs changes the aidreams greedy ids.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402
import make_reference_models as gen  # noqa: E402


def check_aidreams(shared_data: str) -> list[str]:
    folder = os.path.join(shared_data, "models", "aidreams260K")
    model = llama_ref.load(os.path.join(folder, "aidreams260K-llamacpp-f32.gguf"))
    with open(os.path.join(folder, "greedy_from_bos.txt")) as f:
        want = [int(t) for t in f.read().split()]
    got = llama_ref.greedy(model, 1, len(want))
    errors = []
    if got != want:
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        errors.append(f"aidreams260K greedy: id {first} is {got[first]}, expected {want[first]}")
    else:
        print(f"aidreams260K: all {len(want)} greedy ids match")
    neox = llama_ref.RefModel(
        llama_ref.Config(**{**model.cfg.__dict__, "neox": True}), model.weights, model.types)
    if llama_ref.greedy(neox, 1, 16) == want[:16]:
        errors.append("aidreams260K: NEOX rope gives the same first 16 ids; check is not sensitive")
    return errors


def check_fixtures(fixtures: str, scratch: str) -> list[str]:
    with open(os.path.join(fixtures, "manifest.json")) as f:
        manifest = json.load(f)
    os.makedirs(scratch, exist_ok=True)
    errors = []
    by_name = {s.name: s for s in gen.SPECS}
    for m in manifest["models"]:
        spec = by_name.get(m["name"])
        if spec is None:
            errors.append(f"{m['name']}: in the manifest but not in make_reference_models.SPECS")
            continue
        path = os.path.join(scratch, m["model"])
        gen.write_model(by_name[spec.model_of] if spec.model_of else spec, path)
        if gen.tensor_sha256(path) != m["tensor_sha256"]:
            errors.append(f"{m['name']}: regenerated tensors differ from the manifest's hash")
            continue
        if m["committed"]:
            committed = os.path.join(fixtures, m["model"])
            if gen.tensor_sha256(committed) != m["tensor_sha256"]:
                errors.append(f"{committed}: tensor hash differs from the manifest")
        stored = np.fromfile(os.path.join(fixtures, m["logits"]), dtype="<f4")
        ref = llama_ref.logits(llama_ref.load(path), m["tokens"])[m["rows"]]
        diff = float(np.abs(stored.reshape(ref.shape) - ref).max())
        if diff > 1e-5 * m["max_abs_logit"]:
            errors.append(f"{m['name']}: stored logits differ from recomputed by {diff:.3g}")
        print(f"{m['name']}: regenerated, hash ok, stored logits within {diff:.2g}")
    return errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared-data", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--scratch", required=True)
    args = ap.parse_args()
    errors = check_aidreams(args.shared_data) + check_fixtures(args.fixtures, args.scratch)
    for e in errors:
        print("FAIL:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
