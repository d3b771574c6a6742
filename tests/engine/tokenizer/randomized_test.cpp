// Randomized comparisons against independent implementations:
//  - SPM (Llama 2, llama.cpp's GGUF) vs libsentencepiece on tokenizer.model;
//  - byte-level BPE (Llama 3, imported from encoder.json + vocab.bpe) vs
//    Hugging Face `tokenizers` (tests/reference/tokenizer_oracle.py).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#ifdef TOKAMAK_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

#include "random_text.h"
#include "test_vocabs.h"

namespace tokamak {
namespace {

std::string ids_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

std::string escaped(const std::string& text) { return nlohmann::json(text).dump(); }

// Long runs stress the regex engine (JIT stack, backtracking of \s+(?!\S))
// and the merge queues.
std::vector<std::string> long_texts() {
  return {std::string(20000, ' ') + "a",
          std::string(3000, '\n') + " x",
          "x" + std::string(5000, '\t') + "y",
          std::string(30000, 'b'),
          std::string(9999, '7'),
          "Hello" + std::string(4000, '!') + " world",
          [] {
            std::string s;
            for (int i = 0; i < 3000; ++i) s += "\xE4\xB8\xAD ";  // 中 + space
            return s;
          }()};
}

constexpr int kNumSpmCases = 5000;
constexpr int kNumBpeCases = 5000;

#ifdef TOKAMAK_HAVE_SENTENCEPIECE
TEST(SpmVsSentencePiece, RandomTexts) {
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(test::kTokenizerDir + "/llama2-spm/tokenizer.model").ok());
  const Tokenizer* tokenizer = test::llama2_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  test::RandomText gen(20261121);
  int num_mismatches = 0;
  size_t num_tokens = 0;
  for (int i = 0; i < kNumSpmCases; ++i) {
    const std::string text = gen.next();
    std::vector<int> expected_int;
    ASSERT_TRUE(sp.Encode(text, &expected_int).ok());
    const std::vector<int32_t> expected(expected_int.begin(), expected_int.end());
    const std::vector<int32_t> ids = tokenizer->encode(text, test::no_bos());
    num_tokens += ids.size();
    if (ids != expected && ++num_mismatches <= 5) {
      ADD_FAILURE() << "text " << escaped(text) << "\n  sentencepiece: " << ids_string(expected)
                    << "\n  tokamak:       " << ids_string(ids);
    }
  }
  for (const std::string& text : long_texts()) {
    std::vector<int> expected;
    ASSERT_TRUE(sp.Encode(text, &expected).ok());
    EXPECT_EQ(tokenizer->encode(text, test::no_bos()),
              std::vector<int32_t>(expected.begin(), expected.end()))
        << "long text of " << text.size() << " bytes starting " << escaped(text.substr(0, 8));
  }
  EXPECT_EQ(num_mismatches, 0) << "of " << kNumSpmCases;
  std::printf("[SPM vs libsentencepiece] %d texts, %zu tokens, %d mismatches\n", kNumSpmCases,
              num_tokens, num_mismatches);
}
#endif

// Runs the oracle; returns false (and the reason) when python3/tokenizers is missing.
bool run_oracle(const std::vector<std::string>& texts, std::vector<std::vector<int32_t>>* ids,
                const std::string& save_path, std::string* skip_reason,
                const std::string& pre = "llama-bpe") {
  if (std::system("python3 -c 'import tokenizers' > /dev/null 2>&1") != 0) {
    *skip_reason = "python3 with the 'tokenizers' package is not available";
    return false;
  }
  const std::string in_path = test::scratch_path("oracle_texts.json");
  const std::string out_path = test::scratch_path("oracle_ids.json");
  std::ofstream(in_path) << nlohmann::json(texts).dump();
  std::string command = "python3 " + std::string(TOKAMAK_SOURCE_DIR) +
                        "/tests/reference/tokenizer_oracle.py " + test::kTokenizerDir +
                        "/llama3-bpe/encoder.json " + test::kTokenizerDir +
                        "/llama3-bpe/vocab.bpe " + in_path + " " + out_path + " --pre " + pre;
  if (!save_path.empty()) command += " --save " + save_path;
  const int rc = std::system(command.c_str());
  EXPECT_EQ(rc, 0) << command;
  std::ifstream in(out_path);
  const nlohmann::json result = nlohmann::json::parse(in, nullptr, false);
  EXPECT_TRUE(result.is_array());
  if (result.is_array()) *ids = result.get<std::vector<std::vector<int32_t>>>();
  std::filesystem::remove(in_path);
  std::filesystem::remove(out_path);
  return true;
}

// Compares `tokenizer` with the oracle built for `pre` on random and long texts.
void compare_with_oracle(const Tokenizer& tokenizer, const std::string& pre, uint32_t seed,
                         int num_cases) {
  test::RandomText gen(seed);
  std::vector<std::string> texts;
  for (int i = 0; i < num_cases; ++i) texts.push_back(gen.next());
  for (const std::string& text : long_texts()) texts.push_back(text);
  std::vector<std::vector<int32_t>> expected;
  std::string skip;
  if (!run_oracle(texts, &expected, "", &skip, pre)) GTEST_SKIP() << skip;
  ASSERT_EQ(expected.size(), texts.size());
  int num_mismatches = 0;
  size_t num_tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer.encode(texts[i], test::no_bos());
    num_tokens += ids.size();
    if (ids != expected[i] && ++num_mismatches <= 5) {
      ADD_FAILURE() << "text " << escaped(texts[i]) << "\n  tokenizers: " << ids_string(expected[i])
                    << "\n  tokamak:    " << ids_string(ids);
    }
  }
  EXPECT_EQ(num_mismatches, 0) << "of " << texts.size();
  std::printf("[BPE '%s' vs HF tokenizers] %zu texts, %zu tokens, %d mismatches\n", pre.c_str(),
              texts.size(), num_tokens, num_mismatches);
}

