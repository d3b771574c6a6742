// The skinny tensor-core GEMM (few tokens, F16 / BF16 weights) against
// double-precision products of the same fp16 / bf16 inputs on the host: the
// products are exact on the tensor cores, so the difference is fp32
// accumulation only, |y - exact| <= 1e-5 * sum |w_i x_i|. Large matrices are
// checked on a sample of rows (every one of the first and last tile, and a
// stride through the rest) to keep the host reference fast.
#include "cuda/skinny_gemm.cuh"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "cuda/prefill_gemm.h"
#include "gpu_test_util.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;

// Random values in [-1, 1) stored as fp16 or bf16 bits, and their floats.
struct Half16 {
  std::vector<uint16_t> bits;
  std::vector<float> values;
};

Half16 random_half(size_t count, uint32_t seed, bool bf16) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Half16 h;
  h.bits.resize(count);
  h.values.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const float v = u(rng);
    h.bits[i] = bf16 ? f32_to_bf16(v) : f32_to_fp16(v);
    h.values[i] = bf16 ? bf16_to_f32(h.bits[i]) : fp16_to_f32(h.bits[i]);
  }
  return h;
}

// Rows the reference checks: all of small matrices, else the first and last
// 128 and every 61st between.
std::vector<int64_t> checked_rows(int64_t rows) {
  std::vector<int64_t> r;
  for (int64_t i = 0; i < rows; ++i)
    if (rows <= 512 || i < 128 || i >= rows - 128 || i % 61 == 0) r.push_back(i);
  return r;
}

void expect_product(const Half16& w, const Half16& x, const std::vector<float>& y, int64_t rows,
                    int64_t n, int64_t tokens, const std::string& what) {
  ASSERT_EQ(y.size(), static_cast<size_t>(rows * tokens));
  for (int64_t r : checked_rows(rows)) {
    for (int64_t t = 0; t < tokens; ++t) {
      double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double p = static_cast<double>(w.values[r * n + i]) * x.values[t * n + i];
        exact += p;
        magnitude += std::abs(p);
      }
      const float got = y[t * rows + r];
      ASSERT_TRUE(std::isfinite(got)) << what << ": token " << t << " row " << r << " not written";
      ASSERT_NEAR(got, exact, 1e-5 * magnitude + 1e-6) << what << ": token " << t << " row " << r;
    }
  }
}

// The workspace a PrefillGemm allocates, for direct launches.
struct Workspace {
  DeviceArray<float> partials{cuda::kSkinnyPartialBytes / 4};
  DeviceArray<unsigned> counters{static_cast<size_t>(cuda::kSkinnyCounters)};
  Workspace() { cudaMemset(counters.get(), 0, counters.bytes()); }
  cuda::SkinnyWorkspace get() const {
    return {partials.get(), cuda::kSkinnyPartialBytes, counters.get(), cuda::kSkinnyCounters};
  }
};

struct Shape {
  int64_t rows, n, tokens;
};

std::string shape_name(const Shape& s) {
  return std::to_string(s.rows) + "x" + std::to_string(s.n) + " T" + std::to_string(s.tokens);
}

void check_single(const Shape& s, bool bf16, const Workspace& ws, uint32_t seed) {
  const Half16 w = random_half(s.rows * s.n, seed, bf16);
  const Half16 x = random_half(s.tokens * s.n, seed + 1, bf16);
  DeviceArray<uint16_t> dw(w.bits), dx(x.bits);
  DeviceArray<float> dy(s.rows * s.tokens);
  const cuda::MatmulWeight mw{dw.get(), bf16 ? TensorType::BF16 : TensorType::F16, s.rows, s.n,
                              static_cast<size_t>(s.n) * 2};
  ASSERT_TRUE(cuda::skinny_gemm_supports(&mw, 1, dx.get(), s.tokens)) << shape_name(s);
  float* ys[1] = {dy.get()};
  TK_EXPECT_CUDA_OK(cuda::launch_skinny_gemm(&mw, ys, 1, dx.get(), s.tokens, ws.get(), nullptr));
  TK_EXPECT_CUDA_OK(cudaDeviceSynchronize());
  const std::vector<float> first = dy.download();
  expect_product(w, x, first, s.rows, s.n, s.tokens, (bf16 ? "BF16 " : "F16 ") + shape_name(s));
  // Again: the same bits (the split-k counters were re-armed, the sum order
  // is fixed).
  dy.poison();
  TK_EXPECT_CUDA_OK(cuda::launch_skinny_gemm(&mw, ys, 1, dx.get(), s.tokens, ws.get(), nullptr));
  EXPECT_EQ(dy.download(), first) << shape_name(s) << " differs between two launches";
}

