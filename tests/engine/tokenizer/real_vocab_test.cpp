// The importers against llama.cpp's own conversions of the same
// vocabularies, and the real Llama 2 / Llama 3 tokenizers: round trips,
// streaming, threads, special tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "gguf/gguf_writer.h"
#include "random_text.h"
#include "test_vocabs.h"

namespace tokamak {
namespace {

const std::string kDir = test::kTokenizerDir;

Vocab gguf_vocab(const std::string& path) {
  auto file = gguf::File::open(path);
  EXPECT_TRUE(file.ok()) << file.error().message;
  if (!file.ok()) return {};
  auto v = Vocab::from_gguf(**file);
  EXPECT_TRUE(v.ok()) << v.error().message;
  return v.ok() ? std::move(v).value() : Vocab{};
}

void expect_same_spm(const Vocab& ours, const Vocab& theirs) {
  EXPECT_EQ(ours.kind, VocabKind::Spm);
  ASSERT_EQ(ours.tokens.size(), theirs.tokens.size());
  EXPECT_EQ(ours.tokens, theirs.tokens);
  EXPECT_EQ(ours.types, theirs.types);
  ASSERT_EQ(ours.scores.size(), theirs.scores.size());
  for (size_t i = 0; i < ours.scores.size(); ++i) {
    ASSERT_EQ(ours.scores[i], theirs.scores[i]) << "score of token " << i;
  }
  EXPECT_EQ(ours.bos_id, theirs.bos_id);
  EXPECT_EQ(ours.eos_id, theirs.eos_id);
  EXPECT_EQ(ours.unk_id, theirs.unk_id);
  EXPECT_EQ(ours.add_bos, theirs.add_bos);
  EXPECT_EQ(ours.add_space_prefix, theirs.add_space_prefix);
  EXPECT_EQ(ours.eog_ids, theirs.eog_ids);
}

#ifdef TOKAMAK_HAVE_SENTENCEPIECE
TEST(VocabImport, SentencePieceModelMatchesLlamaCpp) {
  auto v = import_sentencepiece_vocab(kDir + "/llama2-spm/tokenizer.model");
  ASSERT_TRUE(v.ok()) << v.error().message;
  expect_same_spm(*v, gguf_vocab(kDir + "/gguf/vocab-llama2-spm.gguf"));
}
#else
TEST(VocabImport, SentencePieceModelNeedsLibrary) {
  auto v = import_sentencepiece_vocab(kDir + "/llama2-spm/tokenizer.model");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::Unsupported);
  EXPECT_NE(v.error().message.find("libsentencepiece"), std::string::npos);
}
#endif

TEST(VocabImport, Llama2cTokenizerBinMatchesLlamaCpp) {
  auto v = import_llama2c_vocab(kDir + "/llama2-spm/tokenizer.bin");
  ASSERT_TRUE(v.ok()) << v.error().message;
  expect_same_spm(*v, gguf_vocab(kDir + "/gguf/vocab-llama2-spm.gguf"));
}

// llama.cpp's convert-llama2c-to-ggml wrote the same vocabulary into this GGUF.
TEST(VocabImport, Aidreams512MatchesLlamaCppConversion) {
  auto v =
      import_llama2c_vocab(std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/tok512.bin");
  ASSERT_TRUE(v.ok()) << v.error().message;
  const Vocab theirs = gguf_vocab(std::string(TOKAMAK_SHARED_DATA) +
                                  "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf");
  EXPECT_EQ(v->size(), 512);
  EXPECT_EQ(v->tokens, theirs.tokens);
  EXPECT_EQ(v->types, theirs.types);
  EXPECT_EQ(v->scores, theirs.scores);
  EXPECT_EQ(v->bos_id, theirs.bos_id);
  EXPECT_EQ(v->eos_id, theirs.eos_id);
  EXPECT_EQ(v->unk_id, theirs.unk_id);
}

TEST(VocabImport, Gpt2BpeFilesMatchLlamaCpp) {
  auto v = import_gpt2_bpe_vocab(kDir + "/llama3-bpe/encoder.json", kDir + "/llama3-bpe/vocab.bpe",
                                 "llama-bpe");
  ASSERT_TRUE(v.ok()) << v.error().message;
  const Vocab theirs = gguf_vocab(kDir + "/gguf/vocab-llama3-bpe.gguf");
  EXPECT_EQ(v->kind, VocabKind::Bpe);
  EXPECT_EQ(v->pre, theirs.pre);
  EXPECT_EQ(v->tokens, theirs.tokens);  // incl. the 256 special tokens
  EXPECT_EQ(v->types, theirs.types);
  EXPECT_EQ(v->bos_id, theirs.bos_id);
  EXPECT_EQ(v->eos_id, theirs.eos_id);
  EXPECT_EQ(v->add_bos, theirs.add_bos);
  EXPECT_EQ(v->eog_ids, theirs.eog_ids);
  // vocab.bpe has one merge more: its first line "Ġ Ġ" (there is no
  // "#version" header in this file); the GGUF lacks exactly that one.
  ASSERT_EQ(v->merges.size(), theirs.merges.size() + 1);
  EXPECT_EQ(v->merges[0], "\xC4\xA0 \xC4\xA0");
  EXPECT_TRUE(std::equal(theirs.merges.begin(), theirs.merges.end(), v->merges.begin() + 1));
}

TEST(VocabImport, PicksTheImporterByPath) {
  auto spm = import_vocab(kDir + "/llama2-spm", "");
  ASSERT_TRUE(spm.ok()) << spm.error().message;
  EXPECT_EQ(spm->kind, VocabKind::Spm);
  EXPECT_EQ(spm->size(), 32000);
  auto bin = import_vocab(kDir + "/llama2-spm/tokenizer.bin", "");
  ASSERT_TRUE(bin.ok()) << bin.error().message;
  EXPECT_EQ(bin->size(), 32000);
  auto bpe = import_vocab(kDir + "/llama3-bpe", "");  // 128000 tokens: Llama 3 assumed
  ASSERT_TRUE(bpe.ok()) << bpe.error().message;
  EXPECT_EQ(bpe->pre, "llama-bpe");
  EXPECT_EQ(bpe->size(), 128256);
  auto gpt2 = import_vocab(kDir + "/llama3-bpe/vocab.bpe", "gpt-2");
  ASSERT_TRUE(gpt2.ok()) << gpt2.error().message;
  EXPECT_EQ(gpt2->pre, "gpt-2");
  EXPECT_EQ(gpt2->size(), 128000);  // no Llama 3 specials for another pre-tokenizer
  auto missing = import_vocab(kDir + "/no-such-folder", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::NotFound);
  auto empty = import_vocab(kDir + "/vectors", "");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("tokenizer.json"), std::string::npos);
}

TEST(VocabImport, MalformedFilesGiveClearErrors) {
  const std::string tmp = test::scratch_path("bad");
  std::filesystem::create_directories(tmp);
  std::ofstream(tmp + "/bad_tokenizer.bin", std::ios::binary)
      << std::string("\x10\0\0\0\0\0\0\0\xFF\0\0\0", 12);
  auto bin = import_llama2c_vocab(tmp + "/bad_tokenizer.bin");
  ASSERT_FALSE(bin.ok());
  EXPECT_NE(bin.error().message.find("bad_tokenizer.bin"), std::string::npos);
  EXPECT_NE(bin.error().message.find("length 255"), std::string::npos) << bin.error().message;

  std::ofstream(tmp + "/bad_encoder.json") << R"({"a": 0, "b": 2})";
  std::ofstream(tmp + "/bad_vocab.bpe") << "a b\n";
  auto gap = import_gpt2_bpe_vocab(tmp + "/bad_encoder.json", tmp + "/bad_vocab.bpe", "gpt-2");
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.error().message.find("no token has id 1"), std::string::npos)
      << gap.error().message;

