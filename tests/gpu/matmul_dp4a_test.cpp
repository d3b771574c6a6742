// The dp4a decode matvec (cuda/matmul_dp4a.cuh) against the CPU backend's
// own quantized dot: each token row of x quantized by
// quant::quantize_activation, dotted by quant::vec_dot_reference. The GPU
// quantizes x with the same rounding and sums every block exactly in
// integers, so only the fp32 order of the block terms differs: the bound is
// as tight as the fp32 kernels' against a double product. Outputs start as
// NaN (DeviceArray), so unwritten rows fail.
#include "cuda/matmul_dp4a.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/tensor_type.h"
#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "cuda/cuda_backend.h"
#include "cuda/matmul.cuh"
#include "cuda/matmul_dp4a_pieces.cuh"
#include "engine/model/tiny_gguf.h"
#include "gpu_test_util.h"
#include "model/model.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

using gpu_testing::DeviceArray;
using gpu_testing::random_floats;

// Sets the decode variant for a scope (it is process-global), then the
// default again.
class VariantScope {
 public:
  explicit VariantScope(int variant) { cuda::set_matmul_decode_variant(variant); }
  ~VariantScope() { cuda::set_matmul_decode_variant(cuda::kMatmulDecodeAuto); }
};

struct QuantMatrix {
  std::vector<uint8_t> bytes;  // (rows, row_bytes)
  std::vector<float> values;   // dequantized, (rows, n)
  size_t row_bytes = 0;
};

QuantMatrix random_quant_matrix(TensorType type, int64_t rows, int64_t n, uint32_t seed) {
  QuantMatrix m;
  m.row_bytes = row_size_bytes(type, n);
  m.bytes.resize(rows * m.row_bytes);
  m.values.resize(rows * n);
  const std::vector<float> src = random_floats(rows * n, seed);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = m.bytes.data() + r * m.row_bytes;
    EXPECT_TRUE(quant::quantize_row(type, src.data() + r * n, dst, n).ok());
    quant::dequantize_row(type, dst, m.values.data() + r * n, n);
  }
  return m;
}

// The CPU backend's y (num_tokens, rows) = x · W^T through its activation
// blocks, and |w_i| |x_i| summed per output (the scale of the bound).
void cpu_product(TensorType type, const QuantMatrix& m, const std::vector<float>& x, int64_t rows,
                 int64_t n, int64_t num_tokens, std::vector<float>& y,
                 std::vector<double>& magnitude) {
  y.assign(num_tokens * rows, 0.0f);
  magnitude.assign(num_tokens * rows, 0.0);
  std::vector<uint8_t> act(quant::activation_row_bytes(type, n));
  for (int64_t t = 0; t < num_tokens; ++t) {
    quant::quantize_activation(type, x.data() + t * n, act.data(), n);
    for (int64_t r = 0; r < rows; ++r) {
      y[t * rows + r] =
          quant::vec_dot_reference(type, n, m.bytes.data() + r * m.row_bytes, act.data());
      double mag = 0;
      for (int64_t i = 0; i < n; ++i) mag += std::abs(double{m.values[r * n + i]} * x[t * n + i]);
      magnitude[t * rows + r] = mag;
    }
  }
}

struct Dp4aCase {
  TensorType type;
  int64_t rows, n, num_tokens;
  int offset = 0;  // bytes between the allocation and the weights (2: not 16-byte aligned)
};

class MatmulDp4aTest : public ::testing::TestWithParam<Dp4aCase> {};

