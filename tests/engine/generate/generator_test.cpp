#include "generate/generator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "fake_backend.h"

namespace tokamak {
namespace {

using testing::FakeBackend;
using testing::FakeTokenizer;

// Vocabulary: 0 <unk>, 1 <s>, 2 </s>, then these pieces from id 3 on.
const std::vector<std::string> kPieces = {"Hello", " wor", "ld", "\nUs", "er", ":", "A", "B", "C"};
enum : int32_t { kBos = 1, kEos = 2, kHello = 3, kWor, kLd, kNlUs, kEr, kColon, kA, kB, kC };
constexpr int32_t kVocab = 12;

SamplingParams greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

// The model says script[i] for the i-th token after a prompt of prompt_len
// tokens, then EOS.
FakeBackend::NextFn scripted(size_t prompt_len, std::vector<int32_t> script) {
  return [=](const std::vector<int32_t>& prefix) {
    const size_t i = prefix.size() - prompt_len;
    return i < script.size() ? script[i] : static_cast<int32_t>(kEos);
  };
}

struct Collected {
  std::vector<int32_t> ids;
  std::string text;
  std::vector<std::string> texts;
  GenerationStats stats;
  int num_stats_events = 0;
};

GenerationCallback collect(Collected& c) {
  return [&c](const GenerationEvent& e) {
    if (const auto* t = std::get_if<TokenEvent>(&e)) {
      c.ids.push_back(t->id);
      c.text += t->text;
      c.texts.push_back(t->text);
    } else {
      c.stats = std::get<GenerationStats>(e);
      ++c.num_stats_events;
    }
  };
}

TEST(Generator, StopStringSplitAcrossTokensIsNeverShown) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, scripted(1, {kHello, kWor, kLd, kNlUs, kEr, kColon, kA}));
  Generator gen(backend, tok);
  GenerationRequest req{{kBos}, greedy(), {"\nUser:"}, 50};
  Collected c;
  auto r = gen.generate(req, collect(c));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(c.ids, (std::vector<int32_t>{kHello, kWor, kLd, kNlUs, kEr, kColon}));
  EXPECT_EQ(c.text, "Hello world");
  // "\nUs" is held back from the 4th token on; nothing is shown after "ld".
  EXPECT_EQ(c.texts, (std::vector<std::string>{"Hello", " wor", "ld", "", "", ""}));
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(c.num_stats_events, 1);
  EXPECT_EQ(c.stats.finish_reason, "stop");
  EXPECT_EQ(r->num_generated_tokens, 6);
  EXPECT_EQ(r->num_prompt_tokens, 1);
}

TEST(Generator, HeldTextIsReleasedWhenTheStopDoesNotMaterialise) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, scripted(1, {kHello, kNlUs, kA}));
  Generator gen(backend, tok);
  GenerationRequest req{{kBos}, greedy(), {"\nUser:"}, 50};
  Collected c;
  auto r = gen.generate(req, collect(c));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(c.texts, (std::vector<std::string>{"Hello", "", "\nUsA", ""}));
  EXPECT_EQ(r->finish_reason, "eos");
}

TEST(Generator, EosEndsTheGeneration) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, scripted(2, {kA, kB}));
  Generator gen(backend, tok);
  Collected c;
  auto r = gen.generate({{kBos, kHello}, greedy(), {}, 50}, collect(c));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(c.ids, (std::vector<int32_t>{kA, kB, kEos}));
  EXPECT_EQ(c.text, "AB");
  EXPECT_EQ(r->finish_reason, "eos");
  EXPECT_EQ(r->num_generated_tokens, 3);
  EXPECT_EQ(r->num_prompt_tokens, 2);
  EXPECT_GT(r->ttft_ms, 0.0);
}

TEST(Generator, MaxTokensEndsWithLength) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, [](const auto&) { return kA; });
  Generator gen(backend, tok);
  Collected c;
  auto r = gen.generate({{kBos}, greedy(), {}, 4}, collect(c));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(c.text, "AAAA");
  EXPECT_EQ(r->finish_reason, "length");
  EXPECT_EQ(r->num_generated_tokens, 4);
  // prefill of 1 token + 3 decode steps (the 4th token is never fed)
  EXPECT_EQ(backend.steps.size(), 4u);
}