  std::ofstream(tmp + "/bad_tokenizer.json") << R"({"model": {"type": "WordPiece", "vocab": {}}})";
  auto wp = import_hf_tokenizer_json(tmp + "/bad_tokenizer.json");
  ASSERT_FALSE(wp.ok());
  EXPECT_EQ(wp.error().code, ErrorCode::Unsupported);
  EXPECT_NE(wp.error().message.find("WordPiece"), std::string::npos);
}

// A SentencePiece-style tokenizer.json (BPE with byte_fallback and "▁").
TEST(VocabImport, SentencePieceStyleTokenizerJson) {
  const std::string dir = test::scratch_path("hf_spm_style");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << R"({
    "added_tokens": [{"id": 0, "content": "<unk>", "special": true},
                     {"id": 1, "content": "<s>", "special": true},
                     {"id": 2, "content": "</s>", "special": true}],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
              "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "▁": 4, "h": 5, "i": 6,
                        "▁h": 7, "▁hi": 8},
              "merges": [["▁", "h"], "▁h i"]}})";
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true})";
  auto v = import_vocab(dir, "");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->kind, VocabKind::Spm);
  EXPECT_EQ(v->types[0], TokenType::Unknown);
  EXPECT_EQ(v->types[1], TokenType::Control);
  EXPECT_EQ(v->types[3], TokenType::Byte);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_GT(v->scores[7], v->scores[8]);  // merge rank 0 before rank 1
  auto t = Tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ((*t)->encode("hi\nhi", EncodeOptions{}), (std::vector<int32_t>{1, 8, 3, 5, 6}));
}

