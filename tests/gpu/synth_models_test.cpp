// The CUDA backend against the CPU backend on app/synth's tiny presets
// (llama GQA, qwen2 with biases and tied embeddings, llama3 rope scaling) in
// each type mix, written to a temporary folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "cuda/cuda_backend.h"
#include "gpu_test_util.h"
#include "model/model.h"
#include "synth/synth.h"

namespace tokamak {
namespace {

struct SynthCase {
  std::string preset, mix;
  // vs the CPU backend (which quantizes activations for block types): the
  // fp16 KV pool alone moves logits by ~3e-4 (2e-3 ~ 4 u of fp16); the
  // 9-token chunks go through the tensor-core GEMM for F16 (fp16
  // activations, 1e-2) and BF16 (bf16 activations, 5e-2); see backend_test.
  double tol;
};

class SynthModels : public ::testing::TestWithParam<SynthCase> {};

TEST_P(SynthModels, CudaLogitsMatchCpuBackend) {
  TK_REQUIRE_CUDA_DEVICE();
  const SynthCase c = GetParam();
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tokamak-gpu-" + c.preset + "-" + c.mix + ".gguf"))
          .string();
  SynthOptions so;
  so.preset = c.preset;
  so.type_mix = c.mix;
  so.output_path = path;
  so.num_threads = 4;
  auto report = synthesize(so);
  ASSERT_TRUE(report.ok()) << report.error().message;
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  CudaBackendOptions go;
  go.max_step_tokens = 9;  // the 40 tokens go in chunks of 9
  go.kv.block_size = 8;
  auto gpu = make_cuda_backend(*model, go);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  CpuBackendOptions co;
  co.num_threads = 4;
  auto cpu = make_cpu_backend(*model, co);
  ASSERT_TRUE(cpu.ok()) << cpu.error().message;
  std::vector<int32_t> tokens;
  for (int32_t i = 0; i < 40; ++i) tokens.push_back((i * 37 + 11) % (*model)->spec().vocab_size);
  auto a = sequence_logits(**gpu, tokens);
  auto b = sequence_logits(**cpu, tokens);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(gpu_testing::rel_max_diff(*a, *b), c.tol) << c.preset << " " << c.mix;
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(
    Presets, SynthModels,
    ::testing::Values(SynthCase{"tiny", "f32", 2e-3}, SynthCase{"tiny", "f16", 1e-2},
                      SynthCase{"tiny", "q8_0", 0.03}, SynthCase{"tiny", "q4_0", 0.03},
                      SynthCase{"tiny", "q4_k_m", 0.03}, SynthCase{"tiny-qwen2", "bf16", 5e-2},
                      SynthCase{"tiny-qwen2", "q4_k_m", 0.03},
                      SynthCase{"tiny-llama3", "q6_k", 0.03},
                      SynthCase{"tiny-llama3", "f16", 1e-2}),
    [](const auto& info) {
      std::string name = info.param.preset + "_" + info.param.mix;
      for (char& ch : name)
        if (ch == '-' || ch == '.') ch = '_';
      return name;
    });

}  // namespace
}  // namespace tokamak
