#!/usr/bin/env python3
"""Writes tiny random-weight GGUF models with llama.cpp's gguf-py and their
reference logits from llama_ref.py (float64 numpy).

Every model is seeded (numpy default_rng), so regenerating gives the same
bytes. See tests/reference/README.md for the configurations and tolerances.

  # maintainer: regenerate everything that is committed
  make_reference_models.py --fixtures tests/fixtures/reference --scratch /tmp/ref
  # test time (ctest fixture): write the models that are not committed
  make_reference_models.py --fixtures tests/fixtures/reference --generate-only OUT_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, replace

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter, LlamaFileType
from gguf.quants import dequantize, quantize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

QT = GGMLQuantizationType
NUM_TOKENS = 12
BOS, EOS, UNK = 1, 2, 0
FLOOR_REL = 1e-4  # float32 accumulation allowance, times max |logit|
ROUNDING_SAFETY = 2.0  # times the largest sampled activation-rounding deviation
NUM_DITHER_RUNS = 8
ABLATION_MARGIN = 3.0  # every ablation must move the logits by > this x tolerance


@dataclass(frozen=True)
class Spec:
    name: str
    description: str
    seed: int
    arch: str = "llama"
    wtype: QT = QT.F32  # type of every matrix (and token_embd / output)
    dim: int = 32
    hidden_dim: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    tied: bool = False
    bias: bool = False
    theta: float = 10000.0
    rms_eps: float = 1e-5
    rope_freqs_tensor: bool = False  # llama3 factors stored as rope_freqs.weight
    rope_llama3_meta: bool = False  # llama3 factors given as rope.scaling.* keys
    rope_linear: float = 0.0  # rope.scaling.type linear with this factor
    committed: bool = True  # model file is committed (else generated at test time)
    head_dim: int = 0  # 0: dim / num_heads; else written as attention.key_length
    rope_dim: int = 0  # 0: head_dim; else rope.dimension_count (partial rotation)
    # Per-tensor type overrides (name suffix, type), like llama.cpp's mixes.
    overrides: tuple = ()
    num_tokens: int = NUM_TOKENS
    stored_rows: tuple = ()  # positions whose logits are stored; () = all
    model_of: str = ""  # reuse the model file of this spec (a longer sequence)

    def head_width(self) -> int:
        return self.head_dim or self.dim // self.num_heads

    def type_of(self, name: str) -> QT:
        for suffix, t in self.overrides:
            if name.endswith(suffix):
                return t
        return self.wtype

    def all_types(self) -> set:
        return {self.wtype} | {t for _, t in self.overrides}


LLAMA3 = dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_context=64)

SPECS = [
    Spec("llama_f32_gqa", "llama F32, dim 64, 2 layers, 4 heads / 2 kv heads (GQA), untied", 101,
         dim=64, hidden_dim=64, committed=False),
    Spec("llama_f32_tied_mha", "llama F32, tied embeddings, 4 heads = 4 kv heads", 102,
         num_kv_heads=4, tied=True),
    Spec("llama_f32_rope_freqs", "llama F32, llama3 rope scaling as rope_freqs.weight, theta 5e5",
         103, theta=500000.0, rope_freqs_tensor=True, num_heads=2, num_kv_heads=1, num_layers=1),
    Spec("llama_f32_rope_llama3_meta", "llama F32, llama3 rope scaling as rope.scaling.* metadata",
         104, theta=500000.0, rope_llama3_meta=True, num_heads=2, num_kv_heads=1, num_layers=1),
    Spec("llama_f32_rope_linear", "llama F32, linear rope scaling factor 4 (metadata)", 105,
         rope_linear=4.0, num_heads=2, num_kv_heads=2, num_layers=1),
    Spec("qwen2_f32", "qwen2 F32, q/k/v biases, NEOX rope, tied, GQA, theta 1e6", 106,
         arch="qwen2", bias=True, tied=True, theta=1000000.0, rms_eps=1e-6),
    Spec("llama_f16", "llama, F16 matrices and embeddings, F32 norms", 107, wtype=QT.F16),
    Spec("llama_bf16", "llama, BF16 matrices and embeddings, F32 norms", 108, wtype=QT.BF16),
    Spec("llama_q8_0", "llama, Q8_0 matrices and embeddings (gguf.quants)", 109, wtype=QT.Q8_0,
         dim=64, hidden_dim=96),
    Spec("llama_q4_0", "llama, Q4_0 matrices and embeddings (gguf.quants)", 110, wtype=QT.Q4_0,
         dim=64, hidden_dim=96),
    Spec("qwen2_q8_0", "qwen2, Q8_0, biases, tied, 1 layer", 111, arch="qwen2", bias=True,
         tied=True, wtype=QT.Q8_0, num_layers=1, theta=1000000.0),
    Spec("llama_q4_k", "llama, Q4_K random valid blocks, dim 256, hidden 512, 1 layer", 112,
         wtype=QT.Q4_K, dim=256, hidden_dim=512, num_layers=1, committed=False),
    Spec("llama_q6_k", "llama, Q6_K random valid blocks, dim 256, hidden 512, 1 layer", 113,
         wtype=QT.Q6_K, dim=256, hidden_dim=512, num_layers=1, committed=False),
    Spec("llama_q4_k_m_mix", "llama, Q4_K_M-like mix: Q4_K, Q6_K attn_v/ffn_down/output, "
         "Q8_0 token_embd, F16 attn_output", 114, wtype=QT.Q4_K, dim=256, hidden_dim=256,
         num_layers=1, committed=False,
         overrides=(("attn_v.weight", QT.Q6_K), ("ffn_down.weight", QT.Q6_K),
                    ("output.weight", QT.Q6_K), ("token_embd.weight", QT.Q8_0),
                    ("attn_output.weight", QT.F16))),
    Spec("llama_f32_partial_rope", "llama F32, rope.dimension_count 8 of head width 16", 115,
         num_heads=2, num_kv_heads=1, rope_dim=8, num_layers=1, committed=False),
    Spec("qwen2_f32_partial_rope", "qwen2 F32 (NEOX), rope.dimension_count 8 of head width 16",
         116, arch="qwen2", bias=True, num_heads=2, num_kv_heads=1, rope_dim=8, num_layers=1,
         committed=False),
    Spec("llama_f32_key_length", "llama F32, attention.key_length 16 with dim 32 and 4 heads "
         "(q width 64 != dim)", 117, head_dim=16, num_layers=1, committed=False),
]


# ---- vocabulary: SentencePiece-style "llama" with byte fallback ------------

def vocab_pieces():
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256  # unknown, control, control, byte
    scores = [0.0] * len(tokens)
    return tokens, scores, types


# ---- weights ---------------------------------------------------------------

def random_k_blocks(rng, qtype: QT, rows: int, cols: int, target_std: float) -> np.ndarray:
    """Random bytes for every field of Q4_K / Q6_K blocks, with f16 scales
    chosen so that each block's values have about target_std spread (and,
    for Q4_K, about zero mean). Returns (rows, cols / 256 * block_bytes)."""
    nb = rows * cols // 256
    if qtype == QT.Q4_K:
        raw = rng.integers(0, 256, size=(nb, 144), dtype=np.uint8)
        one = np.array([1.0], dtype=np.float16).view(np.uint8)
        zero = np.array([0.0], dtype=np.float16).view(np.uint8)
        a_blocks = raw.copy()  # d = 1, dmin = 0  -> sc * q
        a_blocks[:, 0:2], a_blocks[:, 2:4] = one, zero
        b_blocks = raw.copy()  # d = 0, dmin = 1  -> -m
        b_blocks[:, 0:2], b_blocks[:, 2:4] = zero, one
        a = dequantize(a_blocks, qtype).reshape(nb, 256).astype(np.float64)
        b = dequantize(b_blocks, qtype).reshape(nb, 256).astype(np.float64)
        ratio = a.mean(axis=1) / np.maximum(-b.mean(axis=1), 1e-3)
        spread = (a + ratio[:, None] * b).std(axis=1)
        d = target_std / np.maximum(spread, 1e-3)
        raw[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(nb, 2)
        raw[:, 2:4] = (d * ratio).astype(np.float16).view(np.uint8).reshape(nb, 2)
        return raw.reshape(rows, -1)
    if qtype == QT.Q6_K:
        raw = rng.integers(0, 256, size=(nb, 210), dtype=np.uint8)
        raw[:, 208:210] = np.array([1.0], dtype=np.float16).view(np.uint8)
        a = dequantize(raw, qtype).reshape(nb, 256).astype(np.float64)
        d = target_std / np.maximum(a.std(axis=1), 1e-3)
        raw[:, 208:210] = d.astype(np.float16).view(np.uint8).reshape(nb, 2)
        return raw.reshape(rows, -1)
    raise ValueError(qtype)


def encode_matrix(rng, qtype: QT, rows: int, cols: int, std: float):
    """(array for GGUFWriter.add_tensor, raw_dtype) of a (rows, cols) matrix."""
    if qtype in (QT.Q4_K, QT.Q6_K):
        return random_k_blocks(rng, qtype, rows, cols, std), qtype
    w = (rng.standard_normal((rows, cols)) * std).astype(np.float32)
    if qtype == QT.F32:
        return w, None
    if qtype == QT.F16:
        return w.astype(np.float16), None
    return quantize(w, qtype), qtype


def file_type(qtype: QT) -> int:
    return {
        QT.F32: LlamaFileType.ALL_F32, QT.F16: LlamaFileType.MOSTLY_F16,
        QT.BF16: LlamaFileType.MOSTLY_BF16, QT.Q8_0: LlamaFileType.MOSTLY_Q8_0,
        QT.Q4_0: LlamaFileType.MOSTLY_Q4_0, QT.Q4_K: LlamaFileType.MOSTLY_Q4_K_S,
        QT.Q6_K: LlamaFileType.MOSTLY_Q6_K,
    }[qtype]


def write_model(spec: Spec, path: str) -> None:
    rng = np.random.default_rng(spec.seed)
    tokens, scores, types = vocab_pieces()
    vocab = len(tokens)
    head_dim = spec.head_width()
    q_dim = spec.num_heads * head_dim
    kv_dim = spec.num_kv_heads * head_dim
    rope_dim = spec.rope_dim or head_dim

    w = GGUFWriter(path, spec.arch)
    w.add_name(spec.name)
    if spec.arch == "llama":
        w.add_vocab_size(vocab)
    w.add_context_length(256)
    w.add_embedding_length(spec.dim)
    w.add_block_count(spec.num_layers)
    w.add_feed_forward_length(spec.hidden_dim)
    if spec.head_dim:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_rope_dimension_count(rope_dim)
    w.add_head_count(spec.num_heads)
    w.add_head_count_kv(spec.num_kv_heads)
    w.add_layer_norm_rms_eps(spec.rms_eps)
    w.add_rope_freq_base(spec.theta)
    if spec.rope_llama3_meta:
        # llama.cpp's converter stores llama3 factors as rope_freqs.weight; these
        # keys are what our model layer also accepts (llama.cpp key names).
        w.add_string(f"{spec.arch}.rope.scaling.type", "llama3")
        w.add_rope_scaling_factor(LLAMA3["factor"])
        w.add_float32(f"{spec.arch}.rope.scaling.low_freq_factor", LLAMA3["low_freq_factor"])
        w.add_float32(f"{spec.arch}.rope.scaling.high_freq_factor", LLAMA3["high_freq_factor"])
        w.add_rope_scaling_orig_ctx_len(LLAMA3["original_context"])
    if spec.rope_linear:
        w.add_string(f"{spec.arch}.rope.scaling.type", "linear")
        w.add_rope_scaling_factor(spec.rope_linear)
    w.add_file_type(LlamaFileType.MOSTLY_Q4_K_M if spec.overrides else file_type(spec.wtype))
    if spec.all_types() - {QT.F32, QT.F16, QT.BF16}:
        w.add_quantization_version(2)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_unk_token_id(UNK)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def matrix(name, rows, cols, std):
        arr, raw = encode_matrix(rng, spec.type_of(name), rows, cols, std)
        w.add_tensor(name, arr, raw_dtype=raw)

    def vector(name, values):
        w.add_tensor(name, np.asarray(values, dtype=np.float32))

    matrix("token_embd.weight", vocab, spec.dim, 0.5)
    if spec.rope_freqs_tensor:
        vector("rope_freqs.weight", llama_ref.llama3_freq_factors(
            rope_dim, spec.theta, LLAMA3["factor"], LLAMA3["low_freq_factor"],
            LLAMA3["high_freq_factor"], LLAMA3["original_context"]))
    for layer in range(spec.num_layers):
        p = f"blk.{layer}."
        vector(p + "attn_norm.weight", rng.uniform(0.5, 1.5, spec.dim))
        matrix(p + "attn_q.weight", q_dim, spec.dim, spec.dim ** -0.5)
        matrix(p + "attn_k.weight", kv_dim, spec.dim, spec.dim ** -0.5)
        matrix(p + "attn_v.weight", kv_dim, spec.dim, spec.dim ** -0.5)
        if spec.bias:
            vector(p + "attn_q.bias", rng.standard_normal(q_dim) * 0.5)
            vector(p + "attn_k.bias", rng.standard_normal(kv_dim) * 0.5)
            vector(p + "attn_v.bias", rng.standard_normal(kv_dim) * 0.5)
        matrix(p + "attn_output.weight", spec.dim, q_dim, q_dim ** -0.5)
        vector(p + "ffn_norm.weight", rng.uniform(0.5, 1.5, spec.dim))
        matrix(p + "ffn_gate.weight", spec.hidden_dim, spec.dim, spec.dim ** -0.5)
        matrix(p + "ffn_up.weight", spec.hidden_dim, spec.dim, spec.dim ** -0.5)
        matrix(p + "ffn_down.weight", spec.dim, spec.hidden_dim, spec.hidden_dim ** -0.5)
    vector("output_norm.weight", rng.uniform(0.5, 1.5, spec.dim))
    if not spec.tied:
        matrix("output.weight", vocab, spec.dim, spec.dim ** -0.5)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def prompt_tokens(spec: Spec) -> list[int]:
    rng = np.random.default_rng(spec.seed + 1000)
    return [BOS] + [int(t) for t in rng.integers(3, 259, spec.num_tokens - 1)]


def long_variant(base: Spec, num_tokens: int, rows: tuple) -> Spec:
    """The same model run on a longer sequence: past KV tile and block sizes
    and, for the llama3 models, past rope's original context (64)."""
    return replace(base, name=base.name + f"_long{num_tokens}", num_tokens=num_tokens,
                   stored_rows=rows, model_of=base.name,
                   description=base.description + f"; {num_tokens} tokens, some rows stored")