TEST(Llama2Tokenizer, DecodeRoundTripsWithoutThePrefixSpace) {
  const Tokenizer* t = test::llama2_tokenizer();
  ASSERT_NE(t, nullptr);
  test::RandomText gen(7);
  for (int i = 0; i < 500; ++i) {
    const std::string text = gen.next();
    const auto ids = t->encode(text, EncodeOptions{});
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 1);  // BOS
    EXPECT_EQ(t->decode(ids), text);
    // Streaming one id at a time gives the same text.
    StreamDecoder stream(*t);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, text);
  }
}

TEST(Llama2Tokenizer, EmojiArrivesWhole) {
  const Tokenizer* t = test::llama2_tokenizer();
  ASSERT_NE(t, nullptr);
  // U+1F680 is no piece: four byte tokens (llama.cpp's vector: 243 162 157 131 after 29871).
  const auto ids = t->encode("\xF0\x9F\x9A\x80", test::no_bos());
  ASSERT_EQ(ids, (std::vector<int32_t>{29871, 243, 162, 157, 131}));
  StreamDecoder stream(*t);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(stream.push(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"", "", "", "", "\xF0\x9F\x9A\x80"}));
}

TEST(Llama2Tokenizer, SpecialTokenParsing) {
  const Tokenizer* t = test::llama2_tokenizer();
  ASSERT_NE(t, nullptr);
  EncodeOptions parse = test::no_bos();
  parse.parse_special = true;
  const auto parsed = t->encode("Hello</s>", parse);
  EXPECT_EQ(parsed, (std::vector<int32_t>{15043, 2}));
  const auto plain = t->encode("Hello</s>", test::no_bos());
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_EQ(t->decode(plain), "Hello</s>");
}

TEST(Llama3Tokenizer, RoundTripsExactlyAndStreams) {
  const Tokenizer* t = test::llama3_tokenizer();
  ASSERT_NE(t, nullptr);
  test::RandomText gen(8);
  for (int i = 0; i < 500; ++i) {
    const std::string text = gen.next();
    const auto ids = t->encode(text, EncodeOptions{});
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 128000);
    EXPECT_EQ(t->decode(ids), text);
    StreamDecoder stream(*t);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    EXPECT_EQ(streamed + stream.flush(), text);
  }
}

