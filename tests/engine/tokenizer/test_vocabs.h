// Shared fixtures for the tokenizer tests: the real Llama 2 (SPM) and Llama 3
// (byte-level BPE) tokenizers from shared/data, built once per process, and
// small in-memory vocabularies.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "convert/vocab_import.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace tokamak::test {

inline const std::string kTokenizerDir = std::string(TOKAMAK_SHARED_DATA) + "/tokenizers";

// llama.cpp's GGUF files (the vocabulary as llama.cpp sees it).
inline const Tokenizer* llama2_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = [] {
    auto file = gguf::File::open(kTokenizerDir + "/gguf/vocab-llama2-spm.gguf");
    EXPECT_TRUE(file.ok()) << file.error().message;
    if (!file.ok()) return std::unique_ptr<Tokenizer>();
    auto vocab = Vocab::from_gguf(**file);
    EXPECT_TRUE(vocab.ok()) << vocab.error().message;
    if (!vocab.ok()) return std::unique_ptr<Tokenizer>();
    auto t = Tokenizer::create(std::move(vocab).value());
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? std::move(t).value() : std::unique_ptr<Tokenizer>();
  }();
  return tokenizer.get();
}

// Imported from encoder.json + vocab.bpe (the files the HF oracle reads).
inline const Tokenizer* llama3_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = [] {
    auto vocab = import_gpt2_bpe_vocab(kTokenizerDir + "/llama3-bpe/encoder.json",
                                       kTokenizerDir + "/llama3-bpe/vocab.bpe", "llama-bpe");
    EXPECT_TRUE(vocab.ok()) << vocab.error().message;
    if (!vocab.ok()) return std::unique_ptr<Tokenizer>();
    auto t = Tokenizer::create(std::move(vocab).value());
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? std::move(t).value() : std::unique_ptr<Tokenizer>();
  }();
  return tokenizer.get();
}

// A scratch path in TOKAMAK_TEST_TMP unique to this process (ctest runs the
// tests of one executable as parallel processes), removed at exit.
inline std::string scratch_path(const std::string& name) {
  struct Cleaner {
    std::vector<std::string> paths;
    ~Cleaner() {
      std::error_code ec;
      for (const auto& p : paths) std::filesystem::remove_all(p, ec);
    }
  };
  static Cleaner cleaner;
  std::string path =
      std::string(TOKAMAK_TEST_TMP) + "/tokenizer-" + std::to_string(::getpid()) + "-" + name;
  cleaner.paths.push_back(path);
  return path;
}

inline EncodeOptions no_bos() {
  EncodeOptions o;
  o.add_bos = false;
  return o;
}

}  // namespace tokamak::test
