// A synthetic byte-level BPE vocabulary ("gpt2" model, pre-tokenizer
// "gpt-2") of any size >= 258:
//
//   ids 0..255      the 256 bytes, as GPT-2's byte-to-Unicode characters
//   ids 256..n-3    filler tokens made by merges, breadth-first over the
//                   printable ASCII characters: "th", "he", ..., "the", ...
//                   (each is "<existing token> <byte char>", so every merge
//                   is valid and text always round-trips)
//   id n-2, n-1     <|begin_of_text|> (BOS, control), <|end_of_text|> (EOS)
#pragma once

#include <cstdint>

#include "core/result.h"
#include "tokenizer/vocab.h"

namespace tokamak::synth {

Result<Vocab> make_byte_vocab(int32_t vocab_size);

}  // namespace tokamak::synth