TEST(Llama3Tokenizer, ChatHeaderWithSpecialTokens) {
  const Tokenizer* t = test::llama3_tokenizer();
  ASSERT_NE(t, nullptr);
  EncodeOptions parse;
  parse.parse_special = true;
  const auto ids = t->encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", parse);
  // 882 "user", 271 "\n\n", 13347 "Hi" (llama.cpp vocab ids).
  EXPECT_EQ(ids, (std::vector<int32_t>{128000, 128006, 882, 128007, 271, 13347, 128009}));
  EXPECT_TRUE(t->is_end_of_generation(128009));
  EXPECT_TRUE(t->is_end_of_generation(128001));
  EXPECT_FALSE(t->is_end_of_generation(128006));
  EXPECT_EQ(t->decode(ids), "user\n\nHi");
  EXPECT_EQ(t->decode(ids, true),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

// Arbitrary bytes (mostly invalid UTF-8): no crash, and the token bytes give
// the input back exactly (SPM minus its prefix space); decode repairs.
TEST(Tokenizers, ArbitraryBytesRoundTripAsBytes) {
  std::mt19937 rng(11);
  for (const Tokenizer* t : {test::llama2_tokenizer(), test::llama3_tokenizer()}) {
    ASSERT_NE(t, nullptr);
    const bool spm = t->vocab().kind == VocabKind::Spm;
    for (int i = 0; i < 300; ++i) {
      std::string bytes(std::uniform_int_distribution<int>(0, 40)(rng), '\0');
      for (char& c : bytes) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
      const auto ids = t->encode(bytes, test::no_bos());
      std::string back;
      for (int32_t id : ids) back += t->token_bytes(id);
      if (spm && !back.empty()) back.erase(0, 1);
      ASSERT_EQ(back, bytes) << "case " << i;
      EXPECT_EQ(t->decode(ids), repair_utf8(bytes));
    }
  }
}

TEST(Tokenizers, EncodeFromManyThreadsAtOnce) {
  const Tokenizer* spm = test::llama2_tokenizer();
  const Tokenizer* bpe = test::llama3_tokenizer();
  ASSERT_NE(spm, nullptr);
  ASSERT_NE(bpe, nullptr);
  test::RandomText gen(9);
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(gen.next(40));
  std::vector<std::vector<int32_t>> expected_spm, expected_bpe;
  for (const auto& text : texts) {
    expected_spm.push_back(spm->encode(text, EncodeOptions{}));
    expected_bpe.push_back(bpe->encode(text, EncodeOptions{}));
  }
  std::atomic<int> num_mismatches{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t j = (i + k * 37) % texts.size();
          if (spm->encode(texts[j], EncodeOptions{}) != expected_spm[j]) ++num_mismatches;
          if (bpe->encode(texts[j], EncodeOptions{}) != expected_bpe[j]) ++num_mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(num_mismatches.load(), 0);
}

// Not a test but a measurement (run with --gtest_also_run_disabled_tests):
// median of 5 of building the Llama 3 tokenizer and encoding ~100 KB.
TEST(TokenizerPerf, DISABLED_Llama3BuildAndEncode) {
  auto vocab = import_gpt2_bpe_vocab(kDir + "/llama3-bpe/encoder.json",
                                     kDir + "/llama3-bpe/vocab.bpe", "llama-bpe");
  ASSERT_TRUE(vocab.ok());
  test::RandomText gen(10);
  std::string text;
  while (text.size() < 100 * 1024) text += gen.next(40);
  const Tokenizer* spm = test::llama2_tokenizer();
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> build_ms, bpe_ms, spm_ms;
  size_t num_bpe = 0, num_spm = 0;
  for (int rep = 0; rep < 6; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    auto t = Tokenizer::create(*vocab);
    auto t1 = std::chrono::steady_clock::now();
    num_bpe = (*t)->encode(text, EncodeOptions{}).size();
    auto t2 = std::chrono::steady_clock::now();
    num_spm = spm->encode(text, EncodeOptions{}).size();
    auto t3 = std::chrono::steady_clock::now();
    if (rep == 0) continue;  // warm-up
    build_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    bpe_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    spm_ms.push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
  }
  std::printf("Llama 3 tokenizer build: median %.1f ms (min %.1f, max %.1f)\n", median(build_ms),
              *std::min_element(build_ms.begin(), build_ms.end()),
              *std::max_element(build_ms.begin(), build_ms.end()));
  std::printf(
      "encode %zu bytes: Llama 3 BPE median %.1f ms (%zu tokens), Llama 2 SPM median %.1f ms "
      "(%zu tokens)\n",
      text.size(), median(bpe_ms), num_bpe, median(spm_ms), num_spm);
}

}  // namespace
}  // namespace tokamak