TEST(SkinnyGemm, MatchesTheDoubleProductOverShapes) {
  TK_REQUIRE_CUDA_DEVICE();
  Workspace ws;
  const Shape shapes[] = {
      {1, 64, 2},
      {15, 64, 3},
      {64, 4096, 8},
      {129, 200, 17},
      {300, 72, 100},
      {4096, 4096, 2},
      {4096, 4096, 64},
      {4096, 4096, 128},
      {11008, 4096, 17},
      {4096, 11008, 64},
      {1000, 1544, 33},
      {77, 11008, 128},
      {257, 136, 200},
      {130, 4104, 256},
      // More tiles than resident blocks: blocks whose units span tiles.
      {32000, 512, 64},
      {20000, 264, 5},
  };
  uint32_t seed = 100;
  for (const Shape& s : shapes) {
    SCOPED_TRACE(shape_name(s));
    check_single(s, false, ws, seed += 7);
    if (HasFatalFailure()) return;
  }
}

TEST(SkinnyGemm, Bf16MatchesTheDoubleProduct) {
  TK_REQUIRE_CUDA_DEVICE();
  Workspace ws;
  for (const Shape& s : {Shape{129, 200, 5}, Shape{4096, 4096, 64}, Shape{333, 1032, 100}}) {
    SCOPED_TRACE(shape_name(s));
    check_single(s, true, ws, 900 + static_cast<uint32_t>(s.tokens));
    if (HasFatalFailure()) return;
  }
}

// Fewer blocks than tiles: each block's units run over whole tiles (to y)
// between partial ones (summed by the last block to finish them).
TEST(SkinnyGemm, BlocksSpanningSeveralTiles) {
  TK_REQUIRE_CUDA_DEVICE();
  Workspace ws;
  for (int blocks : {100, 7}) {
    cuda::set_skinny_gemm_blocks(blocks);
    const Shape s{32000, 512, 64};
    SCOPED_TRACE(std::to_string(blocks) + " blocks");
    check_single(s, false, ws, 300 + blocks);
    cuda::set_skinny_gemm_blocks(0);
    if (HasFatalFailure()) return;
  }
}

// Without a workspace one block per tile, no partial tiles: the same product.
TEST(SkinnyGemm, RunsUnsplitWithoutAWorkspace) {
  TK_REQUIRE_CUDA_DEVICE();
  const Shape s{4096, 4096, 20};
  const Half16 w = random_half(s.rows * s.n, 5, false);
  const Half16 x = random_half(s.tokens * s.n, 6, false);
  DeviceArray<uint16_t> dw(w.bits), dx(x.bits);
  DeviceArray<float> dy(s.rows * s.tokens);
  const cuda::MatmulWeight mw{dw.get(), TensorType::F16, s.rows, s.n, static_cast<size_t>(s.n) * 2};
  float* ys[1] = {dy.get()};
  TK_EXPECT_CUDA_OK(cuda::launch_skinny_gemm(&mw, ys, 1, dx.get(), s.tokens, {}, nullptr));
  expect_product(w, x, dy.download(), s.rows, s.n, s.tokens, "unsplit");
}

// One launch for three matrices of different row counts on one x (q/k/v).
TEST(SkinnyGemm, GroupOfDifferentRowCounts) {
  TK_REQUIRE_CUDA_DEVICE();
  Workspace ws;
  const int64_t n = 1024;
  const int64_t rows[3] = {300, 64, 4097};
  for (int64_t tokens : {2, 40, 130}) {
    const Half16 x = random_half(tokens * n, 40 + tokens, false);
    DeviceArray<uint16_t> dx(x.bits);
    std::vector<Half16> w;
    std::vector<std::unique_ptr<DeviceArray<uint16_t>>> dw;
    std::vector<std::unique_ptr<DeviceArray<float>>> dy;
    cuda::MatmulWeight mw[3];
    float* ys[3];
    for (int g = 0; g < 3; ++g) {
      w.push_back(random_half(rows[g] * n, 50 + g, false));
      dw.push_back(std::make_unique<DeviceArray<uint16_t>>(w[g].bits));
      dy.push_back(std::make_unique<DeviceArray<float>>(rows[g] * tokens));
      mw[g] = {dw[g]->get(), TensorType::F16, rows[g], n, static_cast<size_t>(n) * 2};
      ys[g] = dy[g]->get();
    }
    TK_EXPECT_CUDA_OK(cuda::launch_skinny_gemm(mw, ys, 3, dx.get(), tokens, ws.get(), nullptr));
    for (int g = 0; g < 3; ++g)
      expect_product(w[g], x, dy[g]->download(), rows[g], n, tokens,
                     "group matrix " + std::to_string(g) + " T" + std::to_string(tokens));
  }
}

