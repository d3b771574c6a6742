// The regex pre-tokenizer of byte-level BPE vocabularies: splits text into
// words before merges run. Compiled once with PCRE2 (UTF + UCP, JIT);
// split() is const and safe to call from several threads at once.
//
// Invalid UTF-8 never fails: it is compiled with PCRE2_MATCH_INVALID_UTF, so
// ill-formed bytes match nothing and end up in a word of their own (the
// byte-level encoding keeps them).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tokamak {

class PreTokenizer {
 public:
  struct Spec {
    std::string pattern;
    bool ignore_merges = false;  // whole word in the vocab -> that token (Llama 3)
  };
  // The pattern for a GGUF tokenizer.ggml.pre name ("llama-bpe", "llama3",
  // "qwen2", "gpt-2", "default", ...). Unsupported error for other names.
  static Result<Spec> spec_for(const std::string& pre);

  static Result<std::unique_ptr<PreTokenizer>> create(const std::string& pattern);
  ~PreTokenizer();

  // Appends the words of text (views into text; together they cover all of it).
  void split(std::string_view text, std::vector<std::string_view>& words) const;

  const std::string& pattern() const { return pattern_; }

 private:
  PreTokenizer() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
};

// Llama 3's pre-tokenizer pattern (tiktoken cl100k style, numbers of 1-3 digits).
extern const char* const kLlama3Pattern;
// Qwen2's: as Llama 3's but single digits.
extern const char* const kQwen2Pattern;
// GPT-2's original pattern.
extern const char* const kGpt2Pattern;

}  // namespace tokamak