TEST_P(MatmulDp4aTest, MatchesCpuQuantizedDot) {
  TK_REQUIRE_CUDA_DEVICE();
  const Dp4aCase c = GetParam();
  const QuantMatrix m = random_quant_matrix(c.type, c.rows, c.n, 5 + c.rows + c.n);
  const std::vector<float> x = random_floats(c.num_tokens * c.n, 13 + c.n + c.num_tokens);
  std::vector<uint8_t> padded(c.offset, 0);
  padded.insert(padded.end(), m.bytes.begin(), m.bytes.end());
  DeviceArray<uint8_t> dw(padded);
  DeviceArray<float> dx(x);
  DeviceArray<float> dy(c.num_tokens * c.rows);
  const cuda::MatmulWeight w{dw.get() + c.offset, c.type, c.rows, c.n, m.row_bytes};
  std::vector<float> ref;
  std::vector<double> magnitude;
  cpu_product(c.type, m, x, c.rows, c.n, c.num_tokens, ref, magnitude);

  double max_dp4a = 0;
  // 2 and 4 rows per warp, 1024- and 2048-value segments, and the default
  // (rows by the matrix size).
  for (int variant :
       {cuda::kMatmulDecodeDp4aTwoRows, cuda::kMatmulDecodeDp4a, cuda::kMatmulDecodeDp4aLong,
        cuda::kMatmulDecodeDp4aLongTwoRows, cuda::kMatmulDecodeAuto}) {
    SCOPED_TRACE("variant " + std::to_string(variant));
    std::vector<float> y;
    {
      VariantScope dp4a(variant);
      dy.poison();
      TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get(), c.num_tokens, dy.get(), nullptr));
      y = dy.download();
    }
    for (int64_t t = 0; t < c.num_tokens; ++t) {
      for (int64_t r = 0; r < c.rows; ++r) {
        const int64_t i = t * c.rows + r;
        ASSERT_TRUE(std::isfinite(y[i])) << "token " << t << " row " << r << " not written";
        ASSERT_NEAR(y[i], ref[i], 4e-6 * magnitude[i] + 1e-6) << "token " << t << " row " << r;
        max_dp4a = std::max(max_dp4a, std::abs(double{y[i]} - ref[i]) / (magnitude[i] + 1e-30));
      }
    }
  }
  // The point of the path: closer to the CPU backend than the fp32 kernel
  // (exact x), which differs from it by the activation rounding (~1e-3).
  dy.poison();
  {
    VariantScope fp32(cuda::kMatmulDecodeFp32);
    TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get(), c.num_tokens, dy.get(), nullptr));
  }
  const std::vector<float> y_fp32 = dy.download();
  double max_fp32 = 0;
  for (size_t i = 0; i < y_fp32.size(); ++i)
    max_fp32 = std::max(max_fp32, std::abs(double{y_fp32[i]} - ref[i]) / (magnitude[i] + 1e-30));
  EXPECT_LT(max_dp4a, max_fp32) << "dp4a " << max_dp4a << " fp32 kernel " << max_fp32;
}

std::vector<Dp4aCase> dp4a_cases() {
  std::vector<Dp4aCase> cases;
  for (TensorType t : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K}) {
    const int64_t bs = traits(t).block_size;
    // One block, three (a partial segment), 4096 and ~11008 (several segments).
    for (int64_t n : {bs, 3 * bs, 4096 / bs * bs, 11008 / bs * bs})
      for (int64_t tokens : {1, 2, 3, 4, 5, 8, 9, 16})
        cases.push_back({t, n > 5000 ? 19 : 133, n, tokens});
    // One row; more row groups than resident warps; 17 tokens (3 passes of 8).
    cases.push_back({t, 1, 8 * bs, 1});
    cases.push_back({t, 9001, 512 / bs * bs + bs, 1});
    cases.push_back({t, 9001, 512 / bs * bs + bs, 6});
    cases.push_back({t, 70, 2304 / bs * bs, 17});
    // Weights 2 bytes past a 16-byte boundary (the 2-byte aligned loads).
    cases.push_back({t, 37, 4096, 1, 2});
    cases.push_back({t, 37, 4096, 4, 2});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, MatmulDp4aTest, ::testing::ValuesIn(dp4a_cases()),
                         [](const auto& info) {
                           const Dp4aCase& c = info.param;
                           return std::string(tensor_type_name(c.type)) + "_r" +
                                  std::to_string(c.rows) + "_n" + std::to_string(c.n) + "_t" +
                                  std::to_string(c.num_tokens) + "_o" + std::to_string(c.offset);
                         });