// Mixed types, a row length that is not a multiple of 8: no skinny launch.
TEST(SkinnyGemm, RefusesWhatItCannotTake) {
  TK_REQUIRE_CUDA_DEVICE();
  DeviceArray<uint16_t> buf(4096);
  const cuda::MatmulWeight f16{buf.get(), TensorType::F16, 16, 64, 128};
  const cuda::MatmulWeight bf16{buf.get(), TensorType::BF16, 16, 64, 128};
  const cuda::MatmulWeight odd{buf.get(), TensorType::F16, 16, 60, 120};
  const cuda::MatmulWeight q8{buf.get(), TensorType::Q8_0, 16, 64, 68};
  const cuda::MatmulWeight mixed[2] = {f16, bf16};
  EXPECT_TRUE(cuda::skinny_gemm_supports(&f16, 1, buf.get(), 2));
  EXPECT_FALSE(cuda::skinny_gemm_supports(mixed, 2, buf.get(), 2));
  EXPECT_FALSE(cuda::skinny_gemm_supports(&odd, 1, buf.get(), 2));
  EXPECT_FALSE(cuda::skinny_gemm_supports(&q8, 1, buf.get(), 2));
  EXPECT_FALSE(cuda::skinny_gemm_supports(&f16, 1, buf.get() + 1, 2));  // x misaligned
  EXPECT_FALSE(cuda::skinny_gemm_supports(&f16, 1, buf.get(), cuda::kSkinnyMaxTokens + 1));
  float* ys[1] = {nullptr};
  EXPECT_EQ(cuda::launch_skinny_gemm(&odd, ys, 1, buf.get(), 2, {}, nullptr),
            cudaErrorInvalidValue);
}

// Captured in a graph and replayed: the same bits as a direct launch.
TEST(SkinnyGemm, ReplaysFromACapturedGraph) {
  TK_REQUIRE_CUDA_DEVICE();
  Workspace ws;
  const Shape s{4096, 4096, 64};
  const Half16 w = random_half(s.rows * s.n, 70, false);
  const Half16 x = random_half(s.tokens * s.n, 71, false);
  DeviceArray<uint16_t> dw(w.bits), dx(x.bits);
  DeviceArray<float> dy(s.rows * s.tokens);
  const cuda::MatmulWeight mw{dw.get(), TensorType::F16, s.rows, s.n, static_cast<size_t>(s.n) * 2};
  float* ys[1] = {dy.get()};
  TK_EXPECT_CUDA_OK(cuda::launch_skinny_gemm(&mw, ys, 1, dx.get(), s.tokens, ws.get(), nullptr));
  const std::vector<float> direct = dy.download();
  cudaStream_t stream;
  TK_EXPECT_CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  TK_EXPECT_CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  TK_EXPECT_CUDA_OK(cuda::launch_skinny_gemm(&mw, ys, 1, dx.get(), s.tokens, ws.get(), stream));
  TK_EXPECT_CUDA_OK(cudaStreamEndCapture(stream, &graph));
  TK_EXPECT_CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 3; ++replay) {
    dy.poison();
    TK_EXPECT_CUDA_OK(cudaGraphLaunch(exec, stream));
    TK_EXPECT_CUDA_OK(cudaStreamSynchronize(stream));
    EXPECT_EQ(dy.download(), direct) << "replay " << replay;
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

// Through PrefillGemm: run_group routes 2..skinny_max_tokens tokens to one
// skinny launch, more to cuBLAS; both match the reference of fp16-rounded x.
TEST(SkinnyGemm, PrefillGemmRoutesSmallStepsToIt) {
  TK_REQUIRE_CUDA_DEVICE();
  const int64_t n = 512, rows0 = 200, rows1 = 72;
  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr, 160, n).ok());
  const Half16 w0 = random_half(rows0 * n, 80, false), w1 = random_half(rows1 * n, 81, false);
  DeviceArray<uint16_t> dw0(w0.bits), dw1(w1.bits);
  const cuda::MatmulWeight group[2] = {
      {dw0.get(), TensorType::F16, rows0, n, static_cast<size_t>(n) * 2},
      {dw1.get(), TensorType::F16, rows1, n, static_cast<size_t>(n) * 2}};
  for (int64_t max_tokens : {int64_t{128}, int64_t{0}}) {
    gemm.set_skinny_max_tokens(max_tokens);
    for (int64_t tokens : {2, 9, 128, 160}) {
      const std::vector<float> xf = gpu_testing::random_floats(tokens * n, 90 + tokens);
      Half16 x;  // what the GEMM multiplies: x rounded to fp16
      for (float v : xf) {
        x.bits.push_back(f32_to_fp16(v));
        x.values.push_back(fp16_to_f32(x.bits.back()));
      }
      DeviceArray<float> dx(xf), dy0(rows0 * tokens), dy1(rows1 * tokens);
      float* const ys[2] = {dy0.get(), dy1.get()};
      const Status s = gemm.run_group(group, ys, 2, dx.get(), tokens);
      ASSERT_TRUE(s.ok()) << s.error().message;
      const std::string what = "max " + std::to_string(max_tokens) + " T" + std::to_string(tokens);
      expect_product(w0, x, dy0.download(), rows0, n, tokens, what);
      expect_product(w1, x, dy1.download(), rows1, n, tokens, what);
    }
  }
}

}  // namespace
}  // namespace tokamak
