// The step's fused kernels against the CPU reference and against the
// unfused operations: rope angles once per step, bias + rope + K/V store in
// one kernel, and the RMSNorm / SwiGLU kernels writing the next GEMM's input
// (fp16 / bf16) so that PrefillGemm skips its conversion pass. Outputs start
// poisoned (NaN bytes), so an element a kernel forgets shows.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/elementwise.h"
#include "cpu/rope.h"
#include "cuda/dequantize.cuh"
#include "cuda/prefill_gemm.h"
#include "cuda/rms_norm.cuh"
#include "cuda/rope.cuh"
#include "cuda/rope_kv_store.cuh"
#include "cuda/swiglu.cuh"
#include "gpu_test_util.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;
using gpu_testing::random_floats;
using gpu_testing::rel_max_diff;

std::vector<uint16_t> half_bits(const std::vector<__half>& h) {
  std::vector<uint16_t> bits(h.size());
  std::memcpy(bits.data(), h.data(), h.size() * sizeof(uint16_t));
  return bits;
}

// The host's (cuda_fp16.h / cuda_bf16.h) round-to-nearest-even bits of v.
uint16_t converted_bits(float v, bool bf16) {
  uint16_t bits;
  if (bf16) {
    const __nv_bfloat16 b = __float2bfloat16_rn(v);
    std::memcpy(&bits, &b, 2);
  } else {
    const __half h = __float2half_rn(v);
    std::memcpy(&bits, &h, 2);
  }
  return bits;
}

// Every y16 value is the host's rounding of the kernel's own fp32 result.
void expect_converted(const std::vector<float>& y, const std::vector<uint16_t>& y16, bool bf16,
                      const std::string& what) {
  ASSERT_EQ(y.size(), y16.size());
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_EQ(y16[i], converted_bits(y[i], bf16))
        << what << (bf16 ? " bf16" : " fp16") << " value " << i << " of " << y.size();
}

TEST(CudaStepFusion, RmsNormAlsoWritesTheGemmInput) {
  TK_REQUIRE_CUDA_DEVICE();
  // Register kernel (64, 4096) and the scalar one (4097).
  for (int64_t dim : {64, 4096, 4097}) {
    for (bool bf16 : {false, true}) {
      const int64_t rows = 3;
      const std::vector<float> x = random_floats(rows * dim, 1, -3, 3),
                               delta = random_floats(rows * dim, 2),
                               w = random_floats(dim, 3, 0.5f, 1.5f);
      DeviceArray<float> dx(x), dd(delta), dw(w), dy(rows * dim);
      DeviceArray<uint16_t> dy16(rows * dim);
      TK_EXPECT_CUDA_OK(cuda::launch_rms_norm(dx.get(), dd.get(), nullptr, dw.get(), dy.get(), rows,
                                              dim, 1e-5f, nullptr, dy16.get(), bf16));
      // The fp32 outputs are those of the plain norm.
      DeviceArray<float> dx2(x), dy2(rows * dim);
      TK_EXPECT_CUDA_OK(cuda::launch_rms_norm(dx2.get(), dd.get(), nullptr, dw.get(), dy2.get(),
                                              rows, dim, 1e-5f, nullptr));
      const std::vector<float> y = dy.download();
      EXPECT_EQ(y, dy2.download()) << "dim " << dim;
      EXPECT_EQ(dx.download(), dx2.download()) << "dim " << dim;
      expect_converted(y, dy16.download(), bf16, "rms_norm dim " + std::to_string(dim));
    }
  }
}