// The kernel's int8 x for one token row, built from the CPU's activation
// blocks: xq (n), xd (n / kXBlock), xs (n / 32: sums of every 32 xq).
struct KernelX {
  std::vector<int8_t> xq;
  std::vector<float> xd;
  std::vector<int> xs;
};

KernelX kernel_x(TensorType type, const std::vector<uint8_t>& act, int64_t n) {
  KernelX k{std::vector<int8_t>(n), {}, std::vector<int>(n / 32)};
  if (type == TensorType::Q4_0 || type == TensorType::Q8_0) {
    const bool with_sum = type == TensorType::Q4_0;
    const size_t stride = with_sum ? sizeof(quant::BlockQ8_0Sum) : sizeof(quant::BlockQ8_0);
    for (int64_t b = 0; b < n / 32; ++b) {
      const uint8_t* blk = act.data() + b * stride;
      uint16_t d;
      std::memcpy(&d, blk, 2);
      k.xd.push_back(fp16_to_f32(d));
      std::memcpy(&k.xq[32 * b], blk + (with_sum ? 4 : 2), 32);
      for (int i = 0; i < 32; ++i) k.xs[b] += k.xq[32 * b + i];
    }
  } else {
    const auto* blocks = reinterpret_cast<const quant::BlockQ8K*>(act.data());
    for (int64_t b = 0; b < n / 256; ++b) {
      k.xd.push_back(blocks[b].d);
      std::memcpy(&k.xq[256 * b], blocks[b].qs, 256);
      for (int j = 0; j < 8; ++j)
        k.xs[8 * b + j] = blocks[b].bsums[2 * j] + blocks[b].bsums[2 * j + 1];
    }
  }
  return k;
}

// The sum over a row's pieces as the kernel computes them, with segments
// of seg_values (the kernel's 1024, or 2048 for one token: pieces 0..63 of
// a slot) each staged at slot offset `offset` (its address mod 16).
template <TensorType T>
double pieces_dot(const uint8_t* row, int64_t n, const KernelX& x, int offset, int64_t seg_values) {
  using D = cuda::Dp4a<T>;
  alignas(16) uint8_t slot[4096 + 64];
  double sum = 0;
  for (int64_t s0 = 0; s0 < n; s0 += seg_values) {
    const int64_t seg_n = std::min<int64_t>(seg_values, n - s0);
    std::memset(slot, 0xA5, sizeof slot);
    std::memcpy(slot + offset, row + s0 / D::kBlockValues * D::kBlockBytes,
                seg_n / D::kBlockValues * D::kBlockBytes);
    for (int p = 0; p < seg_n / 32; ++p) {
      cuda::WeightPiece w;
      D::decode(slot + offset, offset == 0, p, w);
      const int64_t v0 = s0 + 32 * p;
      int4 a, b;
      std::memcpy(&a, &x.xq[v0], 16);
      std::memcpy(&b, &x.xq[v0 + 16], 16);
      int sum0, sum1;
      cuda::dot8(w.q, a, b, sum0, sum1);
      const float d = x.xd[v0 / D::kXBlock];
      if constexpr (T == TensorType::Q6_K) {
        sum += D::dot(w, sum0, sum1, d);
      } else {
        sum += D::dot(w, sum0 + sum1, d, x.xs[v0 / 32]);
      }
    }
  }
  return sum;
}

