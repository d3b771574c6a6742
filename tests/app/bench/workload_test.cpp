#include "bench/workload.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

namespace tokamak {
namespace {

PromptVocab test_vocab() {
  PromptVocab v;
  v.bos_id = 1;
  for (int32_t id = 10; id < 60; ++id) v.ids.push_back(id);
  return v;
}

TEST(Workload, ParsesTheThreeForms) {
  auto f = parse_workload("fixed:128:64");
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->kind, WorkloadSpec::Kind::Fixed);
  EXPECT_EQ(f->min_prompt_tokens, 128);
  EXPECT_EQ(f->max_prompt_tokens, 128);
  EXPECT_EQ(f->min_output_tokens, 64);
  EXPECT_EQ(f->name(), "fixed:128:64");
  auto r = parse_workload("random:16-512:1-256");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, WorkloadSpec::Kind::Random);
  EXPECT_EQ(r->min_prompt_tokens, 16);
  EXPECT_EQ(r->max_prompt_tokens, 512);
  EXPECT_EQ(r->min_output_tokens, 1);
  EXPECT_EQ(r->max_output_tokens, 256);
  EXPECT_EQ(r->name(), "random:16-512:1-256");
  auto l = parse_workload("lmi");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, WorkloadSpec::Kind::Lmi);
  EXPECT_EQ(l->name(), "lmi");
  EXPECT_EQ(l->scale, 1.0);
  auto ls = parse_workload("lmi:0.25");
  ASSERT_TRUE(ls.ok()) << ls.error().message;
  EXPECT_EQ(ls->scale, 0.25);
  EXPECT_EQ(ls->name(), "lmi:0.25");
  // Every name parses back to the same workload.
  for (const WorkloadSpec& w : {*f, *r, *l, *ls}) {
    auto again = parse_workload(w.name());
    ASSERT_TRUE(again.ok()) << w.name();
    EXPECT_EQ(again->name(), w.name());
  }
}

TEST(Workload, RefusesMalformedNames) {
  for (const char* bad : {"", "fixed", "fixed:0:5", "fixed:5", "fixed:a:5", "fixed:5:5:5",
                          "random:5-4:1-2", "random:1-2", "random:-1-2:3-4", "lmi:2", "lmi:0",
                          "lmi:", "lmi:x", "lmi:0.5:1", "poisson"}) {
    auto w = parse_workload(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.error().code, ErrorCode::InvalidArgument);
    EXPECT_NE(w.error().message.find("expected fixed:IN:OUT"), std::string::npos);
  }
}

TEST(Workload, FixedRequestsHaveTheirLengthsBosFirstAndVocabIds) {
  const PromptVocab v = test_vocab();
  auto reqs = make_workload(*parse_workload("fixed:20:7"), 50, v, 3);
  ASSERT_TRUE(reqs.ok()) << reqs.error().message;
  ASSERT_EQ(reqs->size(), 50u);
  const std::set<int32_t> allowed(v.ids.begin(), v.ids.end());
  std::set<std::vector<int32_t>> distinct;
  for (const WorkloadRequest& r : *reqs) {
    ASSERT_EQ(r.prompt.size(), 20u);
    EXPECT_EQ(r.max_tokens, 7);
    EXPECT_EQ(r.prompt[0], 1);
    for (size_t i = 1; i < r.prompt.size(); ++i) EXPECT_TRUE(allowed.count(r.prompt[i]));
    distinct.insert(r.prompt);
  }
  EXPECT_EQ(distinct.size(), 50u);  // every request its own prompt
}

TEST(Workload, RandomLengthsCoverTheRangeAndTheSeedRepeats) {
  const PromptVocab v = test_vocab();
  const WorkloadSpec spec = *parse_workload("random:4-9:2-5");
  auto a = make_workload(spec, 600, v, 11);
  auto b = make_workload(spec, 600, v, 11);
  auto c = make_workload(spec, 600, v, 12);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  std::set<size_t> in_lengths;
  std::set<int32_t> out_lengths;
  bool differs = false;
  for (size_t i = 0; i < a->size(); ++i) {
    const WorkloadRequest& r = (*a)[i];
    EXPECT_GE(r.prompt.size(), 4u);
    EXPECT_LE(r.prompt.size(), 9u);
    EXPECT_GE(r.max_tokens, 2);
    EXPECT_LE(r.max_tokens, 5);
    in_lengths.insert(r.prompt.size());
    out_lengths.insert(r.max_tokens);
    EXPECT_EQ(r.prompt, (*b)[i].prompt);
    EXPECT_EQ(r.max_tokens, (*b)[i].max_tokens);
    differs |= r.prompt != (*c)[i].prompt;
  }
  // 600 draws from 6 and 4 values: each value appears (a miss has
  // probability below 6 * (5/6)^600).
  EXPECT_EQ(in_lengths.size(), 6u);
  EXPECT_EQ(out_lengths.size(), 4u);
  EXPECT_TRUE(differs);
}

