#!/usr/bin/env python3
"""Tiny random Hugging Face model folders plus reference logits, for testing
Tokamak's HF -> GGUF converter (tests/integration/convert_hf_test.cpp).

    python3 make_hf_fixture.py OUT_DIR

writes OUT_DIR/{llama,mistral,qwen2}/ (config.json, *.safetensors,
tokenizer.json, tokenizer_config.json) and OUT_DIR/manifest.json. The logits
come from this file's own numpy forward pass of the Hugging Face model
(transformers' conventions: rotate-half RoPE, llama3 rope scaling, GQA,
qwen2 biases, tied embeddings), in float64 from the stored weights.

  llama    LlamaForCausalLM, BF16 weights in two shards with an index,
           GQA 4/2, untied, rope_scaling llama3, vocab padded past the tokenizer
  mistral  MistralForCausalLM, F32 single file, MHA, rope_theta 1e6
  qwen2    Qwen2ForCausalLM, F16 single file, q/k/v biases, tied embeddings

Exit code 77 when numpy, safetensors or tokenizers is missing (the test skips).
Self-contained: independent of tests/reference/llama_ref.py on purpose.
"""
import json
import math
import os
import struct
import sys

try:
    import numpy as np
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
except ImportError as e:  # pragma: no cover
    print(f"make_hf_fixture: missing Python module: {e}", file=sys.stderr)
    sys.exit(77)

TEXT = """Tokamak runs small language models on your own computer.
The quick brown fox jumps over the lazy dog. Magnetic confinement keeps the plasma hot,
and the torus shape lets the field lines close on themselves. 1234567890 !?.,;:
Attention is all you need; rotary embeddings rotate pairs of query and key values.
"""
TOKENS = [5, 17, 42, 100, 7, 250, 3, 64, 199, 12, 88, 150, 33, 2]
ENCODE_TEXT = "The plasma field lines rotate, and the fox jumps 42 times!"


def make_tokenizer(special):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([TEXT] * 4, trainer=trainer)
    return tok


def to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_bits_to_f32(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def write_bf16_safetensors(path, tensors):
    """safetensors with BF16 data (numpy has no bfloat16 dtype), by the spec:
    u64 header length, JSON header, data."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        bits = to_bf16_bits(tensors[name])
        data = bits.tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def random_weights(rng, cfg, tied, bias):
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // nh
    w = {"model.embed_tokens.weight": rng.normal(0, 0.5, (v, d)),
         "model.norm.weight": 1.0 + rng.normal(0, 0.1, d)}
    if not tied:
        w["lm_head.weight"] = rng.normal(0, 0.15, (v, d))
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1.0 + rng.normal(0, 0.1, d)
        w[p + "post_attention_layernorm.weight"] = 1.0 + rng.normal(0, 0.1, d)
        w[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.25, (nh * hd, d))
        w[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.25, (nkv * hd, d))
        w[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.15, (nkv * hd, d))
        w[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.15, (d, nh * hd))
        if bias:
            w[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.3, nh * hd)
            w[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.3, nkv * hd)
            w[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.1, nkv * hd)
        w[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.15, (f, d))
        w[p + "mlp.up_proj.weight"] = rng.normal(0, 0.15, (f, d))
        w[p + "mlp.down_proj.weight"] = rng.normal(0, 0.1, (d, f))
    return {k: v.astype(np.float32) for k, v in w.items()}


def inv_freqs(cfg):
    """transformers' default and llama3 rope parameters."""
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wl) & ~(wavelen > low_wl)
        inv = np.where(medium, smoothed, scaled)
    return inv


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(cfg, w, tokens, tied):
    """logits (T, vocab) of the HF model for `tokens`, float64."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    d, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, T = d // nh, cfg["rms_norm_eps"], len(tokens)
    inv = inv_freqs(cfg)
    ang = np.outer(np.arange(T, dtype=np.float64), inv)     # (T, hd/2)
    emb = np.concatenate([ang, ang], axis=-1)                # (T, hd)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    x = w["model.embed_tokens.weight"][tokens]               # (T, d)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = h @ w[p + "self_attn.q_proj.weight"].T
        k = h @ w[p + "self_attn.k_proj.weight"].T
        v = h @ w[p + "self_attn.v_proj.weight"].T
        if p + "self_attn.q_proj.bias" in w:
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
        q = q.reshape(T, nh, hd)
        k = k.reshape(T, nkv, hd)
        v = v.reshape(T, nkv, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = nh // nkv
        k = np.repeat(k, rep, axis=1)
        v = np.repeat(v, rep, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(T, nh * hd)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    out = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    return x @ out.T


def make_model(root, name, arch, dtype, cfg_extra, tied, bias, special, tok_cfg, seed):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    tok = make_tokenizer(special)
    tok.save(os.path.join(folder, "tokenizer.json"))
    n_tok = tok.get_vocab_size()
    cfg = {"architectures": [arch], "hidden_size": 64, "intermediate_size": 160,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 128,
           "vocab_size": n_tok, "tie_word_embeddings": tied, "hidden_act": "silu",
           "torch_dtype": {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}[dtype]}
    cfg.update(cfg_extra)
    rng = np.random.default_rng(seed)
    w = random_weights(rng, cfg, tied, bias)
    # What the file holds, exactly: the reference uses the rounded values.
    if dtype == "BF16":
        w = {k: bf16_bits_to_f32(to_bf16_bits(v)).reshape(v.shape) for k, v in w.items()}
        names = sorted(w)
        shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
                  "model-00002-of-00002.safetensors": names[len(names) // 2:]}
        weight_map = {}
        for shard, keys in shards.items():
            write_bf16_safetensors(os.path.join(folder, shard), {k: w[k] for k in keys})
            weight_map.update({k: shard for k in keys})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    else:
        np_dtype = np.float16 if dtype == "F16" else np.float32
        stored = {k: v.astype(np_dtype) for k, v in w.items()}
        save_file(stored, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        w = {k: v.astype(np.float32) for k, v in stored.items()}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=1)
    logits = forward(cfg, w, TOKENS, tied).astype(np.float32)
    logits_file = name + "_logits.bin"
    logits.tofile(os.path.join(root, logits_file))
    return {"name": name, "dir": name, "arch": arch, "tokens": TOKENS,
            "vocab_size": cfg["vocab_size"], "tokenizer_size": n_tok,
            "logits_file": logits_file,
            "text": ENCODE_TEXT, "text_ids": tok.encode(ENCODE_TEXT).ids,
            "chat_template": tok_cfg.get("chat_template", "")}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    llama_tpl = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    qwen_tpl = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                "{% endif %}")
    models_out = [
        make_model(root, "llama", "LlamaForCausalLM", "BF16",
                   {"vocab_size": 320, "rope_theta": 10000.0,
                    "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                                     "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 32}},
                   tied=False, bias=False, special=["<unk>", "<s>", "</s>"],
                   tok_cfg={"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True,
                            "chat_template": llama_tpl}, seed=1),
        make_model(root, "mistral", "MistralForCausalLM", "F32",
                   {"num_key_value_heads": 4, "rope_theta": 1000000.0, "sliding_window": None},
                   tied=False, bias=False, special=["<unk>", "<s>", "</s>"],
                   tok_cfg={"bos_token": "<s>", "eos_token": "</s>"}, seed=2),
        make_model(root, "qwen2", "Qwen2ForCausalLM", "F16",
                   {"rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
                   tied=True, bias=True, special=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                   tok_cfg={"bos_token": None, "eos_token": "<|im_end|>",
                            "chat_template": qwen_tpl}, seed=3),
    ]
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump({"models": models_out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