TEST(CudaStepFusion, SwigluAlsoWritesTheGemmInput) {
  TK_REQUIRE_CUDA_DEVICE();
  ThreadPool pool(1);
  for (int64_t n : {11008, 255}) {  // float4 kernel, scalar kernel
    for (bool bf16 : {false, true}) {
      std::vector<float> gate = random_floats(n, 4, -6, 6);
      const std::vector<float> up = random_floats(n, 5);
      DeviceArray<float> dg(gate), du(up);
      DeviceArray<uint16_t> d16(n);
      TK_EXPECT_CUDA_OK(cuda::launch_swiglu(dg.get(), du.get(), n, nullptr, d16.get(), bf16));
      const std::vector<float> h = dg.download();
      cpu::swiglu(pool, gate.data(), up.data(), n);
      EXPECT_LT(rel_max_diff(h, gate), 1e-6) << n;
      expect_converted(h, d16.download(), bf16, "swiglu n " + std::to_string(n));
    }
  }
}

struct HostWeight {
  std::vector<uint8_t> bytes;
  size_t row_bytes = 0;
};

HostWeight random_weight(TensorType type, int64_t rows, int64_t n, uint32_t seed) {
  const std::vector<float> src = random_floats(rows * n, seed);
  HostWeight w;
  w.row_bytes = row_size_bytes(type, n);
  w.bytes.resize(rows * w.row_bytes);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_TRUE(
        quant::quantize_row(type, src.data() + r * n, w.bytes.data() + r * w.row_bytes, n).ok());
  return w;
}

// x_converted = true: the GEMMs read the converted buffer, not x. The buffer
// holds a different x (x2) than the fp32 x given (x1), so each product shows
// which one it used: weights converting to the buffer's format take x2, and
// once a weight of the other format (BF16 among fp16 ones) has converted x1
// into the buffer, the rest convert x1 again.
TEST(CudaStepFusion, PrefillGemmReadsTheConvertedX) {
  TK_REQUIRE_CUDA_DEVICE();
  const int64_t n = 256, tokens = 20;
  const TensorType types[3] = {TensorType::F16, TensorType::BF16, TensorType::Q4_0};
  const int64_t rows[3] = {40, 16, 24};
  std::vector<HostWeight> host;
  std::vector<std::unique_ptr<DeviceArray<uint8_t>>> dev;
  cuda::MatmulWeight w[3];
  for (int g = 0; g < 3; ++g) {
    host.push_back(random_weight(types[g], rows[g], n, 40 + g));
    dev.push_back(std::make_unique<DeviceArray<uint8_t>>(host[g].bytes));
    w[g] = {dev[g]->get(), types[g], rows[g], n, host[g].row_bytes};
  }
  cuda::PrefillGemm gemm;
  ASSERT_TRUE(gemm.init(nullptr, 32, n).ok());
  gemm.set_min_tokens(1);
  ASSERT_EQ(gemm.converted_x(TensorType::F32, tokens, n), nullptr);  // SGEMM takes fp32 x
  ASSERT_EQ(gemm.converted_x(TensorType::F16, 33, n), nullptr);      // does not fit
  void* buffer = gemm.converted_x(TensorType::F16, tokens, n);
  ASSERT_NE(buffer, nullptr);
  ASSERT_EQ(gemm.converted_x(TensorType::Q4_0, tokens, n), buffer);

  const std::vector<float> x1 = random_floats(tokens * n, 7), x2 = random_floats(tokens * n, 8);
  DeviceArray<float> dx1(x1), dx2(x2);
  // Reference products, each from its own conversion.
  auto product = [&](int g, const DeviceArray<float>& x) {
    DeviceArray<float> y(tokens * rows[g]);
    EXPECT_TRUE(gemm.run(w[g], x.get(), tokens, y.get()).ok());
    return y.download();
  };
  std::vector<float> ref[3][2];
  for (int g = 0; g < 3; ++g) {
    ref[g][0] = product(g, dx1);
    ref[g][1] = product(g, dx2);
  }

  auto converted_run = [&](std::vector<int> group) -> std::vector<std::vector<float>> {
    EXPECT_EQ(cuda::launch_convert_activations(dx2.get(), tokens * n, false, buffer, nullptr),
              cudaSuccess);
    std::vector<cuda::MatmulWeight> ws;
    std::vector<std::unique_ptr<DeviceArray<float>>> ys;
    std::vector<float*> yp;
    for (int g : group) {
      ws.push_back(w[g]);
      ys.push_back(std::make_unique<DeviceArray<float>>(tokens * rows[g]));
      yp.push_back(ys.back()->get());
    }
    EXPECT_TRUE(gemm.run_group(ws.data(), yp.data(), static_cast<int>(group.size()), dx1.get(),
                               tokens, true)
                    .ok());
    std::vector<std::vector<float>> out;
    for (auto& y : ys) out.push_back(y->download());
    return out;
  };
  // One weight, and one type twice (the grouped GEMM path): x2.
  auto single = converted_run({0});
  EXPECT_LT(rel_max_diff(single[0], ref[0][1]), 1e-6);
  auto twice = converted_run({2, 2});
  EXPECT_LT(rel_max_diff(twice[0], ref[2][1]), 1e-6);
  EXPECT_LT(rel_max_diff(twice[1], ref[2][1]), 1e-6);
  // Mixed types: F16 and Q4_0 share fp16 x (x2); BF16 converts x1, and the
  // Q4_0 after it must not read the bf16 buffer as fp16.
  auto mixed = converted_run({0, 2, 1, 2});
  EXPECT_LT(rel_max_diff(mixed[0], ref[0][1]), 1e-6) << "F16 first";
  EXPECT_LT(rel_max_diff(mixed[1], ref[2][1]), 1e-6) << "Q4_0 before the BF16";
  EXPECT_LT(rel_max_diff(mixed[2], ref[1][0]), 1e-6) << "BF16";
  EXPECT_LT(rel_max_diff(mixed[3], ref[2][0]), 1e-6) << "Q4_0 after the BF16";
  // Without x_converted the buffer is ignored: x1.
  DeviceArray<float> y(tokens * rows[0]);
  ASSERT_TRUE(gemm.run(w[0], dx1.get(), tokens, y.get(), false).ok());
  EXPECT_LT(rel_max_diff(y.download(), ref[0][0]), 1e-6);
}

