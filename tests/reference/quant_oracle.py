#!/usr/bin/env python3
"""Checks Tokamak's quantization against gguf-py (llama.cpp's gguf.quants).

Usage: quant_oracle.py DIR

DIR holds manifest.json, written by tests/engine/quant/quant_oracle_test.cpp:
  {"cases": [{"name": ..., "type": "Q8_0", "rows": R, "cols": C,
              "checks": ["bytes", "dequantize"]}, ...]}
and per case:
  <name>.x.f32    the f32 input (rows x cols), absent for random-byte blocks
  <name>.q        Tokamak's quantized bytes (rows x row_bytes)
  <name>.deq.f32  Tokamak's dequantization of <name>.q (rows x cols)

Checks:
  bytes       gguf.quants.quantize(x, type) == <name>.q, byte for byte
  dequantize  gguf.quants.dequantize(<name>.q, type) == <name>.deq.f32 within
              1e-6 relative (to the value, or to the row's largest magnitude)

Exit status 0 when every check passes, 1 on any mismatch (details printed),
2 when gguf-py is missing or the directory is malformed.
"""

import json
import sys
from pathlib import Path

import numpy as np

try:
    from gguf import GGMLQuantizationType, GGML_QUANT_SIZES
    import gguf.quants as gq
except ImportError as e:  # pragma: no cover - reported to the C++ test
    print(f"quant_oracle: gguf-py is not importable: {e}", file=sys.stderr)
    sys.exit(2)

REL_TOL = 1e-6


def load_f32(path: Path, rows: int, cols: int) -> np.ndarray:
    data = np.fromfile(path, dtype=np.float32)
    if data.size != rows * cols:
        raise ValueError(f"{path}: {data.size} floats, expected {rows}x{cols}")
    return data.reshape(rows, cols)


def load_quant(path: Path, qtype: GGMLQuantizationType, rows: int, cols: int) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    row_bytes = cols // block_size * type_size
    data = np.fromfile(path, dtype=np.uint8)
    if data.size != rows * row_bytes:
        raise ValueError(f"{path}: {data.size} bytes, expected {rows}x{row_bytes}")
    data = data.reshape(rows, row_bytes)
    if qtype == GGMLQuantizationType.F16:
        return data.view(np.float16)
    return data


def describe_byte_mismatch(ours: bytes, theirs: bytes, qtype, cols: int) -> str:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    a = np.frombuffer(ours, dtype=np.uint8)
    b = np.frombuffer(theirs, dtype=np.uint8)
    if a.size != b.size:
        return f"sizes differ: ours {a.size} bytes, gguf-py {b.size} bytes"
    bad = np.flatnonzero(a != b)
    first = int(bad[0])
    block = first // type_size
    return (f"{bad.size} of {a.size} bytes differ; first at byte {first} (block {block}, "
            f"offset {first % type_size}): ours {a[first]:#04x}, gguf-py {b[first]:#04x}")


def check_case(d: Path, case: dict) -> list[str]:
    name, rows, cols = case["name"], case["rows"], case["cols"]
    qtype = GGMLQuantizationType[case["type"]]
    errors = []
    ours_q = load_quant(d / f"{name}.q", qtype, rows, cols)
    if "bytes" in case["checks"]:
        x = load_f32(d / f"{name}.x.f32", rows, cols)
        theirs_q = gq.quantize(x, qtype)
        if ours_q.tobytes() != theirs_q.tobytes():
            errors.append(f"{name} ({qtype.name}): quantized bytes differ from gguf-py: "
                          + describe_byte_mismatch(ours_q.tobytes(), theirs_q.tobytes(), qtype, cols))
    if "dequantize" in case["checks"]:
        ours = load_f32(d / f"{name}.deq.f32", rows, cols)
        theirs = gq.dequantize(ours_q, qtype).astype(np.float32).reshape(rows, cols)
        if not np.all(np.isfinite(theirs)):
            errors.append(f"{name} ({qtype.name}): gguf-py dequantized to non-finite values")
        scale = np.max(np.abs(theirs), axis=1, keepdims=True)
        tol = REL_TOL * np.maximum(np.abs(theirs), scale) + 1e-30
        diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
        bad = diff > tol
        if np.any(bad) or not np.array_equal(np.isnan(ours), np.isnan(theirs)):
            r, c = np.argwhere(bad | (np.isnan(ours) != np.isnan(theirs)))[0]
            errors.append(f"{name} ({qtype.name}): {int(bad.sum())} dequantized values differ "
                          f"beyond {REL_TOL} relative; first at row {r} col {c}: "
                          f"ours {ours[r, c]!r}, gguf-py {theirs[r, c]!r}")
        else:
            exact = int(np.sum(ours == theirs))
            print(f"  {name} ({qtype.name}): dequantize matches "
                  f"({exact}/{ours.size} bit-identical, max diff {diff.max():.3g})")
    if not errors and "bytes" in case["checks"]:
        print(f"  {name} ({qtype.name}): quantized bytes identical ({ours_q.nbytes} bytes)")
    return errors


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = Path(sys.argv[1])
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        print(f"quant_oracle: cannot read {d / 'manifest.json'}: {e}", file=sys.stderr)
        return 2
    errors = []
    for case in manifest["cases"]:
        try:
            errors += check_case(d, case)
        except (OSError, ValueError, KeyError, NotImplementedError) as e:
            errors.append(f"{case.get('name')}: {type(e).__name__}: {e}")
    for e in errors:
        print("MISMATCH " + e)
    print(f"quant_oracle: {len(manifest['cases'])} cases, {len(errors)} mismatches")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
