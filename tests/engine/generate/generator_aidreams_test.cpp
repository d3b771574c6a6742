// The Generator over the real CPU backend and a real trained model: greedy
// decoding from BOS must give the ids llama2.c's own math gives
// (greedy_from_bos.txt), also when split over turns, and sampling with a
// seed must be reproducible.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "aidreams.h"
#include "cpu/cpu_backend.h"
#include "generate/generator.h"
#include "model/model.h"

namespace tokamak {
namespace {

const std::string kDir = std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K";

struct Aidreams {
  std::shared_ptr<const Model> model;
  std::unique_ptr<Backend> backend;
  explicit Aidreams(int32_t max_step = 512) {
    auto m = Model::load(kDir + "/aidreams260K-llamacpp-f32.gguf");
    if (!m.ok()) ADD_FAILURE() << m.error().message;
    model = std::move(m).value();
    CpuBackendOptions o;
    o.num_threads = 2;
    o.max_step_tokens = max_step;
    auto b = make_cpu_backend(model, o);
    if (!b.ok()) ADD_FAILURE() << b.error().message;
    backend = std::move(b).value();
  }
};

std::vector<int32_t> token_ids(Generator& gen, GenerationRequest req, GenerationStats* stats) {
  std::vector<int32_t> ids;
  auto r = gen.generate(req, [&](const GenerationEvent& e) {
    if (const auto* t = std::get_if<TokenEvent>(&e)) ids.push_back(t->id);
  });
  EXPECT_TRUE(r.ok());
  if (r.ok() && stats) *stats = *r;
  return ids;
}

SamplingParams greedy() {
  SamplingParams p;
  p.temperature = 0;
  return p;
}

TEST(GeneratorAidreams, GreedyFromBosMatchesTheReference) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  ASSERT_EQ(expected.size(), 127u);
  Aidreams a;
  ASSERT_TRUE(a.backend);
  Generator gen(*a.backend, a.model->tokenizer(), GeneratorOptions{a.model->spec().context_length});
  EXPECT_EQ(gen.capacity(), 128);
  GenerationStats stats;
  const auto ids = token_ids(gen, {{a.model->tokenizer().bos_id()}, greedy(), {}, 0}, &stats);
  // 127 reference ids, then one more sampled from position 127's logits; the
  // 128 positions are then full.
  ASSERT_EQ(ids.size(), 128u);
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 127), expected);
  EXPECT_EQ(stats.finish_reason, "context");
}

TEST(GeneratorAidreams, TurnsContinueFromTheCacheExactly) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  Aidreams a(/*max_step=*/8);
  ASSERT_TRUE(a.backend);
  Generator gen(*a.backend, a.model->tokenizer());
  std::vector<int32_t> all = token_ids(gen, {{1}, greedy(), {}, 30}, nullptr);
  for (int turn = 0; turn < 3; ++turn) {  // no new tokens: just continue
    GenerationStats stats;
    const auto more = token_ids(gen, {{}, greedy(), {}, 20}, &stats);
    EXPECT_EQ(stats.num_prompt_tokens, 1);  // only the unfed last token
    all.insert(all.end(), more.begin(), more.end());
  }
  ASSERT_EQ(all.size(), 90u);
  EXPECT_EQ(all, std::vector<int32_t>(expected.begin(), expected.begin() + 90));
  // A prompt prefilled in chunks of 8 continues the same way.
  Generator fresh(*a.backend, a.model->tokenizer());
  std::vector<int32_t> prompt = {1};
  prompt.insert(prompt.end(), expected.begin(), expected.begin() + 40);
  const auto cont = token_ids(fresh, {prompt, greedy(), {}, 30}, nullptr);
  EXPECT_EQ(cont, std::vector<int32_t>(expected.begin() + 40, expected.begin() + 70));
}

TEST(GeneratorAidreams, StopStringEndsTheText) {
  Aidreams a;
  ASSERT_TRUE(a.backend);
  Generator gen(*a.backend, a.model->tokenizer());
  std::string text;
  auto r = gen.generate({{1}, greedy(), {"vectors"}, 50}, [&](const GenerationEvent& e) {
    if (const auto* t = std::get_if<TokenEvent>(&e)) text += t->text;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(text, "\"Echoes of ");
}

TEST(GeneratorAidreams, SeededSamplingIsReproducible) {
  Aidreams a;
  ASSERT_TRUE(a.backend);
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 2024;
  Generator g1(*a.backend, a.model->tokenizer());
  const auto x = token_ids(g1, {{1}, p, {}, 40}, nullptr);
  Generator g2(*a.backend, a.model->tokenizer());
  const auto y = token_ids(g2, {{1}, p, {}, 40}, nullptr);
  EXPECT_EQ(x, y);
  p.seed = 2025;
  Generator g3(*a.backend, a.model->tokenizer());
  EXPECT_NE(token_ids(g3, {{1}, p, {}, 40}, nullptr), x);
}

}  // namespace
}  // namespace tokamak
