// The CPU forward pass against an independent reference: tiny random-weight
// GGUF models written by llama.cpp's gguf-py, and their logits computed in
// float64 numpy from the published llama / qwen2 architecture
// (tests/reference/llama_ref.py, make_reference_models.py). The manifest
// tests/fixtures/reference/manifest.json lists every model, its token
// sequence, its logits file and the tolerance derived for its weight type
// (tests/reference/README.md explains the derivation).
//
// Each model is run four ways, each compared at every stored position
// (all positions, or the manifest's "rows" for long sequences):
//   prefill  all tokens in one step, logits for every row;
//   decode   one token per step;
//   chunked  a first chunk of 5 tokens, then the rest in one step;
//   batch    two sequences mixed in the same steps.
// KV blocks of 4 tokens are handed out in a scrambled, non-contiguous order
// so that paging mistakes show up as wrong logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "cpu/cpu_backend.h"
#include "model/model.h"

#ifndef TOKAMAK_REFERENCE_MODELS_DIR
#define TOKAMAK_REFERENCE_MODELS_DIR TOKAMAK_TEST_TMP "/reference_models"
#endif

namespace tokamak {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(TOKAMAK_SOURCE_DIR) / "tests/fixtures/reference";
constexpr int32_t kBlockSize = 4;

struct Case {
  std::string name;
  fs::path model;
  bool committed = true;
  std::vector<int32_t> tokens;
  int32_t vocab_size = 0;
  double tolerance = 0;
  std::vector<int32_t> rows;       // positions whose logits are stored
  std::vector<float> expected;     // (rows, vocab_size)
  std::vector<float> act_rounded;  // same shape, or empty

  int32_t num_tokens() const { return static_cast<int32_t>(tokens.size()); }
  size_t all_logits() const { return tokens.size() * static_cast<size_t>(vocab_size); }
};

nlohmann::json read_manifest() {
  std::ifstream in(kFixtures / "manifest.json");
  if (!in) return nlohmann::json();
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::vector<float> read_f32(const fs::path& path, size_t num_values) {
  std::vector<float> out(num_values);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(num_values * 4));
  if (!in || in.peek() != std::char_traits<char>::eof()) return {};
  return out;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  const nlohmann::json manifest = read_manifest();
  if (!manifest.is_object()) return {"manifest_unreadable"};
  for (const auto& m : manifest["models"]) names.push_back(m["name"].get<std::string>());
  return names;
}

// Fills `out` from the manifest entry `name`; failures are test failures.
void load_case(const std::string& name, Case& out) {
  const nlohmann::json manifest = read_manifest();
  ASSERT_TRUE(manifest.is_object()) << "cannot parse " << (kFixtures / "manifest.json");
  for (const auto& m : manifest["models"]) {
    if (m["name"] != name) continue;
    out.name = name;
    out.committed = m["committed"].get<bool>();
    out.model = (out.committed ? kFixtures : fs::path(TOKAMAK_REFERENCE_MODELS_DIR)) /
                m["model"].get<std::string>();
    out.tokens = m["tokens"].get<std::vector<int32_t>>();
    out.vocab_size = m["vocab_size"].get<int32_t>();
    out.tolerance = m["tolerance_abs"].get<double>();
    if (m.contains("rows")) {
      out.rows = m["rows"].get<std::vector<int32_t>>();
    } else {
      out.rows.resize(out.tokens.size());
      std::iota(out.rows.begin(), out.rows.end(), 0);
    }
    for (int32_t r : out.rows) ASSERT_TRUE(r >= 0 && r < out.num_tokens()) << name << " row " << r;
    const size_t n = out.rows.size() * static_cast<size_t>(out.vocab_size);
    out.expected = read_f32(kFixtures / m["logits"].get<std::string>(), n);
    ASSERT_EQ(out.expected.size(), n) << m["logits"] << ": expected " << n << " float32 values";
    // A tolerance near the logits' own size would make the comparison vacuous.
    double max_abs = 0;
    for (float x : out.expected) max_abs = std::max(max_abs, static_cast<double>(std::fabs(x)));
    ASSERT_LT(out.tolerance, 0.1 * max_abs)
        << name << ": tolerance_abs in the manifest is too loose";
    if (m["logits_act_rounded"].is_string())
      out.act_rounded = read_f32(kFixtures / m["logits_act_rounded"].get<std::string>(), n);
    return;
  }
  FAIL() << "no model " << name << " in the manifest";
}

struct Diff {
  double max_abs = 0;
  int64_t where = -1;  // flat index of the largest difference
};

Diff compare(const std::vector<float>& got, const std::vector<float>& want) {
  Diff d;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(e <= d.max_abs)) {  // also catches NaN
      d.max_abs = std::isnan(e) ? INFINITY : e;
      d.where = static_cast<int64_t>(i);
    }
  }
  return d;
}