TEST(Generator, CancelFlagStopsBeforeTheNextStep) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, [](const auto&) { return kB; });
  Generator gen(backend, tok);
  std::atomic<bool> cancel{false};
  Collected c;
  auto cb = collect(c);
  GenerationRequest req{{kBos}, greedy(), {}, 100, &cancel};
  auto r = gen.generate(req, [&](const GenerationEvent& e) {
    cb(e);
    if (c.ids.size() == 3) cancel = true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(c.ids.size(), 3u);
  EXPECT_EQ(r->finish_reason, "cancelled");
  // Already cancelled: no step runs at all.
  backend.steps.clear();
  Collected c2;
  auto r2 = gen.generate({{kA}, greedy(), {}, 100, &cancel}, collect(c2));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->finish_reason, "cancelled");
  EXPECT_TRUE(c2.ids.empty());
  EXPECT_TRUE(backend.steps.empty());
}

TEST(Generator, ContextFullFinishesWithContext) {
  FakeTokenizer tok(kPieces);
  // 2 blocks of 4: 8 positions. A prompt of 3 leaves positions 3..7 to feed
  // 5 generated tokens; the 6th is sampled from position 7's logits and shown.
  FakeBackend backend(kVocab, {4, 2}, 8, [](const auto&) { return kC; });
  Generator gen(backend, tok);
  EXPECT_EQ(gen.capacity(), 8);
  Collected c;
  auto r = gen.generate({{kBos, kA, kB}, greedy(), {}, 100}, collect(c));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "context");
  EXPECT_EQ(r->num_generated_tokens, 6);
  EXPECT_NE(r->message.find("8 positions"), std::string::npos) << r->message;
  EXPECT_EQ(gen.num_computed_tokens(), 8);
  // Another turn does not fit at all: refused before any step, history kept.
  backend.steps.clear();
  Collected c2;
  auto r2 = gen.generate({{kA}, greedy(), {}, 100}, collect(c2));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->finish_reason, "context");
  EXPECT_NE(r2->message.find("2 blocks of 4"), std::string::npos) << r2->message;
  EXPECT_TRUE(backend.steps.empty());
  EXPECT_EQ(gen.history().size(), 9u);
}

TEST(Generator, ContextLengthOptionCapsThePool) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, [](const auto&) { return kC; });
  Generator gen(backend, tok, GeneratorOptions{5});
  EXPECT_EQ(gen.capacity(), 5);
  auto r = gen.generate({{kBos}, greedy(), {}, 100}, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "context");
  EXPECT_EQ(r->num_generated_tokens, 5);
}

TEST(Generator, PrefillIsChunkedAndOnlyTheLastChunkAsksForLogits) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 4, scripted(10, {kA}));
  Generator gen(backend, tok);
  std::vector<int32_t> prompt = {kBos, kA, kB, kC, kA, kB, kC, kA, kB, kC};
  auto r = gen.generate({prompt, greedy(), {}, 10}, nullptr);
  ASSERT_TRUE(r.ok());
  ASSERT_GE(backend.steps.size(), 3u);
  EXPECT_EQ(backend.steps[0].tokens.size(), 4u);
  EXPECT_EQ(backend.steps[0].first_pos, 0);
  EXPECT_EQ(backend.steps[0].num_logits, 0);
  EXPECT_EQ(backend.steps[1].first_pos, 4);
  EXPECT_EQ(backend.steps[1].num_logits, 0);
  EXPECT_EQ(backend.steps[2].tokens.size(), 2u);
  EXPECT_EQ(backend.steps[2].first_pos, 8);
  EXPECT_EQ(backend.steps[2].num_logits, 1);
  EXPECT_EQ(r->num_prompt_tokens, 10);
}