// No device needed: the pieces' layouts (nibble order, sub-block scales and
// mins, Q6_K's 6-bit assembly and group scales, the 2-byte aligned loads)
// against the CPU's vec_dot, for every slot alignment the staging gives and
// both segment lengths.
TEST(CudaMatmulDp4a, PiecesOnTheHostMatchCpuDot) {
  for (TensorType type : {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K}) {
    for (int64_t n : {256, 768, 4096, 10752}) {
      const QuantMatrix m = random_quant_matrix(type, 3, n, 17 + n);
      const std::vector<float> x = random_floats(n, 19 + n);
      std::vector<uint8_t> act(quant::activation_row_bytes(type, n));
      quant::quantize_activation(type, x.data(), act.data(), n);
      const KernelX kx = kernel_x(type, act, n);
      for (int64_t r = 0; r < 3; ++r) {
        const uint8_t* row = m.bytes.data() + r * m.row_bytes;
        const float ref = quant::vec_dot_reference(type, n, row, act.data());
        double magnitude = 0;
        for (int64_t i = 0; i < n; ++i) magnitude += std::abs(double{m.values[r * n + i]} * x[i]);
        for (int64_t seg : {1024, 2048}) {
          for (int offset = 0; offset < 16; offset += 2) {
            double got = 0;
            switch (type) {
              case TensorType::Q4_0:
                got = pieces_dot<TensorType::Q4_0>(row, n, kx, offset, seg);
                break;
              case TensorType::Q8_0:
                got = pieces_dot<TensorType::Q8_0>(row, n, kx, offset, seg);
                break;
              case TensorType::Q4_K:
                got = pieces_dot<TensorType::Q4_K>(row, n, kx, offset, seg);
                break;
              default:
                got = pieces_dot<TensorType::Q6_K>(row, n, kx, offset, seg);
                break;
            }
            ASSERT_NEAR(got, ref, 1e-6 * magnitude)
                << tensor_type_name(type) << " n " << n << " row " << r << " offset " << offset
                << " segment " << seg;
          }
        }
      }
    }
  }
}

// q/k/v-like groups in one launch: each output exactly as its own launch
// (the default path: 4 or 2 rows per warp by the group's rows, the same
// sums either way).
TEST(CudaMatmulDp4a, GroupEqualsSeparateProducts) {
  TK_REQUIRE_CUDA_DEVICE();
  for (TensorType type : {TensorType::Q4_0, TensorType::Q6_K}) {
    const int64_t n = 1024, rows[3] = {5, 64, 33};
    for (int64_t tokens : {1, 7}) {
      std::vector<QuantMatrix> ms;
      std::vector<std::unique_ptr<DeviceArray<uint8_t>>> dws;
      std::vector<std::unique_ptr<DeviceArray<float>>> dys;
      cuda::MatmulWeight ws[3];
      float* ys[3];
      for (int g = 0; g < 3; ++g) {
        ms.push_back(random_quant_matrix(type, rows[g], n, 50 + g));
        dws.push_back(std::make_unique<DeviceArray<uint8_t>>(ms[g].bytes));
        dys.push_back(std::make_unique<DeviceArray<float>>(tokens * rows[g]));
        ws[g] = {dws[g]->get(), type, rows[g], n, ms[g].row_bytes};
        ys[g] = dys[g]->get();
      }
      DeviceArray<float> dx(random_floats(tokens * n, 77));
      TK_EXPECT_CUDA_OK(cuda::launch_matmul_group(ws, ys, 3, dx.get(), tokens, nullptr));
      for (int g = 0; g < 3; ++g) {
        DeviceArray<float> single(tokens * rows[g]);
        TK_EXPECT_CUDA_OK(cuda::launch_matmul(ws[g], dx.get(), tokens, single.get(), nullptr));
        const std::vector<float> a = dys[g]->download(), b = single.download();
        for (size_t i = 0; i < a.size(); ++i) {
          ASSERT_TRUE(std::isfinite(a[i])) << "weight " << g << " output " << i;
          ASSERT_EQ(a[i], b[i]) << "weight " << g << " output " << i;
        }
      }
    }
  }
}