double max_abs_value(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// One sequence's part of a step: its tokens [begin, end), logits into `out`
// (row = position, (num_tokens, vocab_size)).
struct Segment {
  int32_t seq = 0;  // index into the block tables
  int32_t begin = 0;
  int32_t end = 0;
  std::vector<float>* out = nullptr;
};

// Runs the segments as one step: every sequence reads and writes its KV
// through its own block table; logits are asked for every row.
Status run_step(Backend& backend, const Case& c, const std::vector<std::vector<int32_t>>& tables,
                const std::vector<Segment>& segments) {
  std::vector<int32_t> tokens, positions, token_seq, rows;
  for (const Segment& g : segments) {
    for (int32_t p = g.begin; p < g.end; ++p) {
      rows.push_back(static_cast<int32_t>(tokens.size()));
      tokens.push_back(c.tokens[p]);
      positions.push_back(p);
      token_seq.push_back(g.seq);
    }
  }
  std::vector<StepSequence> sequences;
  for (const auto& t : tables) sequences.push_back(StepSequence{t});
  StepPlan plan;
  plan.tokens = tokens;
  plan.positions = positions;
  plan.token_seq = token_seq;
  plan.sequences = sequences;
  plan.logits_rows = rows;
  std::vector<float> logits(rows.size() * static_cast<size_t>(c.vocab_size), NAN);
  TK_TRY(backend.forward(plan, logits));
  size_t row = 0;
  for (const Segment& g : segments) {
    for (int32_t p = g.begin; p < g.end; ++p, ++row) {
      std::copy_n(logits.begin() + row * c.vocab_size, c.vocab_size,
                  g.out->begin() + static_cast<size_t>(p) * c.vocab_size);
    }
  }
  return {};
}

// Tokens [begin, end) of the one sequence as one step.
Status run_step(Backend& backend, const Case& c, const std::vector<int32_t>& table, int32_t begin,
                int32_t end, std::vector<float>& logits) {
  return run_step(backend, c, {table}, {Segment{0, begin, end, &logits}});
}

class ReferenceLogits : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(load_case(GetParam(), c_));
    if (!c_.committed && !fs::exists(c_.model)) {
      if (std::getenv("TOKAMAK_REFERENCE_REQUIRE_GENERATED"))
        FAIL() << c_.model << " was not generated (the ctest fixture reference_models_generate "
               << "runs tests/reference/make_reference_models.py --generate-only)";
      GTEST_SKIP() << c_.model << " is generated at test time; ctest runs this case as "
                   << "reference_logits_generated after reference_models_generate";
    }
    auto model = Model::load(c_.model.string());
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = *model;
    ASSERT_EQ(model_->spec().vocab_size, c_.vocab_size);
    // Two sequences' worth of blocks plus spares, handed out scrambled.
    const int32_t blocks_per_seq = (c_.num_tokens() + kBlockSize - 1) / kBlockSize;
    num_blocks_ = 2 * blocks_per_seq + 3;
    std::vector<int32_t> order(num_blocks_);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(12345));
    table_a_.assign(order.begin(), order.begin() + blocks_per_seq);
    table_b_.assign(order.begin() + blocks_per_seq, order.begin() + 2 * blocks_per_seq);
  }

  std::unique_ptr<Backend> make_backend(int num_threads = 2) {
    CpuBackendOptions options;
    options.num_threads = num_threads;
    options.kv.block_size = kBlockSize;
    options.kv.num_blocks = num_blocks_;
    auto backend = make_cpu_backend(model_, options);
    EXPECT_TRUE(backend.ok()) << backend.error().message;
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  // Compares the stored rows of all_logits (num_tokens, vocab) and prints;
  // the act-rounded reference is shown for diagnosis.
  void check(const char* mode, const std::vector<float>& all_logits) {
    std::vector<float> got;
    for (int32_t r : c_.rows) {
      const auto row = all_logits.begin() + static_cast<size_t>(r) * c_.vocab_size;
      got.insert(got.end(), row, row + c_.vocab_size);
    }
    const Diff d = compare(got, c_.expected);
    const double scale = max_abs_value(c_.expected);
    std::string extra;
    if (!c_.act_rounded.empty()) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "  (vs act-rounded reference %.3g)",
                    compare(got, c_.act_rounded).max_abs);
      extra = buf;
    }
    std::printf("[ reference ] %-28s %-8s max|diff| %.3g  rel %.3g  tolerance %.3g%s\n",
                c_.name.c_str(), mode, d.max_abs, d.max_abs / scale, c_.tolerance, extra.c_str());
    EXPECT_LE(d.max_abs, c_.tolerance)
        << c_.name << " " << mode << ": largest difference at position "
        << c_.rows[d.where / c_.vocab_size] << ", token " << d.where % c_.vocab_size << ": engine "
        << got[d.where] << ", reference " << c_.expected[d.where];
  }

  Case c_;
  std::shared_ptr<const Model> model_;
  int32_t num_blocks_ = 0;
  std::vector<int32_t> table_a_, table_b_;  // block tables of two sequences
};

