// Each CPU op against a naive double-precision implementation on random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/elementwise.h"
#include "cpu/matmul.h"
#include "cpu/rms_norm.h"
#include "cpu/rope.h"
#include "engine/model/tiny_gguf.h"
#include "quant/quant.h"

namespace tokamak::cpu {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(RmsNorm, MatchesDoubleReference) {
  ThreadPool pool(2);
  const int64_t rows = 37, dim = 96;  // 37 rows: crosses the threading threshold
  for (int64_t big_rows : {int64_t{3}, int64_t{400}}) {
    const int64_t n = big_rows == 3 ? 3 : rows * 11;
    auto x = random_vector(n * dim, 1, -3.0f, 3.0f);
    auto w = random_vector(dim, 2, 0.5f, 1.5f);
    std::vector<float> y(n * dim);
    rms_norm(pool, x.data(), w.data(), y.data(), n, dim, 1e-5f);
    for (int64_t r = 0; r < n; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
      const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
      for (int64_t i = 0; i < dim; ++i)
        ASSERT_NEAR(y[r * dim + i], x[r * dim + i] * inv * w[i], 1e-5) << r << "," << i;
    }
  }
}

// Reference rope on one head, pairs seen as complex numbers.
void reference_rope(RopeStyle style, std::vector<double>& head, int rope_dim,
                    const std::vector<double>& inv_freq, int pos) {
  const int half = rope_dim / 2;
  for (int i = 0; i < half; ++i) {
    const int ia = style == RopeStyle::Normal ? 2 * i : i;
    const int ib = style == RopeStyle::Normal ? 2 * i + 1 : i + half;
    const std::complex<double> z(head[ia], head[ib]);
    const std::complex<double> r = z * std::polar(1.0, pos * inv_freq[i]);
    head[ia] = r.real();
    head[ib] = r.imag();
  }
}

void check_rope(RopeStyle style, const RopeConfig& config, int head_dim) {
  const int num_heads = 3, num_tokens = 5;
  const std::vector<int32_t> positions = {0, 1, 7, 300, 4095};
  std::vector<float> inv_freq(config.dim / 2);
  std::vector<double> inv_freq_ref(config.dim / 2);
  for (int i = 0; i < config.dim / 2; ++i) {
    inv_freq[i] = config.inv_freq(i);
    double f = std::pow(double(config.theta), -2.0 * i / config.dim);
    if (!config.freq_factors.empty()) f /= config.freq_factors[i];
    if (config.scaling == RopeScaling::Linear) f /= config.factor;
    inv_freq_ref[i] = f;
    ASSERT_NEAR(inv_freq[i], f, 1e-6 * f);
  }
  auto x = random_vector(num_tokens * num_heads * head_dim, 3);
  std::vector<float> cs(num_tokens * config.dim);
  rope_angles(inv_freq, positions, cs.data());
  std::vector<float> y = x;
  apply_rope(style, cs.data(), config.dim, head_dim, num_heads, num_tokens, y.data());
  for (int t = 0; t < num_tokens; ++t) {
    for (int h = 0; h < num_heads; ++h) {
      const size_t base = (t * num_heads + h) * head_dim;
      std::vector<double> head(x.begin() + base, x.begin() + base + head_dim);
      reference_rope(style, head, config.dim, inv_freq_ref, positions[t]);
      for (int d = 0; d < head_dim; ++d)
        ASSERT_NEAR(y[base + d], head[d], 2e-4) << "t " << t << " h " << h << " d " << d;
    }
  }
}

TEST(Rope, NormalStyleRotatesAdjacentPairs) {
  RopeConfig c;
  c.dim = 64;
  check_rope(RopeStyle::Normal, c, 64);
}

TEST(Rope, NeoxStyleRotatesHalves) {
  RopeConfig c;
  c.dim = 64;
  c.theta = 1000000.0f;
  check_rope(RopeStyle::Neox, c, 64);
}

TEST(Rope, PartialRotaryLeavesTheRestAlone) {
  RopeConfig c;
  c.dim = 32;
  check_rope(RopeStyle::Neox, c, 64);
  check_rope(RopeStyle::Normal, c, 64);
}

TEST(Rope, LinearScalingDividesFrequencies) {
  RopeConfig c;
  c.dim = 32;
  c.scaling = RopeScaling::Linear;
  c.factor = 4.0f;
  check_rope(RopeStyle::Normal, c, 32);
}

// Meta's apply_scaling (Llama 3.1 reference code), in double.
std::vector<double> meta_llama3_freqs(double theta, int dim, double factor, double low, double high,
                                      double old_ctx) {
  std::vector<double> out;
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  for (int i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(theta, double(i) / dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      out.push_back(freq);
    } else if (wavelen > low_wavelen) {
      out.push_back(freq / factor);
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      out.push_back((1 - smooth) * freq / factor + smooth * freq);
    }
  }
  return out;
}

TEST(Rope, Llama3FactorsMatchMetaReference) {
  RopeConfig c;
  c.dim = 128;
  c.theta = 500000.0f;
  c.scaling = RopeScaling::Llama3;
  c.factor = 8.0f;
  c.low_freq_factor = 1.0f;
  c.high_freq_factor = 4.0f;
  c.original_context = 8192;
  c.freq_factors = llama3_freq_factors(c);
  const auto meta = meta_llama3_freqs(500000.0, 128, 8.0, 1.0, 4.0, 8192.0);
  ASSERT_EQ(c.freq_factors.size(), meta.size());
  int scaled = 0, smooth = 0;
  for (int i = 0; i < 64; ++i) {
    EXPECT_NEAR(c.inv_freq(i), meta[i], 1e-6 * meta[i]) << i;
    scaled += c.freq_factors[i] == 8.0f;
    smooth += c.freq_factors[i] > 1.0f && c.freq_factors[i] < 8.0f;
  }
  EXPECT_GT(scaled, 0);  // all three bands are present at these settings
  EXPECT_GT(smooth, 0);
  EXPECT_EQ(c.freq_factors[0], 1.0f);
  check_rope(RopeStyle::Normal, c, 128);
}

// Attention with GQA (8 heads over 2 kv heads) through scattered block
// tables of two sequences, against a naive double version. `long_context`
// makes the step big enough to be spread over the pool's threads.
void check_attention(bool long_context) {
  ThreadPool pool(2);
  const AttentionShape shape{8, 2, 16, 4};
  const int32_t num_blocks = long_context ? 80 : 12, kv_dim = shape.num_kv_heads * shape.head_dim;
  auto k_pool = random_vector(num_blocks * shape.block_size * kv_dim, 4, -2.0f, 2.0f);
  auto v_pool = random_vector(num_blocks * shape.block_size * kv_dim, 5);
  std::vector<int32_t> table0 = {9, 2, 7, 4};  // positions 0..15
  std::vector<int32_t> table1 = {0, 11, 5};    // positions 0..11
  std::vector<int32_t> positions = {13, 14, 15, 0, 6, 11};
  std::vector<int32_t> token_seq = {0, 0, 0, 1, 1, 1};
  if (long_context) {  // sequence 0 spans 70 distinct blocks in scrambled order
    table0.clear();
    for (int32_t b = 0; b < 70; ++b) table0.push_back((b * 37 + 11) % 80);
    positions = {150, 200, 279, 0, 6, 11};
  }
  const StepSequence seqs[2] = {{table0}, {table1}};
  const int64_t n = positions.size();
  auto q = random_vector(n * shape.num_heads * shape.head_dim, 6, -2.0f, 2.0f);
  std::vector<float> out(q.size());
  const int64_t max_positions = 320;
  std::vector<float> scores(pool.num_threads() * max_positions);
  const AttentionInputs in{q.data(), k_pool.data(), v_pool.data(), positions, token_seq, seqs};
  attention(pool, shape, in, out.data(), scores.data(), max_positions);

  for (int64_t t = 0; t < n; ++t) {
    const auto& table = token_seq[t] == 0 ? table0 : table1;
    for (int h = 0; h < shape.num_heads; ++h) {
      const int kh = h / 4;
      auto at = [&](const std::vector<float>& pool_values, int j, int d) {
        const int block = table[j / shape.block_size];
        return double(pool_values[(block * shape.block_size + j % shape.block_size) * kv_dim +
                                  kh * shape.head_dim + d]);
      };
      std::vector<double> s(positions[t] + 1);
      double mx = -1e300;
      for (int j = 0; j <= positions[t]; ++j) {
        double dot = 0;
        for (int d = 0; d < shape.head_dim; ++d)
          dot += q[(t * shape.num_heads + h) * shape.head_dim + d] * at(k_pool, j, d);
        s[j] = dot / std::sqrt(double(shape.head_dim));
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (int d = 0; d < shape.head_dim; ++d) {
        double o = 0;
        for (int j = 0; j <= positions[t]; ++j) o += s[j] / sum * at(v_pool, j, d);
        ASSERT_NEAR(out[(t * shape.num_heads + h) * shape.head_dim + d], o, 1e-5)
            << "t " << t << " h " << h << " d " << d;
      }
    }
  }
}

TEST(Attention, GqaOverScatteredBlockTablesMatchesDouble) { check_attention(false); }

TEST(Attention, LongContextSpreadOverThreadsMatchesDouble) { check_attention(true); }

TEST(Swiglu, MatchesDouble) {
  ThreadPool pool(2);
  for (int64_t n : {int64_t{100}, int64_t{70000}}) {
    auto g = random_vector(n, 7, -6.0f, 6.0f);
    auto u = random_vector(n, 8);
    auto out = g;
    swiglu(pool, out.data(), u.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double ref = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
      ASSERT_NEAR(out[i], ref, 1e-5 * (1 + std::abs(ref))) << i;
    }
  }
}

class MatmulTest : public ::testing::TestWithParam<TensorType> {};

// y = x W^T against dequantize(W) . x in double. The activation conversion
// (Q8_0 / Q8_K for quantized weights) costs at most half a step of the
// activation's per-block scale per value, which bounds the error.
TEST_P(MatmulTest, MatchesDequantizedDoubleDot) {
  const TensorType type = GetParam();
  ThreadPool pool(2);
  const int64_t rows = 70, len = 512, num_x = 9;
  auto wf = random_vector(rows * len, 9);
  std::vector<uint8_t> wq = testing::encode_tensor(wf, len, type);
  ASSERT_FALSE(wq.empty()) << "quantize_row failed for " << tensor_type_name(type);
  WeightView w{wq.data(), type, rows, len, "w"};
  std::vector<float> wd(rows * len);
  for (int64_t r = 0; r < rows; ++r)
    quant::dequantize_row(type, w.row(r), wd.data() + r * len, len);
  auto x = random_vector(num_x * len, 10, -2.0f, 2.0f);

  ActivationBuffer act;
  act.reserve(num_x, len);
  act.convert(pool, type, x.data(), num_x, len);
  std::vector<float> y(num_x * rows);
  matmul(pool, w, act, y.data());

  const bool float_weights =
      type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16;
  for (int64_t t = 0; t < num_x; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double ref = 0, abs_sum = 0, w_abs = 0;
      for (int64_t i = 0; i < len; ++i) {
        ref += double(wd[r * len + i]) * x[t * len + i];
        abs_sum += std::abs(double(wd[r * len + i]) * x[t * len + i]);
        w_abs += std::abs(wd[r * len + i]);
      }
      const double tol = float_weights ? 1e-5 * abs_sum + 1e-6 : w_abs * 2.0 / 127.0 / 2.0 + 1e-5;
      ASSERT_NEAR(y[t * rows + r], ref, tol)
          << tensor_type_name(type) << " x " << t << " row " << r;
    }
  }

  // One activation row at a time gives the same numbers as the batch.
  for (int64_t t = 0; t < num_x; ++t) {
    act.convert(pool, type, x.data() + t * len, 1, len);
    std::vector<float> y1(rows);
    matmul(pool, w, act, y1.data());
    for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(y1[r], y[t * rows + r]);
  }
}

// matmul_group over three weights gives exactly the three separate products.
TEST(Matmul, GroupEqualsSeparateProducts) {
  ThreadPool pool(2);
  const int64_t len = 256;
  const int64_t rows[3] = {300, 40, 77};
  std::vector<std::vector<uint8_t>> data;
  std::vector<WeightView> ws;
  for (int i = 0; i < 3; ++i) {
    data.push_back(
        testing::encode_tensor(random_vector(rows[i] * len, 20 + i), len, TensorType::Q4_K));
  }
  for (int i = 0; i < 3; ++i) ws.push_back({data[i].data(), TensorType::Q4_K, rows[i], len, "w"});
  for (int64_t num_x : {int64_t{1}, int64_t{70}}) {
    auto x = random_vector(num_x * len, 30);
    ActivationBuffer act;
    act.reserve(num_x, len);
    act.convert(pool, TensorType::Q4_K, x.data(), num_x, len);
    std::vector<std::vector<float>> grouped(3), separate(3);
    for (int i = 0; i < 3; ++i) {
      grouped[i].resize(num_x * rows[i]);
      separate[i].resize(num_x * rows[i]);
      matmul(pool, ws[i], act, separate[i].data());
    }
    const MatmulJob jobs[3] = {
        {&ws[0], grouped[0].data()}, {&ws[1], grouped[1].data()}, {&ws[2], grouped[2].data()}};
    matmul_group(pool, jobs, act);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(grouped[i], separate[i]) << "weight " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatmulTest,
                         ::testing::Values(TensorType::F32, TensorType::F16, TensorType::BF16,
                                           TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K,
                                           TensorType::Q6_K),
                         [](const auto& info) {
                           return std::string(tensor_type_name(info.param));
                         });

}  // namespace
}  // namespace tokamak::cpu