// Rows too long for the quantized x of a pass in shared memory: the launch
// takes the fp32 kernel, bit for bit what variant 0 gives; float types too.
TEST(CudaMatmulDp4a, FallsBackToFp32KernelWhereItCannotRun) {
  TK_REQUIRE_CUDA_DEVICE();
  struct Case {
    TensorType type;
    int64_t n, tokens;
  };
  for (const Case c : {Case{TensorType::Q8_0, 32768, 9}, Case{TensorType::F16, 100, 3}}) {
    const int64_t rows = 7;
    const QuantMatrix m = random_quant_matrix(c.type, rows, c.n, 91);
    DeviceArray<uint8_t> dw(m.bytes);
    DeviceArray<float> dx(random_floats(c.tokens * c.n, 92));
    DeviceArray<float> da(c.tokens * rows), db(c.tokens * rows);
    const cuda::MatmulWeight w{dw.get(), c.type, rows, c.n, m.row_bytes};
    TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get(), c.tokens, da.get(), nullptr));
    {
      VariantScope fp32(cuda::kMatmulDecodeFp32);
      TK_EXPECT_CUDA_OK(cuda::launch_matmul(w, dx.get(), c.tokens, db.get(), nullptr));
    }
    const std::vector<float> a = da.download(), b = db.download();
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(std::isfinite(a[i])) << tensor_type_name(c.type) << " output " << i;
      ASSERT_EQ(a[i], b[i]) << tensor_type_name(c.type) << " output " << i;
    }
  }
  EXPECT_FALSE(cuda::matmul_dp4a_supports(TensorType::F16));
  EXPECT_TRUE(cuda::matmul_dp4a_supports(TensorType::Q6_K));
}

// Whole model, one token per step (decode graphs): with the dp4a path the
// CUDA backend rounds activations as the CPU backend does, so its logits
// stay within the fp32 kernel's bound in backend_test (0.03). Whether they
// also come closer than the fp32 kernel's is not stable on this tiny model:
// on the H200, Q4_K 2.33e-2 -> 2.15e-2 and Q6_K 2.29e-2 -> 1.99e-2, but
// Q8_0 1.51e-2 -> 1.52e-2 and Q4_0 1.66e-2 -> 1.75e-2 (other steps dominate
// the gap); the kernel tests above check the rounding itself at 4e-6. A backend captures its graphs
// with the variant set at its steps, so each variant gets its own backend.
TEST(CudaMatmulDp4a, DecodeLogitsWithinTheBackendBound) {
  TK_REQUIRE_CUDA_DEVICE();
  std::vector<int32_t> tokens = {1};
  for (int32_t i = 1; i < 24; ++i) tokens.push_back((i * 37 + 11) % 64);
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K}) {
    SCOPED_TRACE(tensor_type_name(type));
    testing::TinyConfig c;
    c.weight_type = type;
    c.embd_type = type;
    auto model = testing::make_tiny_model(c);
    ASSERT_TRUE(model.ok()) << model.error().message;
    CpuBackendOptions co;
    co.num_threads = 2;
    co.max_step_tokens = 64;
    auto cpu = make_cpu_backend(*model, co);
    ASSERT_TRUE(cpu.ok()) << cpu.error().message;
    auto ref = sequence_logits(**cpu, tokens);
    ASSERT_TRUE(ref.ok());
    double diff[2] = {};
    for (int v = 0; v < 2; ++v) {
      VariantScope variant(v == 0 ? cuda::kMatmulDecodeFp32 : cuda::kMatmulDecodeAuto);
      CudaBackendOptions go;
      go.max_step_tokens = 1;
      go.kv.block_size = 4;
      auto gpu = make_cuda_backend(*model, go);
      ASSERT_TRUE(gpu.ok()) << gpu.error().message;
      auto logits = sequence_logits(**gpu, tokens);
      ASSERT_TRUE(logits.ok());
      EXPECT_EQ(gpu_testing::count_non_finite(*logits), 0u);
      diff[v] = gpu_testing::rel_max_diff(*logits, *ref);
    }
    std::printf("%s decode vs cpu: fp32 kernel %.2e, dp4a %.2e\n",
                std::string(tensor_type_name(type)).c_str(), diff[0], diff[1]);
    EXPECT_LT(diff[1], 3e-2);
    EXPECT_LT(diff[0], 3e-2);
  }
}

}  // namespace
}  // namespace tokamak
