// The CPU backend on random tiny models: whole-model logits against a naive
// double-precision forward pass written here from the formulas, batched
// prefill against token-by-token decode, and plan validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "engine/model/tiny_gguf.h"
#include "quant/quant.h"

namespace tokamak {
namespace {

using testing::TinyConfig;
using Mat = std::vector<double>;  // row-major

Mat dequant(const WeightView& w) {
  Mat out(w.rows * w.row_length);
  std::vector<float> row(w.row_length);
  for (int64_t r = 0; r < w.rows; ++r) {
    quant::dequantize_row(w.type, w.row(r), row.data(), w.row_length);
    std::copy(row.begin(), row.end(), out.begin() + r * w.row_length);
  }
  return out;
}

std::vector<double> matvec(const WeightView& w, const std::vector<double>& x) {
  const Mat m = dequant(w);
  std::vector<double> y(w.rows, 0.0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t i = 0; i < w.row_length; ++i) y[r] += m[r * w.row_length + i] * x[i];
  return y;
}

std::vector<double> rmsnorm(const std::vector<double>& x, const WeightView& w, double eps) {
  const float* g = static_cast<const float*>(w.data);
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * g[i];
  return y;
}

void add_bias(std::vector<double>& x, const WeightView& b) {
  if (!b.present()) return;
  for (size_t i = 0; i < x.size(); ++i) x[i] += static_cast<const float*>(b.data)[i];
}

// Rotates each head of x; normal: pairs (2i, 2i+1); neox: (i, i + dim/2).
void rope(std::vector<double>& x, const ModelSpec& s, int pos, int num_heads) {
  const int half = s.rope.dim / 2;
  for (int h = 0; h < num_heads; ++h) {
    double* head = x.data() + h * s.head_dim;
    for (int i = 0; i < half; ++i) {
      double freq = std::pow(double(s.rope.theta), -2.0 * i / s.rope.dim);
      if (!s.rope.freq_factors.empty()) freq /= s.rope.freq_factors[i];
      const double a = pos * freq;
      double& x0 = s.rope_style == RopeStyle::Normal ? head[2 * i] : head[i];
      double& x1 = s.rope_style == RopeStyle::Normal ? head[2 * i + 1] : head[i + half];
      const double r0 = x0 * std::cos(a) - x1 * std::sin(a);
      const double r1 = x0 * std::sin(a) + x1 * std::cos(a);
      x0 = r0;
      x1 = r1;
    }
  }
}

// Logits (tokens.size(), vocab) of one sequence from position 0, in double.
// `spec` overrides the model's (to try the other RoPE convention).
std::vector<double> reference_logits(const Model& model, const std::vector<int32_t>& tokens,
                                     const ModelSpec* spec = nullptr) {
  const ModelSpec& s = spec ? *spec : model.spec();
  const ModelWeights& w = model.weights();
  const Mat embd = dequant(w.token_embd);
  const int n = static_cast<int>(tokens.size());
  std::vector<std::vector<double>> kcache(s.num_layers * n), vcache(s.num_layers * n);
  std::vector<double> logits;
  for (int pos = 0; pos < n; ++pos) {
    std::vector<double> x(embd.begin() + tokens[pos] * s.dim,
                          embd.begin() + (tokens[pos] + 1) * s.dim);
    for (int l = 0; l < s.num_layers; ++l) {
      const LayerWeights& lw = w.layers[l];
      auto xn = rmsnorm(x, lw.attn_norm, s.rms_eps);
      auto q = matvec(lw.wq, xn), k = matvec(lw.wk, xn), v = matvec(lw.wv, xn);
      add_bias(q, lw.bq);
      add_bias(k, lw.bk);
      add_bias(v, lw.bv);
      rope(q, s, pos, s.num_heads);
      rope(k, s, pos, s.num_kv_heads);
      kcache[l * n + pos] = k;
      vcache[l * n + pos] = v;
      std::vector<double> att(s.q_dim(), 0.0);
      for (int h = 0; h < s.num_heads; ++h) {
        const int kh = h / (s.num_heads / s.num_kv_heads);
        std::vector<double> sc(pos + 1);
        for (int j = 0; j <= pos; ++j) {
          double d = 0;
          for (int e = 0; e < s.head_dim; ++e)
            d += q[h * s.head_dim + e] * kcache[l * n + j][kh * s.head_dim + e];
          sc[j] = d / std::sqrt(double(s.head_dim));
        }
        const double mx = *std::max_element(sc.begin(), sc.end());
        double sum = 0;
        for (auto& e : sc) sum += (e = std::exp(e - mx));
        for (int j = 0; j <= pos; ++j)
          for (int e = 0; e < s.head_dim; ++e)
            att[h * s.head_dim + e] += sc[j] / sum * vcache[l * n + j][kh * s.head_dim + e];
      }
      auto o = matvec(lw.wo, att);
      for (int i = 0; i < s.dim; ++i) x[i] += o[i];
      xn = rmsnorm(x, lw.ffn_norm, s.rms_eps);
      auto g = matvec(lw.w_gate, xn), u = matvec(lw.w_up, xn);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      auto d = matvec(lw.w_down, g);
      for (int i = 0; i < s.dim; ++i) x[i] += d[i];
    }
    auto out = matvec(w.output, rmsnorm(x, w.output_norm, s.rms_eps));
    logits.insert(logits.end(), out.begin(), out.end());
  }
  return logits;
}

std::shared_ptr<const Model> tiny(const TinyConfig& c) {
  auto m = testing::make_tiny_model(c);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? *m : nullptr;
}

std::unique_ptr<Backend> backend_for(std::shared_ptr<const Model> model, int32_t max_step_tokens,
                                     int32_t block_size = 16) {
  CpuBackendOptions o;
  o.max_step_tokens = max_step_tokens;
  o.kv.block_size = block_size;
  auto b = make_cpu_backend(std::move(model), o);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b.ok() ? std::move(b).value() : nullptr;
}

const std::vector<int32_t> kTokens = {1, 17, 42, 5, 63, 8, 8, 30, 2, 11, 50, 3, 27, 19};

// max |a - b| / max |b|
double rel_max_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

struct TypeCase {
  TensorType type;
  double ref_tol;  // against the double reference (activation rounding)
};

class BackendTypes : public ::testing::TestWithParam<TypeCase> {};

TEST_P(BackendTypes, PrefillEqualsDecodeAndMatchesDoubleReference) {
  TinyConfig c;
  c.weight_type = GetParam().type;
  c.embd_type = GetParam().type;
  auto model = tiny(c);
  ASSERT_TRUE(model);
  auto prefill = backend_for(model, 512);
  auto decode = backend_for(model, 1, 4);
  auto chunked = backend_for(model, 5, 3);
  ASSERT_TRUE(prefill && decode && chunked);
  auto lp = sequence_logits(*prefill, kTokens);
  auto ld = sequence_logits(*decode, kTokens);
  auto lc = sequence_logits(*chunked, kTokens);
  ASSERT_TRUE(lp.ok() && ld.ok() && lc.ok());
  std::vector<double> ldd(ld->begin(), ld->end());
  EXPECT_LT(rel_max_diff(*lp, ldd), 1e-4);
  EXPECT_LT(rel_max_diff(*lc, ldd), 1e-4);
  const auto ref = reference_logits(*model, kTokens);
  EXPECT_LT(rel_max_diff(*lp, ref), GetParam().ref_tol) << tensor_type_name(GetParam().type);
}

INSTANTIATE_TEST_SUITE_P(
    AllWeightTypes, BackendTypes,
    ::testing::Values(TypeCase{TensorType::F32, 1e-5}, TypeCase{TensorType::F16, 1e-4},
                      TypeCase{TensorType::BF16, 1e-4}, TypeCase{TensorType::Q8_0, 0.03},
                      TypeCase{TensorType::Q4_0, 0.03}, TypeCase{TensorType::Q4_K, 0.03},
                      TypeCase{TensorType::Q6_K, 0.03}),
    [](const auto& info) { return std::string(tensor_type_name(info.param.type)); });

// A mix of types inside one layer (as Q4_K_M files have): q/k/v and
// gate/up with different activation formats take the one-by-one path, the
// rest the grouped one; all must match the reference.
TEST(CpuBackend, MixedTypesWithinALayerMatchReference) {
  TinyConfig c;
  c.weight_type = TensorType::Q4_K;
  c.embd_type = TensorType::Q6_K;
  c.tweak = [](std::string& name, std::vector<int64_t>&, TensorType& type) {
    if (name.find("attn_k.weight") != std::string::npos) type = TensorType::F16;
    if (name.find("attn_v.weight") != std::string::npos) type = TensorType::Q8_0;
    if (name.find("ffn_up.weight") != std::string::npos) type = TensorType::Q6_K;
    if (name == "blk.1.ffn_gate.weight") type = TensorType::BF16;
  };
  auto model = tiny(c);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->weights().layers[0].wk.type, TensorType::F16);
  auto prefill = backend_for(model, 512);
  auto decode = backend_for(model, 1, 4);
  auto lp = sequence_logits(*prefill, kTokens);
  auto ld = sequence_logits(*decode, kTokens);
  ASSERT_TRUE(lp.ok() && ld.ok());
  std::vector<double> ldd(ld->begin(), ld->end());
  EXPECT_LT(rel_max_diff(*lp, ldd), 1e-4);
  EXPECT_LT(rel_max_diff(*lp, reference_logits(*model, kTokens)), 0.03);
}

TEST(CpuBackend, Qwen2NeoxRopeAndBiasesMatchReference) {
  TinyConfig c;
  c.arch = "qwen2";
  c.biases = true;
  c.rope_theta = 1000000.0f;
  c.tied = true;
  auto model = tiny(c);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->spec().rope_style, RopeStyle::Neox);
  EXPECT_TRUE(model->spec().attn_bias);
  EXPECT_TRUE(model->spec().tied_embeddings);
  auto backend = backend_for(model, 512);
  auto logits = sequence_logits(*backend, kTokens);
  ASSERT_TRUE(logits.ok());
  EXPECT_LT(rel_max_diff(*logits, reference_logits(*model, kTokens)), 1e-5);
  // Adjacent-pair RoPE on the same weights gives clearly other logits: the
  // comparison above can tell the two conventions apart.
  ModelSpec normal = model->spec();
  normal.rope_style = RopeStyle::Normal;
  EXPECT_GT(rel_max_diff(*logits, reference_logits(*model, kTokens, &normal)), 1e-2);
}

