// The trained aidreams260K model, converted to GGUF by llama.cpp's own
// converter, must reproduce the greedy ids of llama2.c (greedy_from_bos.txt)
// exactly: token by token, as one prefill, with several KV block sizes and
// scattered block tables, and with two sequences sharing steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "aidreams.h"
#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "model/model.h"

namespace tokamak {
namespace {

const std::string kDir = std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/";
constexpr int32_t kBos = 1;

int32_t argmax(const float* row, int32_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

std::shared_ptr<const Model> load_model() {
  auto model = Model::load(kDir + "aidreams260K-llamacpp-f32.gguf");
  EXPECT_TRUE(model.ok()) << model.error().message;
  return model.ok() ? *model : nullptr;
}

std::unique_ptr<Backend> make_backend(std::shared_ptr<const Model> model, int32_t block_size,
                                      int32_t num_blocks) {
  CpuBackendOptions options;
  options.kv.block_size = block_size;
  options.kv.num_blocks = num_blocks;
  auto backend = make_cpu_backend(std::move(model), options);
  EXPECT_TRUE(backend.ok()) << backend.error().message;
  return backend.ok() ? std::move(backend).value() : nullptr;
}

// A scattered block table: sequence blocks use pool blocks in reverse order,
// offset so two sequences can share a pool.
std::vector<int32_t> scattered_table(int32_t num_seq_blocks, int32_t first, int32_t stride) {
  std::vector<int32_t> table(num_seq_blocks);
  for (int32_t i = 0; i < num_seq_blocks; ++i) table[i] = first + stride * (num_seq_blocks - 1 - i);
  return table;
}

// Greedy decode, one token per step, through `table`.
std::vector<int32_t> greedy_decode(Backend& backend, std::span<const int32_t> table, int steps) {
  const int32_t vocab = backend.vocab_size();
  std::vector<float> logits(vocab);
  std::vector<int32_t> out;
  int32_t token = kBos;
  const StepSequence seq{table};
  const int32_t zero = 0;
  for (int32_t pos = 0; pos < steps; ++pos) {
    StepPlan plan;
    plan.tokens = std::span<const int32_t>(&token, 1);
    plan.positions = std::span<const int32_t>(&pos, 1);
    plan.token_seq = std::span<const int32_t>(&zero, 1);
    plan.sequences = std::span<const StepSequence>(&seq, 1);
    plan.logits_rows = std::span<const int32_t>(&zero, 1);
    Status s = backend.forward(plan, logits);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s.ok()) break;
    token = argmax(logits.data(), vocab);
    out.push_back(token);
  }
  return out;
}

TEST(AidreamsGreedy, ModelSpecMatchesTheCheckpoint) {
  auto model = load_model();
  ASSERT_TRUE(model);
  const ModelSpec& s = model->spec();
  EXPECT_EQ(s.arch, Architecture::Llama);
  EXPECT_EQ(s.rope_style, RopeStyle::Normal);
  EXPECT_EQ(s.dim, 64);
  EXPECT_EQ(s.hidden_dim, 172);
  EXPECT_EQ(s.num_layers, 4);
  EXPECT_EQ(s.num_heads, 4);
  EXPECT_EQ(s.num_kv_heads, 4);
  EXPECT_EQ(s.head_dim, 16);
  EXPECT_EQ(s.vocab_size, 512);
  EXPECT_EQ(s.context_length, 128);
  EXPECT_EQ(s.rope.dim, 16);
  EXPECT_FLOAT_EQ(s.rope.theta, 10000.0f);
  EXPECT_NEAR(s.rms_eps, 1e-5f, 1e-9f);
  EXPECT_EQ(model->tokenizer().bos_id(), kBos);
}

TEST(AidreamsGreedy, TokenByTokenDecodeMatchesLlama2c) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  ASSERT_EQ(expected.size(), 127u);
  auto model = load_model();
  ASSERT_TRUE(model);
  for (int32_t block_size : {1, 16, 5}) {
    SCOPED_TRACE("block_size " + std::to_string(block_size));
    const int32_t num_blocks = (128 + block_size - 1) / block_size;
    auto backend = make_backend(model, block_size, num_blocks);
    ASSERT_TRUE(backend);
    const std::vector<int32_t> table = scattered_table(num_blocks, 0, 1);
    EXPECT_EQ(greedy_decode(*backend, table, 127), expected);
  }
}

TEST(AidreamsGreedy, OnePrefillGivesTheSameArgmaxAtEveryPosition) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  auto model = load_model();
  ASSERT_TRUE(model);
  std::vector<int32_t> input = {kBos};
  input.insert(input.end(), expected.begin(), expected.end() - 1);  // 127 tokens
  for (int32_t block_size : {1, 16}) {
    SCOPED_TRACE("block_size " + std::to_string(block_size));
    auto backend = make_backend(model, block_size, 0);
    ASSERT_TRUE(backend);
    auto logits = sequence_logits(*backend, input);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    const int32_t vocab = backend->vocab_size();
    std::vector<int32_t> got;
    for (size_t i = 0; i < input.size(); ++i)
      got.push_back(argmax(logits->data() + i * vocab, vocab));
    EXPECT_EQ(got, expected);
  }
}