// The model's answer depends on the whole prefix, read back from the KV
// pool: the second turn must give what a fresh run over the full history
// gives, while only prefilling the tokens that are new.
TEST(Generator, SecondTurnReusesTheKvPrefix) {
  auto next = [](const std::vector<int32_t>& prefix) {
    int64_t h = 0;
    for (int32_t t : prefix) h = h * 31 + t;
    if (prefix.size() == 4 || prefix.size() == 12) return static_cast<int32_t>(kEos);
    return static_cast<int32_t>(kA + (h % 3 + 3) % 3);
  };
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 16}, 8, next);
  Generator gen(backend, tok);
  Collected t1, t2;
  ASSERT_TRUE(gen.generate({{kBos, kHello, kWor}, greedy(), {}, 50}, collect(t1)).ok());
  EXPECT_EQ(t1.stats.finish_reason, "eos");  // EOS right after the first token
  const size_t after_turn1 = gen.history().size();
  const int32_t computed = gen.num_computed_tokens();
  backend.steps.clear();
  auto r = gen.generate({{kLd, kHello, kLd}, greedy(), {}, 50}, collect(t2));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_cached_tokens, computed);
  // The first step feeds the unfed last token of turn 1 plus the 3 new ones.
  ASSERT_FALSE(backend.steps.empty());
  EXPECT_EQ(backend.steps[0].first_pos, computed);
  EXPECT_EQ(backend.steps[0].tokens.size(), after_turn1 - computed + 3);

  FakeBackend fresh_backend(kVocab, {4, 16}, 8, next);
  Generator fresh(fresh_backend, tok);
  std::vector<int32_t> full(gen.history().begin(), gen.history().begin() + after_turn1 + 3);
  Collected t3;
  ASSERT_TRUE(fresh.generate({full, greedy(), {}, 50}, collect(t3)).ok());
  EXPECT_EQ(t2.ids, t3.ids);
  EXPECT_EQ(gen.history(), fresh.history());
}

TEST(Generator, KeepCommonPrefixTruncatesHistoryAndKv) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 16}, 8, [](const auto&) { return kA; });
  Generator gen(backend, tok);
  ASSERT_TRUE(gen.generate({{kBos, kB, kC, kB}, greedy(), {}, 3}, nullptr).ok());
  // history: BOS B C B A A A (last A unfed); computed 6
  EXPECT_EQ(gen.num_computed_tokens(), 6);
  const std::vector<int32_t> other = {kBos, kB, kC, kC, kC};
  EXPECT_EQ(gen.keep_common_prefix(other), 3);
  EXPECT_EQ(gen.num_computed_tokens(), 3);
  backend.steps.clear();
  ASSERT_TRUE(gen.generate({{kC, kC}, greedy(), {}, 1}, nullptr).ok());
  EXPECT_EQ(backend.steps[0].first_pos, 3);
  EXPECT_EQ(backend.steps[0].tokens, (std::vector<int32_t>{kC, kC}));
  // Everything already cached: the last token is run again for its logits.
  gen.reset();
  ASSERT_TRUE(gen.generate({{kBos}, greedy(), {}, 1}, nullptr).ok());
  gen.keep_common_prefix(std::vector<int32_t>{kBos});
  backend.steps.clear();
  auto r = gen.generate({{}, greedy(), {}, 1}, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(backend.steps[0].first_pos, 0);
  EXPECT_EQ(r->num_prompt_tokens, 1);
}

TEST(Generator, BackendFailureFinishesWithError) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, [](const auto&) { return kA; });
  backend.fail_at_step = 2;
  Generator gen(backend, tok);
  Collected c;
  auto r = gen.generate({{kBos}, greedy(), {}, 10}, collect(c));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "error");
  EXPECT_NE(r->message.find("fake device fault"), std::string::npos);
  EXPECT_EQ(c.ids.size(), 2u);
}

TEST(Generator, InvalidRequestsAreRefused) {
  FakeTokenizer tok(kPieces);
  FakeBackend backend(kVocab, {4, 8}, 8, [](const auto&) { return kA; });
  Generator gen(backend, tok);
  auto r1 = gen.generate({{}, greedy(), {}, 10}, nullptr);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::InvalidRequest);
  auto r2 = gen.generate({{kBos, 99}, greedy(), {}, 10}, nullptr);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("99"), std::string::npos);
  SamplingParams bad;
  bad.top_p = -1;
  auto r3 = gen.generate({{kBos}, bad, {}, 10}, nullptr);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("top-p"), std::string::npos);
  EXPECT_TRUE(gen.history().empty());
}

TEST(Generator, SeededSamplingIsReproducible) {
  auto next = [](const std::vector<int32_t>& prefix) {
    return static_cast<int32_t>(kA + prefix.size() % 3);
  };
  FakeTokenizer tok(kPieces);
  SamplingParams p;
  p.temperature = 5.0f;  // flat enough that other tokens get drawn
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 77;
  std::vector<std::vector<int32_t>> runs;
  for (int i = 0; i < 2; ++i) {
    FakeBackend backend(kVocab, {4, 8}, 8, next);
    Generator gen(backend, tok);
    Collected c;
    ASSERT_TRUE(gen.generate({{kBos}, p, {}, 20}, collect(c)).ok());
    runs.push_back(c.ids);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

}  // namespace
}  // namespace tokamak