TEST(CpuBackend, RopeFreqsTensorIsApplied) {
  TinyConfig c;
  c.context_length = 64;
  RopeConfig r;
  r.dim = 64;
  r.theta = 500000.0f;
  r.factor = 8.0f;
  r.original_context = 16;  // small, so the tiny head has every band
  c.rope_theta = r.theta;
  c.rope_freqs = llama3_freq_factors(r);
  auto model = tiny(c);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->spec().rope.scaling, RopeScaling::Llama3);
  ASSERT_EQ(model->spec().rope.freq_factors, c.rope_freqs);
  auto backend = backend_for(model, 512);
  std::vector<int32_t> tokens(40);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = (i * 7 + 3) % 64;
  auto logits = sequence_logits(*backend, tokens);
  ASSERT_TRUE(logits.ok());
  const auto ref = reference_logits(*model, tokens);
  EXPECT_LT(rel_max_diff(*logits, ref), 1e-5);
}

TEST(CpuBackend, ResolvesDefaultKvBlocks) {
  ModelSpec s;
  s.context_length = 100;
  EXPECT_EQ(resolve_kv_config(s, {16, 0}).num_blocks, 7);
  s.context_length = 131072;
  EXPECT_EQ(resolve_kv_config(s, {16, 0}).num_blocks, 256);  // capped at 4096 tokens
  EXPECT_EQ(resolve_kv_config(s, {16, 9}).num_blocks, 9);
}

