#!/usr/bin/env python3
"""Hugging Face cross-check (GPU machine: PyTorch + transformers, no network).

Builds a transformers LlamaForCausalLM or Qwen2ForCausalLM from a config with
seeded random weights (nothing is downloaded), saves it as a Hugging Face
folder (config.json, model.safetensors, a tiny byte-level BPE tokenizer.json,
tokenizer_config.json), runs it on a token list in float64 and saves the
logits. Our HF converter + tokamak-cli are then compared with these logits:

  hf_compare.py make --arch llama --out /tmp/hf_llama [--dtype bfloat16]
      [--rope-scaling llama3] [--tied] [--gguf]
  # ... convert /tmp/hf_llama with our converter, run its tokens, dump
  #     float32 logits (num_tokens, vocab) to engine.f32 ...
  hf_compare.py check --out /tmp/hf_llama --logits engine.f32

Files written into --out besides the HF folder content:
  reference.json       {arch, tokens, vocab_size, max_abs_logit, tolerance_abs}
  reference_logits.f32 little-endian float32 (num_tokens, vocab_size)

With --gguf (needs the gguf package) the same weights are also written as
reference.gguf the way llama.cpp's converter lays them out (llama: Q/K rows
permuted from rotate-half to adjacent pairs), and llama_ref.py's logits for
it are compared with transformers': an independent check of llama_ref.py.

Weights are drawn at a scale where activations stay O(1) (norm weights in
[0.5, 1.5], projections ~ N(0, 1/in)), so that logits spread over several
units and a wrong rope convention or head mapping moves them visibly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

DEFAULT_TOKENS = [0, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 260, 261]
FLOOR_REL = 1e-4  # float32 engine vs float64 reference, times max |logit|


def byte_level_tokenizer(out_dir: str) -> int:
    """Writes tokenizer.json (byte-level BPE: <s>, </s>, 256 byte symbols and
    a few merges) and tokenizer_config.json. Returns the vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_chars = [chr(c) for c in cs]  # GPT-2 byte-to-unicode, in order of bs
    symbols = ["<s>", "</s>"] + [byte_chars[bs.index(b)] for b in range(256)]
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n")]
    vocab = {s: i for i, s in enumerate(symbols)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<s>", "</s>"])
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True,
                   "add_eos_token": False, "model_max_length": 256,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
    return len(vocab)


def build_model(args, vocab_size: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common = dict(vocab_size=vocab_size, hidden_size=args.dim, intermediate_size=args.hidden_dim,
                  num_hidden_layers=args.layers, num_attention_heads=args.heads,
                  num_key_value_heads=args.kv_heads, max_position_embeddings=256,
                  rms_norm_eps=1e-5, rope_theta=args.theta, tie_word_embeddings=args.tied,
                  bos_token_id=0, eos_token_id=1)
    if args.rope_scaling == "llama3":
        common["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 64}
    elif args.rope_scaling == "linear":
        common["rope_scaling"] = {"rope_type": "linear", "factor": 4.0}
    if args.arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common, attention_bias=False))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**common, use_sliding_window=False))
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * p.shape[1] ** -0.5)
    # transformers >= 5 keeps rope settings in config.rope_parameters; older
    # versions in rope_theta / rope_scaling. Check that ours were taken.
    rope = getattr(model.config, "rope_parameters", None) or {
        "rope_theta": model.config.rope_theta, **(model.config.rope_scaling or {})}
    want_type = "default" if args.rope_scaling == "none" else args.rope_scaling
    if float(rope.get("rope_theta")) != args.theta or rope.get("rope_type", "default") != want_type:
        raise SystemExit(f"transformers did not take the rope settings: {rope}")
    # Rope inverse frequencies are buffers: keep them out of the half-precision
    # cast (HF would round them to bf16), the reference wants exact angles.
    inv_freqs = {n: b.detach().clone() for n, b in model.named_buffers() if "inv_freq" in n}
    dtype = getattr(torch, args.dtype)
    model = model.to(dtype)  # the stored values: what every implementation sees
    return model, inv_freqs


def restore_buffers(model, buffers: dict, dtype) -> None:
    for name, value in buffers.items():
        module_path, _, attr = name.rpartition(".")
        module = model.get_submodule(module_path) if module_path else model
        module._buffers[attr] = value.to(dtype)