TEST(BpeVsHfTokenizers, RandomTexts) {
  const Tokenizer* tokenizer = test::llama3_tokenizer();
  ASSERT_NE(tokenizer, nullptr);
  compare_with_oracle(*tokenizer, "llama-bpe", 1121, kNumBpeCases);
}

// The Qwen2 and GPT-2 pre-tokenizers (and merges without Llama 3's
// ignore_merges) on the same vocabulary.
TEST(BpeVsHfTokenizers, OtherPreTokenizers) {
  for (const char* pre : {"qwen2", "gpt-2"}) {
    auto vocab = import_gpt2_bpe_vocab(test::kTokenizerDir + "/llama3-bpe/encoder.json",
                                       test::kTokenizerDir + "/llama3-bpe/vocab.bpe", pre);
    ASSERT_TRUE(vocab.ok()) << vocab.error().message;
    auto tokenizer = Tokenizer::create(std::move(vocab).value());
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
    compare_with_oracle(**tokenizer, pre, 1122, 2000);
  }
}

// A tokenizer.json written by `tokenizers` itself imports to the same
// vocabulary as encoder.json + vocab.bpe.
TEST(BpeVsHfTokenizers, ImportsTokenizerJsonWrittenByTokenizers) {
  const std::string dir = test::scratch_path("hf_llama3");
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/tokenizer_config.json");
  std::vector<std::vector<int32_t>> ignored;
  std::string skip;
  if (!run_oracle({"x"}, &ignored, dir + "/tokenizer.json", &skip)) GTEST_SKIP() << skip;
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>"},
            "add_bos_token": true})";
  auto from_json = import_vocab(dir, "");
  ASSERT_TRUE(from_json.ok()) << from_json.error().message;
  auto from_bpe = import_gpt2_bpe_vocab(test::kTokenizerDir + "/llama3-bpe/encoder.json",
                                        test::kTokenizerDir + "/llama3-bpe/vocab.bpe", "llama-bpe");
  ASSERT_TRUE(from_bpe.ok()) << from_bpe.error().message;
  EXPECT_EQ(from_json->kind, VocabKind::Bpe);
  EXPECT_EQ(from_json->pre, "llama-bpe");  // detected from the Split regex
  EXPECT_EQ(from_json->tokens, from_bpe->tokens);
  EXPECT_EQ(from_json->types, from_bpe->types);
  EXPECT_EQ(from_json->merges, from_bpe->merges);
  EXPECT_EQ(from_json->bos_id, 128000);
  EXPECT_EQ(from_json->eos_id, 128009);
  EXPECT_TRUE(from_json->add_bos);
}

}  // namespace
}  // namespace tokamak
