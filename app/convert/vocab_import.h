// Vocabulary importers: build a tokamak::Vocab (the GGUF tokenizer.ggml.*
// content) from the tokenizer files models ship with.
//
//   llama2.c tokenizer.bin        int32 max_token_length, then per token
//                                 f32 score | int32 len | bytes
//   SentencePiece tokenizer.model protobuf, read with libsentencepiece
//   Hugging Face tokenizer.json   BPE model (+ tokenizer_config.json beside it)
//   GPT-2 encoder.json + vocab.bpe
//
// Every function fails with a message naming the file and what is wrong.
#pragma once

#include <string>

#include "core/result.h"
#include "tokenizer/vocab.h"

namespace tokamak {

// llama2.c tokenizer.bin: SPM ("llama") vocabulary. Ids 0 <unk> (unknown),
// 1 <s> and 2 </s> (control; llama2.c stores them as "\n<s>\n"/"\n</s>\n"),
// "<0xXX>" byte tokens; spaces in pieces become "▁" again.
Result<Vocab> import_llama2c_vocab(const std::string& path);

// SentencePiece tokenizer.model: pieces, scores, types and bos/eos/unk/pad ids
// from the model. Unsupported error when built without libsentencepiece.
Result<Vocab> import_sentencepiece_vocab(const std::string& path);

// Hugging Face tokenizer.json with a BPE model. Byte-level (GPT-2 style):
// "gpt2" vocabulary, pre-tokenizer detected from the Split regex ("llama-bpe",
// "qwen2"; ByteLevel alone -> "gpt-2") unless pre_hint is not empty.
// SentencePiece-style (byte_fallback, "▁"): "llama" vocabulary with scores
// from merge ranks. added_tokens: special -> Control, others -> UserDefined.
// bos/eos (and add_bos/add_eos) from tokenizer_config.json beside it.
Result<Vocab> import_hf_tokenizer_json(const std::string& path, const std::string& pre_hint = "");

// GPT-2 style encoder.json + vocab.bpe ("gpt2" vocabulary with pre-tokenizer
// `pre`). For "llama-bpe" with exactly 128000 regular tokens, Llama 3's 256
// special tokens are added (128000 <|begin_of_text|> .. 128255), BOS 128000,
// EOS 128009 (<|eot_id|>), add_bos true, as llama.cpp's GGUF files have them.
Result<Vocab> import_gpt2_bpe_vocab(const std::string& encoder_json_path,
                                    const std::string& vocab_bpe_path, const std::string& pre);

// Picks the importer by file name, or for a folder by what it holds (in this
// order): tokenizer.model (if libsentencepiece reads it), tokenizer.json,
// encoder.json + vocab.bpe, tokenizer.bin. pre_hint names the BPE
// pre-tokenizer and overrides detection (tokenizer.json: detected from the
// regex; encoder.json + vocab.bpe: "llama-bpe" for exactly 128000 tokens,
// else "gpt-2").
Result<Vocab> import_vocab(const std::string& path, const std::string& pre_hint = "");

}  // namespace tokamak