TEST(CpuBackend, RejectsBadOptions) {
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  CpuBackendOptions o;
  o.kv.block_size = 0;
  auto b = make_cpu_backend(model, o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::InvalidArgument);
  o = {};
  o.max_step_tokens = 0;
  EXPECT_FALSE(make_cpu_backend(model, o).ok());
  EXPECT_FALSE(make_cpu_backend(nullptr, {}).ok());
}

// Each malformed plan is refused with InvalidRequest and a message that names
// the problem; the backend keeps working afterwards.
TEST(CpuBackend, InvalidPlansAreErrorsNotCrashes) {
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  CpuBackendOptions o;
  o.kv = {4, 8};  // 32 positions
  o.max_step_tokens = 4;
  auto made = make_cpu_backend(model, o);
  ASSERT_TRUE(made.ok());
  Backend& b = **made;
  std::vector<float> logits(2 * 64);
  const std::vector<int32_t> table = {3, 1};
  const std::vector<int32_t> bad_table = {3, 8};
  const StepSequence seq{table};
  const StepSequence bad_seq{bad_table};
  struct Case {
    std::vector<int32_t> tokens, positions, token_seq, rows;
    const StepSequence* seq;
    size_t logits_size;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{1, 64}, {0, 1}, {0, 0}, {1}, &seq, 128, "id 64"},
      {{1, -1}, {0, 1}, {0, 0}, {1}, &seq, 128, "id -1"},
      {{1, 2}, {0, 1}, {0, 1}, {1}, &seq, 128, "sequence 1"},
      {{1, 2}, {0, 8}, {0, 0}, {1}, &seq, 128, "needs 3 blocks"},
      {{1, 2}, {0, 32}, {0, 0}, {1}, &seq, 128, "position 32"},
      {{1, 2}, {0, -1}, {0, 0}, {1}, &seq, 128, "position -1"},
      {{1, 2}, {4, 5}, {0, 0}, {1}, &bad_seq, 128, "block_table[1] = 8"},
      {{1, 2}, {0, 1}, {0, 0}, {2}, &seq, 128, "logits_rows[0] = 2"},
      {{1, 2}, {0, 1}, {0, 0}, {0, 1}, &seq, 100, "logits buffer"},
      {{1, 2, 3, 4, 5}, {0, 1, 2, 3, 4}, {0, 0, 0, 0, 0}, {1}, &seq, 128, "max_step_tokens"},
      {{1, 2}, {0}, {0, 0}, {1}, &seq, 128, "lengths"},
      {{}, {}, {}, {}, &seq, 128, "no tokens"},
  };
  for (const Case& c : cases) {
    StepPlan plan{c.tokens, c.positions, c.token_seq, {c.seq, 1}, c.rows};
    Status s = b.forward(plan, std::span<float>(logits.data(), c.logits_size));
    ASSERT_FALSE(s.ok()) << c.needle;
    EXPECT_EQ(s.error().code, ErrorCode::InvalidRequest);
    EXPECT_NE(s.error().message.find(c.needle), std::string::npos) << s.error().message;
  }
  const std::vector<int32_t> tokens = {1, 2}, positions = {0, 1}, token_seq = {0, 0}, rows = {1};
  EXPECT_TRUE(b.forward({tokens, positions, token_seq, {&seq, 1}, rows}, logits).ok());
}

TEST(CpuBackend, ReportsItsConfiguration) {
  auto model = tiny(TinyConfig{});
  ASSERT_TRUE(model);
  auto b = backend_for(model, 64, 8);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name(), "cpu");
  EXPECT_EQ(b->vocab_size(), 64);
  EXPECT_EQ(b->max_step_tokens(), 64);
  EXPECT_EQ(b->kv_config().block_size, 8);
  EXPECT_EQ(b->kv_config().num_blocks, 32);  // 256 context tokens / 8
}

}  // namespace
}  // namespace tokamak