TEST(CudaStepFusion, RopeTableMatchesCpuAngles) {
  TK_REQUIRE_CUDA_DEVICE();
  for (int32_t num_pairs : {1, 3, 64, 200}) {
    std::vector<float> inv_freq(num_pairs);
    for (int32_t i = 0; i < num_pairs; ++i)
      inv_freq[i] = std::pow(10000.0f, -static_cast<float>(i) / num_pairs) / (1.0f + 0.5f * i);
    const std::vector<int32_t> positions = {0, 1, 7, 4095, 131000, 9};
    const int64_t n = positions.size();
    DeviceArray<float> df(inv_freq), dcs(n * num_pairs * 2);
    DeviceArray<int32_t> dp(positions);
    TK_EXPECT_CUDA_OK(cuda::launch_rope_table(dp.get(), df.get(), num_pairs, n,
                                              reinterpret_cast<float2*>(dcs.get()), nullptr));
    std::vector<float> expect(n * num_pairs * 2);
    cpu::rope_angles(inv_freq, positions, expect.data());
    const std::vector<float> got = dcs.download();
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], expect[i], 1e-7) << "pairs " << num_pairs << " value " << i;
  }
}

// The fused bias + rope + KV store against the CPU's add_bias, rope_angles,
// apply_rope and an fp16 store through scrambled block tables. The pools
// start poisoned: a slot the step does not own must keep its NaN bits.
struct RopeKvCase {
  RopeStyle style;
  int32_t num_heads, num_kv_heads, head_dim, rope_dim, block_size;
  bool biases;
};

class RopeKvStoreTest : public ::testing::TestWithParam<RopeKvCase> {};

