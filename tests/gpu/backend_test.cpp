// The CUDA backend against the CPU backend: logits of tiny random models in
// every weight type (llama and qwen2 shapes, GQA, biases, tied embeddings,
// rope freq factors), prefill vs decode, steps mixing sequences, the real
// aidreams260K model's greedy ids, plan errors, the memory plan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "cuda/cuda_backend.h"
#include "engine/model/tiny_gguf.h"
#include "gpu_test_util.h"
#include "model/model.h"

namespace tokamak {
namespace {

using gpu_testing::rel_max_diff;
using testing::TinyConfig;

std::shared_ptr<const Model> tiny(const TinyConfig& c) {
  auto m = testing::make_tiny_model(c);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? *m : nullptr;
}

std::unique_ptr<Backend> cuda_backend(std::shared_ptr<const Model> model, int32_t max_step_tokens,
                                      int32_t block_size = 16, int32_t num_blocks = 0) {
  CudaBackendOptions o;
  o.max_step_tokens = max_step_tokens;
  o.kv.block_size = block_size;
  o.kv.num_blocks = num_blocks;
  auto b = make_cuda_backend(std::move(model), o);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::move(b).value() : nullptr;
}

std::unique_ptr<Backend> cpu_backend(std::shared_ptr<const Model> model, int32_t max_step_tokens,
                                     int32_t block_size = 16, int32_t num_blocks = 0) {
  CpuBackendOptions o;
  o.num_threads = 2;
  o.max_step_tokens = max_step_tokens;
  o.kv.block_size = block_size;
  o.kv.num_blocks = num_blocks;
  auto b = make_cpu_backend(std::move(model), o);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::move(b).value() : nullptr;
}

// 40 tokens: one step of them goes through the prefill GEMM (>= 16 tokens).
const std::vector<int32_t> kTokens = [] {
  std::vector<int32_t> t = {1};
  for (int32_t i = 1; i < 40; ++i) t.push_back((i * 37 + 11) % 64);
  return t;
}();

// The KV pool is fp16 (unit roundoff u = 2^-11 = 4.9e-4): K and V are
// rounded once, which moves logits by ~3e-4 (measured on the H200: 2.7e-4
// to 3.2e-4 for these models); 2e-3 ~ 4 u where the CPU backend keeps fp32.
constexpr double kFp16KvTol = 2e-3;

struct TypeCase {
  TensorType type;
  double cpu_tol;  // single-token path vs the CPU backend (fp16 KV pool here;
                   // the CPU quantizes activations for block types; F16 takes
                   // the GEMM even for one token, see prefill_gemm.h)
  // Tensor-core prefill GEMM vs the fp32 matmul path: the GEMM rounds the
  // activations (and dequantized weights) to fp16, unit roundoff u = 2^-11 =
  // 4.9e-4, or to bf16 for BF16 weights, u = 2^-8 = 3.9e-3; seven products
  // per layer over two layers, each adding about u of relative error, move
  // the logits by a few u (bound: 1e-2 ~ 20 u, 5e-2 ~ 13 u; measured on
  // the H200: 6e-4 to 1e-3, bf16 4e-3). F32 weights stay on fp32 SGEMM,
  // where only the order of the sums and the prefill attention kernel
  // differ (measured 3.5e-5). Block types decode with x rounded to int8 per
  // 32 values (dp4a, as the CPU backend's quantized dot products do): half
  // a step of 1/127 of the block's largest value, ~2^-8 relative like bf16,
  // so the same 5e-2 bound (measured on the H200: 1.5e-2 to 2.5e-2).
  double gemm_tol;
};

class CudaBackendTypes : public ::testing::TestWithParam<TypeCase> {};

TEST_P(CudaBackendTypes, LogitsMatchCpuBackendPrefillDecodeAndChunks) {
  TK_REQUIRE_CUDA_DEVICE();
  TinyConfig c;
  c.weight_type = GetParam().type;
  c.embd_type = GetParam().type;
  auto model = tiny(c);
  ASSERT_TRUE(model);
  auto prefill = cuda_backend(model, 512);
  auto decode = cuda_backend(model, 1, 4);
  auto chunked = cuda_backend(model, 5, 3);
  auto cpu = cpu_backend(model, 512);
  ASSERT_TRUE(prefill && decode && chunked && cpu);
  auto lp = sequence_logits(*prefill, kTokens);
  auto ld = sequence_logits(*decode, kTokens);
  auto lc = sequence_logits(*chunked, kTokens);
  auto ref = sequence_logits(*cpu, kTokens);
  ASSERT_TRUE(lp.ok() && ld.ok() && lc.ok() && ref.ok());
  EXPECT_EQ(gpu_testing::count_non_finite(*lp), 0u);
  // decode: one token per step (graphs); chunked: 5 tokens per step (no
  // graph; the GEMM for F16/BF16, the matmul kernels for the others).
  EXPECT_LT(rel_max_diff(*lc, *ld), GetParam().gemm_tol);
  EXPECT_LT(rel_max_diff(*ld, *ref), GetParam().cpu_tol) << tensor_type_name(GetParam().type);
  EXPECT_LT(rel_max_diff(*lp, *ld), GetParam().gemm_tol) << tensor_type_name(GetParam().type);
  std::printf("%s: decode vs cpu %.2e, gemm prefill vs decode %.2e\n",
              std::string(tensor_type_name(GetParam().type)).c_str(), rel_max_diff(*ld, *ref),
              rel_max_diff(*lp, *ld));
}

INSTANTIATE_TEST_SUITE_P(
    AllWeightTypes, CudaBackendTypes,
    ::testing::Values(TypeCase{TensorType::F32, kFp16KvTol, 2e-4},
                      TypeCase{TensorType::F16, 1e-2, 1e-2},  // one token: GEMM too
                      TypeCase{TensorType::BF16, kFp16KvTol, 5e-2},
                      TypeCase{TensorType::Q8_0, 0.03, 5e-2},
                      TypeCase{TensorType::Q4_0, 0.03, 5e-2},
                      TypeCase{TensorType::Q4_K, 0.03, 5e-2},
                      TypeCase{TensorType::Q6_K, 0.03, 5e-2}),
    [](const auto& info) { return std::string(tensor_type_name(info.param.type)); });

TEST(CudaBackend, Qwen2BiasesNeoxTiedAndMixedTypes) {
  TK_REQUIRE_CUDA_DEVICE();
  TinyConfig c;
  c.arch = "qwen2";
  c.biases = true;
  c.tied = true;
  c.num_heads = 8;
  c.num_kv_heads = 2;
  c.weight_type = TensorType::Q4_K;
  c.embd_type = TensorType::Q6_K;
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType& type) {
    if (name.find("attn_v") != std::string::npos && name.find("weight") != std::string::npos)
      type = TensorType::Q8_0;
    if (name.find("ffn_down") != std::string::npos) type = TensorType::BF16;
  };
  auto model = tiny(c);
  ASSERT_TRUE(model);
  auto gpu = cuda_backend(model, 7, 5);
  auto cpu = cpu_backend(model, 512);
  ASSERT_TRUE(gpu && cpu);
  auto a = sequence_logits(*gpu, kTokens);
  auto b = sequence_logits(*cpu, kTokens);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(rel_max_diff(*a, *b), 0.03);
}

TEST(CudaBackend, LlamaWithRopeFreqFactorsMatchesCpu) {
  TK_REQUIRE_CUDA_DEVICE();
  TinyConfig c;
  c.rope_theta = 500000.0f;
  const int32_t half = c.dim / c.num_heads / 2;
  for (int32_t i = 0; i < half; ++i) c.rope_freqs.push_back(1.0f + 7.0f * i / half);
  auto model = tiny(c);
  ASSERT_TRUE(model);
  auto gpu = cuda_backend(model, 512);
  auto cpu = cpu_backend(model, 512);
  ASSERT_TRUE(gpu && cpu);
  auto a = sequence_logits(*gpu, kTokens);
  auto b = sequence_logits(*cpu, kTokens);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(rel_max_diff(*a, *b), kFp16KvTol);
}

// One step carrying a prefill chunk of sequence 0 (positions 4..9) and a
// decode token of sequence 1 (position 12), scattered tables, logits of a
// few rows in a shuffled order: the same on both backends.
TEST(CudaBackend, MixedStepMatchesCpuBackend) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  auto gpu = cuda_backend(model, 16, 4, 12);
  auto cpu = cpu_backend(model, 16, 4, 12);
  ASSERT_TRUE(gpu && cpu);
  const std::vector<int32_t> table0 = {9, 2, 7}, table1 = {0, 11, 5, 3};
  const std::vector<StepSequence> seqs = {{table0}, {table1}};
  // Fill the history: sequence 0 positions 0..3, sequence 1 positions 0..11.
  std::vector<int32_t> tokens, positions, token_seq;
  for (int32_t p = 0; p < 4; ++p)
    tokens.push_back(kTokens[p]), positions.push_back(p), token_seq.push_back(0);
  for (int32_t p = 0; p < 12; ++p)
    tokens.push_back(kTokens[p + 3]), positions.push_back(p), token_seq.push_back(1);
  const int32_t vocab = gpu->vocab_size();
  for (Backend* b : {gpu.get(), cpu.get()}) {
    StepPlan plan{tokens, positions, token_seq, seqs, {}};
    ASSERT_TRUE(b->forward(plan, {}).ok());
  }
  const std::vector<int32_t> step_tokens = {5, 6, 7, 8, 9, 10, 44},
                             step_pos = {4, 5, 6, 7, 8, 9, 12}, step_seq = {0, 0, 0, 0, 0, 0, 1},
                             rows = {6, 0, 5, 3};
  std::vector<float> lg(rows.size() * vocab), lc(rows.size() * vocab);
  const StepPlan plan{step_tokens, step_pos, step_seq, seqs, rows};
  ASSERT_TRUE(gpu->forward(plan, lg).ok());
  ASSERT_TRUE(cpu->forward(plan, lc).ok());
  EXPECT_LT(rel_max_diff(lg, lc), kFp16KvTol);
}

