#!/usr/bin/env python3
"""Reference byte-level BPE tokenization with Hugging Face `tokenizers`.

Builds a ByteLevel BPE from GPT-2 style encoder.json + vocab.bpe with the
Llama 3 pre-tokenizer (Split on Llama 3's regex, isolated, then ByteLevel
without its own regex), as Meta's tokenizer.json defines it, and encodes
texts without special tokens.

usage: tokenizer_oracle.py ENCODER_JSON VOCAB_BPE TEXTS_JSON OUT_JSON [--pre llama-bpe|qwen2|gpt-2]
                           [--save TOKENIZER_JSON]
  TEXTS_JSON: a JSON list of strings; OUT_JSON: a JSON list of id lists.
  --save also writes the tokenizer as a Hugging Face tokenizer.json (for
  llama-bpe with Llama 3's 256 special tokens added as special tokens).
Exit code 3 when the `tokenizers` package is missing (the caller skips).

usage: tokenizer_oracle.py --compare-gguf OURS.gguf THEIRS.gguf [--skip-first-merge]
  Reads both files with llama.cpp's gguf-py and checks that every
  tokenizer.* key of THEIRS is in OURS with the same GGUF type and value
  (--skip-first-merge: OURS has one extra merge in front). Exit 0 when they
  agree, 1 with the differences printed, 3 when gguf-py is missing.
"""
import json
import sys

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen2's tokenizer.json: as Llama 3's but one digit at a time.
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")


def llama3_special_tokens():
    """Meta's Llama 3.1+ special tokens, ids 128000..128255 in order."""
    named = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 4: "<|finetune_right_pad_id|>",
             6: "<|start_header_id|>", 7: "<|end_header_id|>", 8: "<|eom_id|>",
             9: "<|eot_id|>", 10: "<|python_tag|>"}
    reserved = iter(range(256))
    return [named[i] if i in named else f"<|reserved_special_token_{next(reserved)}|>"
            for i in range(256)]


def load_merges(path):
    merges = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f.read().split("\n")):
            line = line.rstrip("\r")
            if not line or (number == 0 and line.startswith("#version")):
                continue
            left, right = line.split(" ", 1)
            merges.append((left, right))
    return merges


def build(encoder_path, merges_path, pre):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    with open(encoder_path, encoding="utf-8") as f:
        vocab = json.load(f)
    merges = load_merges(merges_path)
    llama3 = pre == "llama-bpe"
    model = models.BPE(vocab=vocab, merges=merges, ignore_merges=llama3)
    tok = Tokenizer(model)
    if pre in ("llama-bpe", "qwen2"):
        pattern = LLAMA3_PATTERN if llama3 else QWEN2_PATTERN
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:  # gpt-2: ByteLevel's built-in GPT-2 regex
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def gguf_fields(path):
    import gguf

    reader = gguf.GGUFReader(path)
    out = {}
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        types = [t.name for t in field.types]
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            if field.types[-1] == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8", "surrogateescape") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
        elif field.types[0] == gguf.GGUFValueType.STRING:
            value = bytes(field.parts[field.data[0]]).decode("utf-8")
        else:
            value = field.parts[field.data[0]].tolist()[0]
        out[name] = (types, value)
    return out


def compare_gguf(ours_path, theirs_path, skip_first_merge):
    try:
        import gguf  # noqa: F401
    except ImportError:
        print("python package 'gguf' is missing", file=sys.stderr)
        return 3
    ours, theirs = gguf_fields(ours_path), gguf_fields(theirs_path)
    problems = []
    for name, (types, value) in theirs.items():
        if name not in ours:
            problems.append(f"{name}: missing")
            continue
        our_types, our_value = ours[name]
        if name == "tokenizer.ggml.merges" and skip_first_merge:
            our_value = our_value[1:]
        if our_types != types:
            problems.append(f"{name}: type {our_types} != {types}")
        elif our_value != value:
            n = len(value) if isinstance(value, list) else 1
            problems.append(f"{name}: values differ ({n} items)")
    for p in problems:
        print(p)
    print(f"compared {len(theirs)} tokenizer keys, {len(problems)} differ; "
          f"ours has extra keys {sorted(set(ours) - set(theirs))}")
    return 1 if problems else 0


def main(argv):
    if "--compare-gguf" in argv:
        i = argv.index("--compare-gguf")
        return compare_gguf(argv[i + 1], argv[i + 2], "--skip-first-merge" in argv)
    args = [a for a in argv[1:] if not a.startswith("--")]
    pre = "llama-bpe"
    save = None
    if "--pre" in argv:
        pre = argv[argv.index("--pre") + 1]
        args.remove(pre)
    if "--save" in argv:
        save = argv[argv.index("--save") + 1]
        args.remove(save)
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        print("python package 'tokenizers' is missing", file=sys.stderr)
        return 3
    encoder_path, merges_path, texts_path, out_path = args
    tok = build(encoder_path, merges_path, pre)
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)
    encodings = tok.encode_batch(texts, add_special_tokens=False)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump([e.ids for e in encodings], f)
    if save:
        if pre == "llama-bpe":
            from tokenizers import AddedToken
            tok.add_special_tokens([AddedToken(t, special=True) for t in llama3_special_tokens()])
        tok.save(save)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