TEST_P(ReferenceLogits, PrefillAllRows) {
  auto backend = make_backend();
  ASSERT_TRUE(backend);
  std::vector<float> logits(c_.all_logits(), NAN);
  const Status s = run_step(*backend, c_, table_a_, 0, c_.num_tokens(), logits);
  ASSERT_TRUE(s.ok()) << s.error().message;
  check("prefill", logits);
}

TEST_P(ReferenceLogits, DecodeOneTokenPerStep) {
  auto backend = make_backend();
  ASSERT_TRUE(backend);
  std::vector<float> logits(c_.all_logits(), NAN);
  for (int32_t p = 0; p < c_.num_tokens(); ++p) {
    const Status s = run_step(*backend, c_, table_a_, p, p + 1, logits);
    ASSERT_TRUE(s.ok()) << "position " << p << ": " << s.error().message;
  }
  check("decode", logits);
}

TEST_P(ReferenceLogits, ChunkedPrefill) {
  auto backend = make_backend();
  ASSERT_TRUE(backend);
  std::vector<float> logits(c_.all_logits(), NAN);
  Status s = run_step(*backend, c_, table_a_, 0, 5, logits);
  ASSERT_TRUE(s.ok()) << s.error().message;
  s = run_step(*backend, c_, table_a_, 5, c_.num_tokens(), logits);
  ASSERT_TRUE(s.ok()) << s.error().message;
  check("chunked", logits);
}

// Two sequences over disjoint scrambled blocks, mixed in the same steps:
//   step 1: A positions 0-6 and B positions 0-3 (two prefill chunks)
//   step 2: B positions 4 to the end listed before A position 7 (prefill + decode)
//   then:   A's remaining positions, one per step
// Both run the same tokens, so both must give the reference at every position.
TEST_P(ReferenceLogits, TwoSequencesMixedSteps) {
  auto backend = make_backend(/*num_threads=*/3);  // an uneven split of the rows
  ASSERT_TRUE(backend);
  const std::vector<std::vector<int32_t>> tables = {table_a_, table_b_};
  std::vector<float> a(c_.all_logits(), NAN), b(c_.all_logits(), NAN);
  const int32_t n = c_.num_tokens();
  ASSERT_GE(n, 8);
  Status s = run_step(*backend, c_, tables, {{0, 0, 7, &a}, {1, 0, 4, &b}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  s = run_step(*backend, c_, tables, {{1, 4, n, &b}, {0, 7, 8, &a}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (int32_t p = 8; p < n; ++p) {
    s = run_step(*backend, c_, tables, {{0, p, p + 1, &a}});
    ASSERT_TRUE(s.ok()) << "position " << p << ": " << s.error().message;
  }
  check("batch A", a);
  check("batch B", b);
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceLogits, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace tokamak