def permute_rotate_half_to_pairs(w: np.ndarray, num_heads: int) -> np.ndarray:
    """Rows of a Q or K projection, per head: HF row i (< head_dim / 2) and
    i + head_dim / 2 form one rotation pair; GGUF llama wants them at rows
    2i and 2i + 1."""
    head_dim = w.shape[0] // num_heads
    return (w.reshape(num_heads, 2, head_dim // 2, *w.shape[1:]).swapaxes(1, 2)
            .reshape(w.shape))


def write_gguf(model, args, path: str) -> None:
    import gguf

    sd = {k: v.detach().to("cpu").float().numpy() for k, v in model.state_dict().items()}
    cfg = model.config
    w = gguf.GGUFWriter(path, args.arch)
    w.add_context_length(256)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(args.theta)
    if args.rope_scaling == "linear":
        w.add_string(f"{args.arch}.rope.scaling.type", "linear")
        w.add_rope_scaling_factor(4.0)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(cfg.vocab_size)])
    w.add_token_types([1] * cfg.vocab_size)
    w.add_token_merges([])
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    if args.rope_scaling == "llama3":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import llama_ref
        w.add_tensor("rope_freqs.weight", llama_ref.llama3_freq_factors(
            head_dim, args.theta, 8.0, 1.0, 4.0, 64).astype(np.float32))
    names = {"embed_tokens": "token_embd", "input_layernorm": "attn_norm",
             "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
             "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for key, value in sd.items():
        parts = key.split(".")
        if key == "lm_head.weight":
            if args.tied:
                continue
            out = "output.weight"
        elif key == "model.norm.weight":
            out = "output_norm.weight"
        elif key == "model.embed_tokens.weight":
            out = "token_embd.weight"
        else:  # model.layers.N.<module>.(weight|bias)
            layer, module, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
            out = f"blk.{layer}.{names[module]}.{kind}"
            if args.arch == "llama" and module in ("self_attn.q_proj", "self_attn.k_proj"):
                heads = cfg.num_attention_heads if "q_proj" in module else cfg.num_key_value_heads
                value = permute_rotate_half_to_pairs(value, heads)
        w.add_tensor(out, np.ascontiguousarray(value, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def legacy_rope_keys(path: str) -> None:
    """Rewrites transformers >= 5's "rope_parameters" as the older top-level
    "rope_theta" and "rope_scaling" keys (what checkpoints published before
    transformers 5 carry)."""
    with open(path) as f:
        cfg = json.load(f)
    rope = cfg.pop("rope_parameters", None)
    if rope is None:
        return
    cfg["rope_theta"] = rope.pop("rope_theta")
    if rope.get("rope_type", "default") != "default":
        cfg["rope_scaling"] = rope
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def make(args) -> None:
    import torch

    os.makedirs(args.out, exist_ok=True)
    vocab_size = byte_level_tokenizer(args.out)
    model, inv_freqs = build_model(args, vocab_size)
    model.save_pretrained(args.out, safe_serialization=True)
    if args.legacy_config:
        legacy_rope_keys(os.path.join(args.out, "config.json"))
    tokens = [int(t) for t in args.tokens.split(",")] if args.tokens else DEFAULT_TOKENS
    tokens = [t % vocab_size for t in tokens]
    ref = model.to(torch.float64)
    restore_buffers(ref, inv_freqs, torch.float64)
    with torch.no_grad():
        logits = ref(torch.tensor([tokens])).logits[0].numpy()  # (T, vocab) float64
    logits.astype("<f4").tofile(os.path.join(args.out, "reference_logits.f32"))
    max_abs = float(np.abs(logits).max())
    info = {"arch": args.arch, "dtype": args.dtype, "rope_scaling": args.rope_scaling,
            "tied": args.tied, "tokens": tokens, "vocab_size": vocab_size,
            "max_abs_logit": max_abs, "tolerance_abs": FLOOR_REL * max_abs,
            "note": "float64 transformers forward of the stored weights; tolerance is for "
                    "float weights (F32/F16/BF16 GGUF) with fp32 activations"}
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"{args.out}: {args.arch} vocab {vocab_size}, {len(tokens)} tokens, "
          f"max|logit| {max_abs:.3f}")
    if args.gguf:
        path = os.path.join(args.out, "reference.gguf")
        write_gguf(model, args, path)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import llama_ref
        mine = llama_ref.logits(llama_ref.load(path), tokens)
        diff = float(np.abs(mine - logits).max())
        ok = diff <= FLOOR_REL * max_abs * 0.01
        print(f"llama_ref.py on {path} vs transformers: max|diff| {diff:.3g} "
              f"({'ok' if ok else 'MISMATCH'})")
        if not ok:
            sys.exit(1)


def check(args) -> None:
    with open(os.path.join(args.out, "reference.json")) as f:
        info = json.load(f)
    shape = (len(info["tokens"]), info["vocab_size"])
    want = np.fromfile(os.path.join(args.out, "reference_logits.f32"), dtype="<f4").reshape(shape)
    got = np.fromfile(args.logits, dtype="<f4")
    if got.size != want.size:
        sys.exit(f"{args.logits}: {got.size} values, expected {want.size} ({shape})")
    diff = np.abs(got.reshape(shape).astype(np.float64) - want)
    where = np.unravel_index(int(diff.argmax()), shape)
    tol = args.tolerance if args.tolerance else info["tolerance_abs"]
    print(f"max|diff| {diff.max():.3g} at position {where[0]}, token {where[1]}; "
          f"tolerance {tol:.3g}")
    sys.exit(0 if diff.max() <= tol else 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--arch", choices=["llama", "qwen2"], default="llama")
    m.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    m.add_argument("--rope-scaling", choices=["none", "llama3", "linear"], default="none")
    m.add_argument("--tied", action="store_true")
    m.add_argument("--dim", type=int, default=64)
    m.add_argument("--hidden-dim", type=int, default=128)
    m.add_argument("--layers", type=int, default=2)
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--kv-heads", type=int, default=2)
    m.add_argument("--theta", type=float, default=10000.0)
    m.add_argument("--seed", type=int, default=7)
    m.add_argument("--tokens", help="comma-separated ids (default: a fixed list of 16)")
    m.add_argument("--legacy-config", action="store_true",
                   help="write rope_theta / rope_scaling instead of rope_parameters")
    m.add_argument("--gguf", action="store_true",
                   help="also write reference.gguf and check llama_ref.py against transformers")
    c = sub.add_parser("check")
    c.add_argument("--out", required=True)
    c.add_argument("--logits", required=True, help="engine logits, float32 (tokens, vocab)")
    c.add_argument("--tolerance", type=float)
    args = ap.parse_args()
    make(args) if args.cmd == "make" else check(args)


if __name__ == "__main__":
    main()