LONG_ROWS = (0, 1, 15, 16, 31, 32, 47, 63, 64, 65, 79, 95)
SPECS += [long_variant(s, 96, LONG_ROWS) for s in SPECS
          if s.name in ("llama_f32_gqa", "llama_f32_rope_freqs", "qwen2_f32", "llama_q8_0")]


def model_file(spec: Spec) -> str:
    return (spec.model_of or spec.name) + ".gguf"


def tensor_sha256(path: str) -> str:
    """Hash of every tensor's name, type, shape and stored bytes (not of the
    metadata layout, which may differ between gguf-py versions)."""
    h = hashlib.sha256()
    for t in GGUFReader(path).tensors:
        h.update(f"{t.name}:{int(t.tensor_type)}:{list(map(int, t.shape))};".encode())
        h.update(np.ascontiguousarray(t.data).tobytes())
    return h.hexdigest()


# ---- expected logits and tolerances ---------------------------------------

def ablations(model: llama_ref.RefModel, tokens, ref: np.ndarray, rows) -> dict[str, float]:
    """Max |logit change| of plausible engine bugs; each must exceed the
    tolerance by a wide margin, or the test could not see that bug."""
    out = {}

    def diff(m, **kw):
        return float(np.abs(llama_ref.Forward(m, **kw).logits(tokens) - ref)[rows].max())

    c = model.cfg
    out["rope_style_swapped"] = diff(replace(model, cfg=replace(c, neox=not c.neox)))
    if c.freq_factors is not None:
        out["no_freq_factors"] = diff(replace(model, cfg=replace(c, freq_factors=None)))
    if c.rope_dim != c.head_dim:
        out["rope_all_dims"] = diff(replace(model, cfg=replace(c, rope_dim=c.head_dim)))
    if c.linear_factor != 1.0:
        out["no_linear_scaling"] = diff(replace(model, cfg=replace(c, linear_factor=1.0)))
    if 1 < c.num_kv_heads < c.num_heads:
        out["kv_head_modulo"] = diff(model, gqa_modulo=True)
    if model.has("blk.0.attn_q.bias"):
        nobias = {k: v for k, v in model.weights.items() if not k.endswith(".bias")}
        out["no_qkv_bias"] = diff(replace(model, weights=nobias))
    out["no_causal_mask"] = diff(model, causal=False)
    return out