TEST_P(RopeKvStoreTest, MatchesCpuBiasRopeAndStore) {
  TK_REQUIRE_CUDA_DEVICE();
  const RopeKvCase c = GetParam();
  const int32_t q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  const int32_t num_pairs = c.rope_dim / 2;
  // Three sequences; the step: a decode token of each and 6 prompt tokens of sequence 1.
  const std::vector<int32_t> seq_lens = {300, 40, 9};
  std::vector<int32_t> positions = {299, 8}, token_seq = {0, 2};
  for (int32_t p = 34; p < 40; ++p) positions.push_back(p), token_seq.push_back(1);
  const int64_t n = positions.size();
  std::vector<int32_t> starts, tables;
  int32_t num_blocks = 0;
  for (int32_t len : seq_lens) {
    starts.push_back(static_cast<int32_t>(tables.size()));
    for (int32_t b = 0; b < (len + c.block_size - 1) / c.block_size; ++b)
      tables.push_back(num_blocks++);
  }
  num_blocks += 2;  // unused blocks
  std::shuffle(tables.begin(), tables.end(), std::mt19937(7));
  std::vector<float> inv_freq(std::max(1, num_pairs));
  for (int32_t i = 0; i < num_pairs; ++i)
    inv_freq[i] = std::pow(500000.0f, -2.0f * i / c.rope_dim) / (1.0f + 3.0f * i / num_pairs);

  std::vector<float> q = random_floats(n * q_dim, 21, -2, 2), k = random_floats(n * kv_dim, 22),
                     v = random_floats(n * kv_dim, 23);
  const std::vector<float> bq = random_floats(q_dim, 24), bk = random_floats(kv_dim, 25),
                           bv = random_floats(kv_dim, 26);
  DeviceArray<float> dq(q), dk(k), dv(v), dbq(bq), dbk(bk), dbv(bv), df(inv_freq);
  DeviceArray<int32_t> dpos(positions), dseq(token_seq), dstart(starts), dtab(tables);
  const int64_t pool_size = static_cast<int64_t>(num_blocks) * c.block_size * kv_dim;
  DeviceArray<__half> dkp(pool_size), dvp(pool_size);  // 0xFFFF: NaN
  DeviceArray<float> dcs(n * std::max(1, num_pairs) * 2);
  float2* cs = reinterpret_cast<float2*>(dcs.get());
  TK_EXPECT_CUDA_OK(cuda::launch_rope_table(dpos.get(), df.get(), num_pairs, n, cs, nullptr));
  const cuda::PagedKv kv{dpos.get(), dseq.get(), dstart.get(), dtab.get(), c.block_size, kv_dim};
  cuda::RopeKvArgs a;
  a.neox = c.style == RopeStyle::Neox;
  a.cos_sin = cs;
  a.rope_dim = c.rope_dim;
  a.head_dim = c.head_dim;
  a.num_heads = c.num_heads;
  a.num_kv_heads = c.num_kv_heads;
  a.q = dq.get();
  a.k = dk.get();
  a.v = dv.get();
  if (c.biases) a.bq = dbq.get(), a.bk = dbk.get(), a.bv = dbv.get();
  a.k_pool = dkp.get();
  a.v_pool = dvp.get();
  TK_EXPECT_CUDA_OK(cuda::launch_rope_kv_store(kv, a, n, nullptr));

  if (c.biases) {
    cpu::add_bias(q.data(), bq.data(), n, q_dim);
    cpu::add_bias(k.data(), bk.data(), n, kv_dim);
    cpu::add_bias(v.data(), bv.data(), n, kv_dim);
  }
  std::vector<float> cos_sin(n * std::max(1, num_pairs) * 2);
  if (num_pairs > 0) {
    cpu::rope_angles(std::span<const float>(inv_freq).first(num_pairs), positions, cos_sin.data());
    cpu::apply_rope(c.style, cos_sin.data(), c.rope_dim, c.head_dim, c.num_heads, n, q.data());
    cpu::apply_rope(c.style, cos_sin.data(), c.rope_dim, c.head_dim, c.num_kv_heads, n, k.data());
  }
  EXPECT_LT(rel_max_diff(dq.download(), q), 1e-6) << "q";
  std::vector<float> k_expect(pool_size, NAN), v_expect(pool_size, NAN);
  std::vector<char> written(pool_size, 0);
  for (int64_t t = 0; t < n; ++t) {
    const int32_t pos = positions[t];
    const int64_t block = tables[starts[token_seq[t]] + pos / c.block_size];
    const int64_t off = (block * c.block_size + pos % c.block_size) * kv_dim;
    for (int32_t i = 0; i < kv_dim; ++i) {
      k_expect[off + i] = __half2float(__float2half_rn(k[t * kv_dim + i]));
      v_expect[off + i] = __half2float(__float2half_rn(v[t * kv_dim + i]));
      written[off + i] = 1;
    }
  }
  const std::vector<__half> kp = dkp.download(), vp = dvp.download();
  const std::vector<uint16_t> kbits = half_bits(kp), vbits = half_bits(vp);
  int64_t k_off_by_more = 0;
  for (int64_t i = 0; i < pool_size; ++i) {
    if (!written[i]) {
      ASSERT_EQ(kbits[i], 0xFFFF) << "K pool slot " << i << " written by another step's token";
      ASSERT_EQ(vbits[i], 0xFFFF) << "V pool slot " << i << " written by another step's token";
      continue;
    }
    ASSERT_EQ(__half2float(vp[i]), v_expect[i]) << "V value " << i;
    // K went through the rope in fp32: one fp16 step apart at most, and rarely.
    const float got = __half2float(kp[i]), want = k_expect[i];
    ASSERT_LE(std::abs(got - want), std::abs(want) * 1e-3f + 1e-7f) << "K value " << i;
    k_off_by_more += got != want;
  }
  EXPECT_LE(k_off_by_more, n * kv_dim / 100) << "K values differing from the CPU's fp16";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RopeKvStoreTest,
    ::testing::Values(RopeKvCase{RopeStyle::Normal, 32, 32, 128, 128, 16, false},
                      RopeKvCase{RopeStyle::Normal, 32, 8, 128, 128, 16, false},
                      RopeKvCase{RopeStyle::Neox, 14, 2, 64, 64, 16, true},
                      RopeKvCase{RopeStyle::Neox, 6, 3, 80, 32, 7, true},
                      RopeKvCase{RopeStyle::Normal, 5, 1, 20, 12, 1, true},
                      RopeKvCase{RopeStyle::Normal, 3, 3, 6, 0, 5, false},
                      // odd head_dim: 2-byte K stores for unaligned heads, V one value a thread
                      RopeKvCase{RopeStyle::Normal, 3, 3, 7, 4, 3, true},
                      RopeKvCase{RopeStyle::Neox, 2, 1, 9, 6, 4, false},
                      RopeKvCase{RopeStyle::Neox, 40, 8, 256, 256, 32, false}),
    [](const auto& info) {
      const RopeKvCase& c = info.param;
      return std::string(c.style == RopeStyle::Neox ? "neox" : "normal") + "_h" +
             std::to_string(c.num_heads) + "_kv" + std::to_string(c.num_kv_heads) + "_d" +
             std::to_string(c.head_dim) + "_r" + std::to_string(c.rope_dim) + "_bs" +
             std::to_string(c.block_size) + (c.biases ? "_bias" : "");
    });

TEST(CudaStepFusion, RopeKvStoreRejectsBadShapes) {
  TK_REQUIRE_CUDA_DEVICE();
  cuda::PagedKv kv{};
  kv.kv_dim = 64;
  cuda::RopeKvArgs a;
  a.head_dim = 64;
  a.num_kv_heads = 1;
  a.rope_dim = 65;  // odd
  EXPECT_EQ(cuda::launch_rope_kv_store(kv, a, 1, nullptr), cudaErrorInvalidValue);
  a.rope_dim = 66;  // past head_dim
  EXPECT_EQ(cuda::launch_rope_kv_store(kv, a, 1, nullptr), cudaErrorInvalidValue);
  a.rope_dim = 64;
  a.num_kv_heads = 2;  // kv_dim 64 != 2 x 64
  EXPECT_EQ(cuda::launch_rope_kv_store(kv, a, 1, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace tokamak