TEST(CudaBackend, BadPlansAreInvalidRequestsAndLeaveTheBackendUsable) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  auto gpu = cuda_backend(model, 4, 4, 8);
  ASSERT_TRUE(gpu);
  const std::vector<int32_t> table = {0, 1}, bad_table = {0, 99};
  const StepSequence seq{table}, bad_seq{bad_table};
  const std::vector<int32_t> tok = {1}, pos = {5}, seq0 = {0}, row = {0}, bad_tok = {1000};
  std::vector<float> logits(gpu->vocab_size());
  EXPECT_EQ(gpu->forward({bad_tok, pos, seq0, {&seq, 1}, row}, logits).error().code,
            ErrorCode::InvalidRequest);
  EXPECT_EQ(gpu->forward({tok, pos, seq0, {&bad_seq, 1}, row}, logits).error().code,
            ErrorCode::InvalidRequest);
  const std::vector<int32_t> five(5, 1);
  EXPECT_EQ(gpu->forward({five, five, five, {&seq, 1}, row}, logits).error().code,
            ErrorCode::InvalidRequest);
  auto good = sequence_logits(*gpu, std::vector<int32_t>{1, 2, 3});
  ASSERT_TRUE(good.ok()) << good.error().message;
}

TEST(CudaBackend, MemoryPlanRefusesWhatDoesNotFitBeforeAllocating) {
  TK_REQUIRE_CUDA_DEVICE();
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  CudaBackendOptions o;
  o.kv.block_size = 16;
  o.kv.num_blocks = 1 << 30;  // 2 layers * 2 * 128 floats * 16 * 2^30: terabytes
  const CudaMemoryPlan plan = plan_cuda_memory(*model, o);
  // fp16 K and V; + 1 block: the scratch block of the decode graphs' padding tokens.
  EXPECT_EQ(plan.kv_bytes, 2LL * 2 * 128 * 2 * 16 * ((1LL << 30) + 1));
  EXPECT_GT(plan.weight_bytes, 0);
  auto b = make_cuda_backend(model, o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::OutOfMemory);
  EXPECT_NE(b.error().message.find("KV pool"), std::string::npos) << b.error().message;
  EXPECT_NE(b.error().message.find("free"), std::string::npos) << b.error().message;
  // The refused attempt left the device usable.
  EXPECT_TRUE(cuda_backend(model, 8) != nullptr);
}

