#!/usr/bin/env python3
"""Independent float64 numpy forward pass of GGUF "llama" and "qwen2" models.

Written from the published architectures (Llama 2/3 and Qwen2 papers and
llama.cpp's documented GGUF conventions), not from Tokamak's C++: it is the
reference the engine's CPU backend is compared with.

Weights are read with llama.cpp's own gguf-py (GGUFReader) and turned into
float64 with gguf.quants.dequantize, so the reference sees exactly the stored
bytes that the engine sees.

GGUF dimension order: a tensor with GGUF dims [ne0, ne1] is a numpy array of
shape (ne1, ne0), i.e. ne1 rows of ne0 values. A projection W with GGUF dims
[in, out] is therefore the (out, in) matrix of y = W x.

Forward pass per token sequence (positions 0..T-1):
  h = token_embd[tokens]                                   (T, dim)
  per layer:
    x = rmsnorm(h) * attn_norm
    q = x Wq^T (+ bq), k = x Wk^T (+ bk), v = x Wv^T (+ bv)  qwen2 has biases
    rope(q), rope(k)    llama: adjacent pairs (2i, 2i+1) of each head
                        qwen2: NEOX halves (i, i + rope_dim/2)
                        angle = pos * theta^(-2i/rope_dim) / freq_factor[i]
    head j of q attends to kv head j // (num_heads / num_kv_heads), causally,
    softmax(q k^T / sqrt(head_dim)) v
    h += attn Wo^T
    x = rmsnorm(h) * ffn_norm
    h += (silu(x Wg^T) * (x Wu^T)) Wd^T
  logits = (rmsnorm(h) * output_norm) Wout^T    Wout = token_embd when tied

Optional activation rounding (act_round=True) mimics what llama.cpp-style CPU
matrix products do to the *input* row of each product: Q8_0 blocks for
Q8_0/Q4_0 weights, Q8_K blocks for K-quant weights, f16 for F16 weights and
bf16 for BF16 weights. It is used to derive test tolerances, not as the
reference itself.

Usage as a script:
  llama_ref.py MODEL.gguf --tokens 1,2,3      prints the argmax at each position
  llama_ref.py MODEL.gguf --greedy 127        greedy decode from BOS
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize, quantize

QT = GGMLQuantizationType


@dataclass
class Config:
    arch: str
    dim: int
    hidden_dim: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rope_dim: int
    theta: float
    rms_eps: float
    vocab_size: int
    context_length: int
    neox: bool  # rotate halves (qwen2) instead of adjacent pairs (llama)
    freq_factors: np.ndarray | None = None  # (rope_dim / 2) divisors, or None
    linear_factor: float = 1.0  # rope.scaling.type "linear": positions / factor


@dataclass
class RefModel:
    cfg: Config
    weights: dict[str, np.ndarray]  # name -> float64 array (rows, row_length)
    types: dict[str, QT] = field(default_factory=dict)

    def w(self, name: str) -> np.ndarray:
        return self.weights[name]

    def has(self, name: str) -> bool:
        return name in self.weights


def _field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        if default is None:
            raise KeyError(f"{reader.data.filename if hasattr(reader.data, 'filename') else ''}: "
                           f"missing metadata key {key}")
        return default
    return f.contents()


def llama3_freq_factors(rope_dim: int, theta: float, factor: float, low_freq_factor: float,
                        high_freq_factor: float, original_context: int) -> np.ndarray:
    """Llama 3.1 frequency divisors, as Meta's apply_scaling defines them:
    wavelengths shorter than original_context / high_freq_factor are kept,
    longer than original_context / low_freq_factor are divided by factor,
    and the band between is interpolated smoothly."""
    out = np.empty(rope_dim // 2)
    low_wavelen = original_context / low_freq_factor
    high_wavelen = original_context / high_freq_factor
    for i in range(rope_dim // 2):
        freq = theta ** (-2.0 * i / rope_dim)
        wavelen = 2.0 * math.pi / freq
        if wavelen < high_wavelen:
            out[i] = 1.0
        elif wavelen > low_wavelen:
            out[i] = factor
        else:
            smooth = (original_context / wavelen - low_freq_factor) / (
                high_freq_factor - low_freq_factor)
            out[i] = 1.0 / ((1.0 - smooth) / factor + smooth)
    return out


def load(path: str) -> RefModel:
    reader = GGUFReader(path)
    arch = _field(reader, "general.architecture")
    if arch not in ("llama", "qwen2"):
        raise ValueError(f"{path}: architecture {arch!r} is not llama or qwen2")
    weights: dict[str, np.ndarray] = {}
    types: dict[str, QT] = {}
    for t in reader.tensors:
        ne = [int(n) for n in t.shape]  # GGUF order: ne0 first
        values = dequantize(np.asarray(t.data), t.tensor_type).astype(np.float64)
        shape = tuple(reversed(ne)) if len(ne) > 1 else (ne[0],)
        weights[t.name] = values.reshape(shape)
        types[t.name] = t.tensor_type

    def key(k, default=None):
        return _field(reader, f"{arch}.{k}", default)

    dim = int(key("embedding_length"))
    num_heads = int(key("attention.head_count"))
    head_dim = int(key("attention.key_length", dim // num_heads))
    rope_dim = int(key("rope.dimension_count", head_dim))
    theta = float(key("rope.freq_base", 10000.0))
    cfg = Config(
        arch=arch,
        dim=dim,
        hidden_dim=int(key("feed_forward_length")),
        num_layers=int(key("block_count")),
        num_heads=num_heads,
        num_kv_heads=int(key("attention.head_count_kv", num_heads)),
        head_dim=head_dim,
        rope_dim=rope_dim,
        theta=theta,
        rms_eps=float(key("attention.layer_norm_rms_epsilon")),
        vocab_size=weights["token_embd.weight"].shape[0],
        context_length=int(key("context_length")),
        neox=(arch == "qwen2"),
    )
    scaling = str(key("rope.scaling.type", "none"))
    factor = float(key("rope.scaling.factor", 1.0))
    if "rope_freqs.weight" in weights:
        cfg.freq_factors = weights["rope_freqs.weight"].reshape(-1)
    elif scaling == "llama3":
        cfg.freq_factors = llama3_freq_factors(
            rope_dim, theta, factor, float(key("rope.scaling.low_freq_factor", 1.0)),
            float(key("rope.scaling.high_freq_factor", 4.0)),
            int(key("rope.scaling.original_context_length", 8192)))
    elif scaling == "linear":
        cfg.linear_factor = factor
    elif scaling not in ("none", ""):
        raise ValueError(f"{path}: rope.scaling.type {scaling!r} not handled by the reference")
    return RefModel(cfg, weights, types)


# ---- activation rounding (for tolerance derivation only) -------------------

def _round_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _q8_k_roundtrip(x: np.ndarray) -> np.ndarray:
    """Q8_K activation blocks (256 values, float scale): the value of largest
    magnitude maps to -127, every value is rounded to the nearest step."""
    blocks = x.reshape(-1, 256)
    idx = np.abs(blocks).argmax(axis=1)
    mx = blocks[np.arange(blocks.shape[0]), idx][:, None]
    d = np.where(mx == 0, 0.0, mx / -127.0).astype(np.float32).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d == 0, 0.0, np.minimum(127.0, _round_away(blocks / d)))
    return (q * d).reshape(x.shape)


def round_activation(x: np.ndarray, weight_type: QT, round_half: bool = True) -> np.ndarray:
    """The input row of a matrix product as a llama.cpp-style CPU kernel sees
    it for weights of weight_type. round_half=False keeps float32 inputs for
    F16/BF16 weights (as our CPU backend does)."""
    if weight_type in (QT.Q8_0, QT.Q4_0):
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        return dequantize(quantize(x32, QT.Q8_0), QT.Q8_0).astype(np.float64).reshape(x.shape)
    if weight_type in (QT.Q4_K, QT.Q6_K):
        return _q8_k_roundtrip(x.astype(np.float32).astype(np.float64))
    if not round_half:
        return x
    if weight_type == QT.F16:
        return x.astype(np.float16).astype(np.float64)
    if weight_type == QT.BF16:
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        return dequantize(quantize(x32, QT.BF16), QT.BF16).astype(np.float64).reshape(x.shape)
    return x


# ---- the forward pass ------------------------------------------------------

class Forward:
    """One forward pass configuration. act_round: round matmul inputs as the
    CPU kernels do. dither: a numpy Generator; when given, each matmul input
    gets uniform noise of +-half a quantisation step of the weight's
    activation format instead of the deterministic rounding (used to sample
    how large such rounding errors can make the logits move)."""

    def __init__(self, model: RefModel, act_round: bool = False, dither=None,
                 gqa_modulo: bool = False, causal: bool = True, round_half: bool = True):
        self.m = model
        self.act_round = act_round
        self.round_half = round_half
        self.dither = dither
        # Deliberate bugs, for checking that a test would notice them:
        self.gqa_modulo = gqa_modulo  # q head j reads kv head j % num_kv_heads
        self.causal = causal  # False: every token sees the whole sequence

    def matmul(self, x: np.ndarray, name: str) -> np.ndarray:
        w = self.m.w(name)
        t = self.m.types[name]
        if self.dither is not None:
            x = x + self._dither_noise(x, t)
        elif self.act_round:
            x = round_activation(x, t, self.round_half)
        return x @ w.T

    def _dither_noise(self, x: np.ndarray, t: QT) -> np.ndarray:
        if t in (QT.Q8_0, QT.Q4_0, QT.Q4_K, QT.Q6_K):
            block = 32 if t in (QT.Q8_0, QT.Q4_0) else 256
            b = x.reshape(x.shape[0], -1, block)
            step = np.abs(b).max(axis=2, keepdims=True) / 127.0
            noise = self.dither.uniform(-0.5, 0.5, b.shape) * step
            return noise.reshape(x.shape)
        if t in (QT.F16, QT.BF16):
            mant = 11 if t == QT.F16 else 8
            ulp = 2.0 ** (np.floor(np.log2(np.abs(x) + 1e-300)) - (mant - 1))
            return self.dither.uniform(-0.5, 0.5, x.shape) * ulp
        return np.zeros_like(x)

    def rmsnorm(self, x: np.ndarray, name: str) -> np.ndarray:
        ms = np.mean(x * x, axis=-1, keepdims=True)
        return x / np.sqrt(ms + self.m.cfg.rms_eps) * self.m.w(name)

    def rope(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """x: (T, heads, head_dim). Rotates the first rope_dim values of each head."""
        c = self.m.cfg
        half = c.rope_dim // 2
        inv_freq = c.theta ** (-2.0 * np.arange(half) / c.rope_dim)
        if c.freq_factors is not None:
            inv_freq = inv_freq / c.freq_factors
        inv_freq = inv_freq / c.linear_factor
        angle = positions[:, None].astype(np.float64) * inv_freq[None, :]  # (T, half)
        cos = np.cos(angle)[:, None, :]
        sin = np.sin(angle)[:, None, :]
        out = x.copy()
        if c.neox:
            a = x[..., :half]
            b = x[..., half:c.rope_dim]
            out[..., :half] = a * cos - b * sin
            out[..., half:c.rope_dim] = a * sin + b * cos
        else:
            a = x[..., 0:c.rope_dim:2]
            b = x[..., 1:c.rope_dim:2]
            out[..., 0:c.rope_dim:2] = a * cos - b * sin
            out[..., 1:c.rope_dim:2] = a * sin + b * cos
        return out

    def attention(self, h: np.ndarray, layer: int, positions: np.ndarray) -> np.ndarray:
        c = self.m.cfg
        p = f"blk.{layer}."
        x = self.rmsnorm(h, p + "attn_norm.weight")
        q = self.matmul(x, p + "attn_q.weight")
        k = self.matmul(x, p + "attn_k.weight")
        v = self.matmul(x, p + "attn_v.weight")
        if self.m.has(p + "attn_q.bias"):
            q = q + self.m.w(p + "attn_q.bias")
            k = k + self.m.w(p + "attn_k.bias")
            v = v + self.m.w(p + "attn_v.bias")
        T = h.shape[0]
        q = self.rope(q.reshape(T, c.num_heads, c.head_dim), positions)
        k = self.rope(k.reshape(T, c.num_kv_heads, c.head_dim), positions)
        v = v.reshape(T, c.num_kv_heads, c.head_dim)
        group = c.num_heads // c.num_kv_heads
        causal = positions[None, :] <= positions[:, None]  # (T query, T key)
        if not self.causal:
            causal = np.ones_like(causal)
        out = np.empty((T, c.num_heads, c.head_dim))
        for head in range(c.num_heads):
            kv = head % c.num_kv_heads if self.gqa_modulo else head // group
            scores = q[:, head, :] @ k[:, kv, :].T / math.sqrt(c.head_dim)  # (T, T)
            scores = np.where(causal, scores, -np.inf)
            scores -= scores.max(axis=1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=1, keepdims=True)
            out[:, head, :] = probs @ v[:, kv, :]
        return self.matmul(out.reshape(T, c.num_heads * c.head_dim), p + "attn_output.weight")

    def ffn(self, h: np.ndarray, layer: int) -> np.ndarray:
        p = f"blk.{layer}."
        x = self.rmsnorm(h, p + "ffn_norm.weight")
        gate = self.matmul(x, p + "ffn_gate.weight")
        up = self.matmul(x, p + "ffn_up.weight")
        act = gate / (1.0 + np.exp(-gate)) * up
        return self.matmul(act, p + "ffn_down.weight")

    def logits(self, tokens) -> np.ndarray:
        """(T, vocab) logits at every position of one sequence starting at 0."""
        c = self.m.cfg
        tokens = np.asarray(tokens, dtype=np.int64)
        positions = np.arange(len(tokens))
        h = self.m.w("token_embd.weight")[tokens].copy()
        for layer in range(c.num_layers):
            h = h + self.attention(h, layer, positions)
            h = h + self.ffn(h, layer)
        x = self.rmsnorm(h, "output_norm.weight")
        out_name = "output.weight" if self.m.has("output.weight") else "token_embd.weight"
        return self.matmul(x, out_name)


def logits(model: RefModel, tokens, act_round: bool = False) -> np.ndarray:
    return Forward(model, act_round=act_round).logits(tokens)


def greedy(model: RefModel, first_token: int, num_tokens: int) -> list[int]:
    seq = [first_token]
    out = []
    for _ in range(num_tokens):
        nxt = int(np.argmax(logits(model, seq)[-1]))
        out.append(nxt)
        seq.append(nxt)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tokens", help="comma-separated token ids")
    ap.add_argument("--greedy", type=int, help="greedy-decode this many tokens from BOS")
    ap.add_argument("--bos", type=int, default=1)
    args = ap.parse_args()
    m = load(args.model)
    if args.greedy:
        print(" ".join(str(t) for t in greedy(m, args.bos, args.greedy)))
    if args.tokens:
        lg = logits(m, [int(t) for t in args.tokens.split(",")])
        print(" ".join(str(int(i)) for i in lg.argmax(axis=1)))


if __name__ == "__main__":
    main()