TEST(AidreamsGreedy, PrefillLogitsEqualDecodeLogits) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  auto model = load_model();
  ASSERT_TRUE(model);
  std::vector<int32_t> input = {kBos};
  input.insert(input.end(), expected.begin(), expected.end() - 1);
  auto prefill_backend = make_backend(model, 16, 0);
  CpuBackendOptions one;
  one.max_step_tokens = 1;
  auto decode_backend = make_cpu_backend(model, one);
  ASSERT_TRUE(prefill_backend && decode_backend.ok());
  auto prefill = sequence_logits(*prefill_backend, input);
  auto decode = sequence_logits(**decode_backend, input);
  ASSERT_TRUE(prefill.ok() && decode.ok());
  double max_diff = 0.0;
  for (size_t i = 0; i < prefill->size(); ++i)
    max_diff = std::max(max_diff, std::abs(double((*prefill)[i]) - (*decode)[i]));
  EXPECT_LT(max_diff, 1e-4);
}

// Two sequences in every step, with interleaved block tables: A decodes one
// token per step while B is fed the expected ids in chunks of 9 (a prefill
// running beside a decode), and both must see exactly the expected ids.
TEST(AidreamsGreedy, TwoSequencesInterleavedInOneStep) {
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  auto model = load_model();
  ASSERT_TRUE(model);
  std::vector<int32_t> input = {kBos};
  input.insert(input.end(), expected.begin(), expected.end() - 1);
  for (int32_t block_size : {1, 16}) {
    SCOPED_TRACE("block_size " + std::to_string(block_size));
    const int32_t per_seq = (128 + block_size - 1) / block_size;
    auto backend = make_backend(model, block_size, 2 * per_seq);
    ASSERT_TRUE(backend);
    const std::vector<int32_t> table_a = scattered_table(per_seq, 0, 2);  // even blocks
    const std::vector<int32_t> table_b = scattered_table(per_seq, 1, 2);  // odd blocks
    const StepSequence seqs[2] = {{table_a}, {table_b}};
    const int32_t vocab = backend->vocab_size();
    std::vector<int32_t> got_a, got_b;
    int32_t token_a = kBos;
    int32_t pos_b = 0;
    for (int32_t pos_a = 0; pos_a < 127; ++pos_a) {
      std::vector<int32_t> tokens, positions, token_seq, rows;
      const int32_t chunk_b = std::min<int32_t>(9, 127 - pos_b);
      // B's chunk first, then A's token: rows of several sequences interleave.
      for (int32_t i = 0; i < chunk_b; ++i) {
        tokens.push_back(input[pos_b + i]);
        positions.push_back(pos_b + i);
        token_seq.push_back(1);
        rows.push_back(i);
      }
      tokens.push_back(token_a);
      positions.push_back(pos_a);
      token_seq.push_back(0);
      rows.push_back(chunk_b);
      std::vector<float> logits(rows.size() * vocab);
      StepPlan plan{tokens, positions, token_seq, seqs, rows};
      Status s = backend->forward(plan, logits);
      ASSERT_TRUE(s.ok()) << s.error().message;
      for (int32_t i = 0; i < chunk_b; ++i)
        got_b.push_back(argmax(logits.data() + i * vocab, vocab));
      token_a = argmax(logits.data() + chunk_b * vocab, vocab);
      got_a.push_back(token_a);
      pos_b += chunk_b;
    }
    EXPECT_EQ(got_a, expected);
    EXPECT_EQ(got_b, expected);
  }
}

}  // namespace
}  // namespace tokamak