TEST(CudaBackend, NoDeviceIsADeviceFault) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  auto b = make_cuda_backend(model, CudaBackendOptions{});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::DeviceFault);
}

// aidreams260K (llama.cpp's conversion of a trained llama2.c model): greedy
// ids from BOS must equal llama2.c's exactly, decoding token by token through
// a scattered block table, and as one prefill of the same ids.
TEST(CudaBackend, Aidreams260KGreedyIdsFromBos) {
  TK_REQUIRE_CUDA_DEVICE();
  const std::string dir = gpu_testing::shared_data() + "/models/aidreams260K/";
  auto model = Model::load(dir + "aidreams260K-llamacpp-f32.gguf");
  ASSERT_TRUE(model.ok()) << model.error().message;
  std::vector<int32_t> expected;
  {
    std::ifstream in(dir + "greedy_from_bos.txt");
    int32_t id;
    while (in >> id) expected.push_back(id);
  }
  ASSERT_EQ(expected.size(), 127u);
  auto gpu = cuda_backend(*model, 64, 8, 20);
  ASSERT_TRUE(gpu);
  std::vector<int32_t> table(16);
  for (int32_t i = 0; i < 16; ++i) table[i] = 19 - i;  // scattered, reversed
  const StepSequence seq{table};
  const int32_t vocab = gpu->vocab_size(), zero = 0;
  std::vector<float> logits(vocab);
  std::vector<int32_t> got;
  int32_t token = 1;  // BOS
  for (int32_t pos = 0; pos < static_cast<int32_t>(expected.size()); ++pos) {
    const StepPlan plan{{&token, 1}, {&pos, 1}, {&zero, 1}, {&seq, 1}, {&zero, 1}};
    Status s = gpu->forward(plan, logits);
    ASSERT_TRUE(s.ok()) << s.error().message;
    token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    got.push_back(token);
  }
  EXPECT_EQ(got, expected);
  // Prefill [BOS, expected[0..125]]: row i's argmax is expected[i].
  std::vector<int32_t> prompt = {1};
  prompt.insert(prompt.end(), expected.begin(), expected.end() - 1);
  auto all = sequence_logits(*gpu, prompt);
  ASSERT_TRUE(all.ok()) << all.error().message;
  for (size_t i = 0; i < prompt.size(); ++i) {
    const float* row = all->data() + i * vocab;
    ASSERT_EQ(std::max_element(row, row + vocab) - row, expected[i]) << "position " << i;
  }
}

}  // namespace
}  // namespace tokamak