def expected(spec: Spec, model_path: str) -> tuple[dict, np.ndarray]:
    model = llama_ref.load(model_path)
    tokens = prompt_tokens(spec)
    ref = llama_ref.logits(model, tokens)
    rows = list(spec.stored_rows) or list(range(len(tokens)))
    max_abs = float(np.abs(ref[rows]).max())
    # Our CPU backend's rounding: Q8_0 / Q8_K inputs for quantized weights only.
    cpu_rounded = llama_ref.Forward(model, act_round=True, round_half=False).logits(tokens)
    runs = [cpu_rounded, llama_ref.logits(model, tokens, act_round=True)]
    dither = np.random.default_rng(spec.seed + 2000)
    if spec.all_types() != {QT.F32}:
        for _ in range(NUM_DITHER_RUNS):
            runs.append(llama_ref.Forward(model, dither=dither).logits(tokens))
    rounding = max(float(np.abs(r - ref)[rows].max()) for r in runs)
    tol_rounded = FLOOR_REL * max_abs + ROUNDING_SAFETY * rounding
    # Our CPU backend keeps fp32 activations for F16/BF16 weights (their
    # values are exact in fp32), so only the float32 floor applies there.
    # A backend that rounds activations to half precision uses tolerance_rounded.
    fp32_acts = spec.all_types() <= {QT.F32, QT.F16, QT.BF16}
    tol = FLOOR_REL * max_abs if fp32_acts else tol_rounded
    abl = ablations(model, tokens, ref, rows)
    for k, v in abl.items():
        if v < ABLATION_MARGIN * tol:
            raise SystemExit(f"{spec.name}: ablation {k} moves logits by only {v:.3g}, "
                             f"tolerance {tol:.3g}: the test would not catch that bug")
    entry = {
        "name": spec.name,
        "description": spec.description,
        "arch": spec.arch,
        "weight_type": "+".join(sorted(t.name for t in spec.all_types())),
        "model": model_file(spec),
        "committed": spec.committed,
        "tensor_sha256": tensor_sha256(model_path),
        "tokens": tokens,
        "logits": spec.name + ".logits.f32",
        "logits_act_rounded": (None if fp32_acts
                               else spec.name + ".logits_act_rounded.f32"),
        "num_tokens": len(tokens),
        "rows": rows,
        "vocab_size": model.cfg.vocab_size,
        "max_abs_logit": max_abs,
        "activation_rounding_deviation": rounding,
        "tolerance_abs": tol,
        "tolerance_rounded_activations_abs": tol_rounded,
        "ablations": abl,
    }
    return entry, np.stack([ref[rows], cpu_rounded[rows]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", required=True, help="tests/fixtures/reference")
    ap.add_argument("--scratch", help="where uncommitted models go when regenerating all")
    ap.add_argument("--generate-only", metavar="DIR",
                    help="write only the uncommitted models into DIR and check their hashes")
    ap.add_argument("--only", help="comma-separated model names")
    args = ap.parse_args()
    specs = [s for s in SPECS if not args.only or s.name in args.only.split(",")]
    manifest_path = os.path.join(args.fixtures, "manifest.json")

    if args.generate_only:
        with open(manifest_path) as f:
            hashes = {m["name"]: m["tensor_sha256"] for m in json.load(f)["models"]}
        os.makedirs(args.generate_only, exist_ok=True)
        for s in specs:
            if s.committed or s.model_of:
                continue
            path = os.path.join(args.generate_only, s.name + ".gguf")
            # Written aside and renamed, so that a reader never sees half a file.
            write_model(s, path + ".partial")
            got = tensor_sha256(path + ".partial")
            if got != hashes.get(s.name):
                raise SystemExit(f"{path}: regenerated tensors hash {got} but the manifest says "
                                 f"{hashes.get(s.name)}; numpy or gguf-py changed the bytes: "
                                 "rerun make_reference_models.py to refresh the fixtures")
            os.replace(path + ".partial", path)
            print(f"wrote {path}")
        return

    if not args.scratch:
        ap.error("--scratch is required when regenerating the fixtures")
    os.makedirs(args.fixtures, exist_ok=True)
    os.makedirs(args.scratch, exist_ok=True)
    entries = []
    old = {}
    if args.only and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
    for s in specs:
        path = os.path.join(args.fixtures if s.committed else args.scratch, model_file(s))
        if not s.model_of:
            write_model(s, path)
        entry, logits = expected(s, path)
        logits[0].astype("<f4").tofile(os.path.join(args.fixtures, entry["logits"]))
        if entry["logits_act_rounded"]:
            logits[1].astype("<f4").tofile(
                os.path.join(args.fixtures, entry["logits_act_rounded"]))
        entries.append(entry)
        print(f"{s.name:28s} {os.path.getsize(path):8d} bytes  max|logit| "
              f"{entry['max_abs_logit']:.3f}  rounding {entry['activation_rounding_deviation']:.3g}"
              f"  tol {entry['tolerance_abs']:.3g}  min ablation {min(entry['ablations'].values()):.3g}")
    old.update({e["name"]: e for e in entries})
    ordered = [old[s.name] for s in SPECS if s.name in old]
    manifest = {
        "format": 1,
        "generator": "tests/reference/make_reference_models.py",
        "reference": "tests/reference/llama_ref.py",
        "logits_layout": "little-endian float32, (num_tokens, vocab_size) row-major",
        "tolerance": f"|engine - reference| <= tolerance_abs at every logit; tolerance_abs = "
                     f"{FLOOR_REL} * max_abs_logit + {ROUNDING_SAFETY} * "
                     "activation_rounding_deviation (see README.md)",
        "models": ordered,
    }
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