TEST(Workload, LmiRepeatsThreePromptsWithEveryOutputLength) {
  const PromptVocab v = test_vocab();
  WorkloadSpec spec = *parse_workload("lmi");
  auto reqs = make_workload(spec, 18, v, 5);
  ASSERT_TRUE(reqs.ok()) << reqs.error().message;
  for (int k = 0; k < 18; ++k) {
    const WorkloadRequest& r = (*reqs)[k];
    EXPECT_EQ(static_cast<int32_t>(r.prompt.size()), kLmi.prompt_tokens[k % 3]);
    EXPECT_EQ(r.max_tokens, kLmi.output_tokens[(k / 3) % 3]);
    EXPECT_EQ(r.prompt, (*reqs)[k % 3].prompt);  // the same three prompts
  }
  EXPECT_NE((*reqs)[0].prompt, (*reqs)[1].prompt);
  spec.scale = 0.25;
  auto small = make_workload(spec, 9, v, 5);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ((*small)[2].prompt.size(), static_cast<size_t>(kLmi.prompt_tokens[2] / 4));
  EXPECT_EQ((*small)[8].max_tokens, kLmi.output_tokens[2] / 4);
}

TEST(Workload, RefusesRequestsLongerThanTheContext) {
  // 100 prompt tokens (BOS included) + 28 generated = 128 positions: fits.
  EXPECT_TRUE(make_workload(*parse_workload("fixed:100:28"), 4, test_vocab(), 1, 128).ok());
  auto too_long = make_workload(*parse_workload("fixed:100:29"), 4, test_vocab(), 1, 128);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(too_long.error().message.find("100 prompt + 29 generated"), std::string::npos)
      << too_long.error().message;
  EXPECT_NE(too_long.error().message.find("context of 128"), std::string::npos);
  auto empty = make_workload(*parse_workload("fixed:4:4"), 1, PromptVocab{}, 1);
  EXPECT_FALSE(empty.ok());
}

// Exponential gaps with mean 1/rate and variance 1/rate^2. With n = 20000
// gaps at rate 5: the mean's standard error is 0.2 / sqrt(n) = 0.0014 and the
// sample variance's is sqrt(8 / rate^4 / n) = 0.0008; the bounds are 5 of
// each (a correct generator fails them with probability < 1e-6, and the seed
// is fixed, so the outcome is deterministic).
TEST(Workload, PoissonGapsHaveTheExponentialMeanAndVariance) {
  const double rate = 5.0;
  const int n = 20000;
  const std::vector<double> t = poisson_arrival_times(n, rate, 42);
  ASSERT_EQ(t.size(), static_cast<size_t>(n));
  std::vector<double> gaps(n);
  for (int i = 0; i < n; ++i) gaps[i] = t[i] - (i == 0 ? 0.0 : t[i - 1]);
  for (double g : gaps) ASSERT_GT(g, 0.0);
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / n;
  double var = 0.0;
  for (double g : gaps) var += (g - mean) * (g - mean);
  var /= n - 1;
  EXPECT_NEAR(mean, 1.0 / rate, 5 * 0.0014);
  EXPECT_NEAR(var, 1.0 / (rate * rate), 5 * 0.0008);
  // Memorylessness, roughly: the share of gaps above the mean is e^-1.
  const double above = std::count_if(gaps.begin(), gaps.end(), [&](double g) { return g > 0.2; });
  EXPECT_NEAR(above / n, std::exp(-1.0), 5 * std::sqrt(0.37 * 0.63 / n));
  EXPECT_EQ(poisson_arrival_times(10, rate, 42), std::vector<double>(t.begin(), t.begin() + 10));
  EXPECT_NE(poisson_arrival_times(10, rate, 43), std::vector<double>(t.begin(), t.begin() + 10));
}

}  // namespace
}  // namespace tokamak
