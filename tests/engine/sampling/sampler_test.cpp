#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "sampling/rng.h"

namespace tokamak {
namespace {

SamplingParams plain(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

// Logits whose softmax at temperature 1 is exactly `probs` (up to rounding).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::vector<int32_t> ids(const std::vector<Candidate>& c) {
  std::vector<int32_t> out;
  for (const auto& x : c) out.push_back(x.id);
  return out;
}

TEST(Sampling, GreedyTiesGoToTheLowestId) {
  const std::vector<float> l = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
  EXPECT_EQ(argmax(l), 1);
  Sampler s(plain(0.0f));
  EXPECT_EQ(s.sample(l), 1);
}

TEST(Sampling, TopKOneEqualsGreedyOnRandomLogits) {
  Pcg64 rng(123);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> l(97);
    for (auto& x : l) x = static_cast<float>(rng.next_double() * 10.0 - 5.0);
    if (trial % 3 == 0) l[trial % 97] = l[(trial * 7) % 97];  // some ties
    SamplingParams p = plain(1.3f);
    p.top_k = 1;
    p.seed = trial;
    Sampler s(p);
    EXPECT_EQ(s.sample(l), argmax(l)) << "trial " << trial;
  }
}

TEST(Sampling, TopKKeepsTheKLargestSorted) {
  std::vector<Candidate> c = make_candidates(std::vector<float>{0.5f, 2.0f, -1.0f, 2.0f, 1.0f});
  keep_top_k(c, 3);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3, 4}));
}

TEST(Sampling, HeapTopKEqualsSortedTopK) {
  Pcg64 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> l(3000);
    // Coarse values: many ties, so the id tie-break is exercised.
    for (auto& x : l) x = static_cast<float>(static_cast<int>(rng.next_double() * 40));
    const int32_t k = 1 + static_cast<int32_t>(rng.next_u64() % 500);
    std::vector<Candidate> full = make_candidates(l);
    keep_top_k(full, k);
    EXPECT_EQ(ids(top_k_candidates(l, k)), ids(full)) << "k " << k;
  }
}

// Top-p sorts only as far as the mass needs; it must keep exactly what a
// full sort would keep, also when that takes thousands of tokens.
TEST(Sampling, TopPOnLongTailsEqualsTheFullSortDefinition) {
  Pcg64 rng(11);
  for (float p : {0.1f, 0.5f, 0.9f, 0.99f}) {
    std::vector<float> l(20000);
    for (auto& x : l) x = static_cast<float>(rng.next_double() * 6.0);
    std::vector<Candidate> c = make_candidates(l);
    keep_top_p(c, p);
    // Reference: sort everything, softmax in double, smallest prefix with mass >= p.
    std::vector<Candidate> ref = make_candidates(l);
    std::sort(ref.begin(), ref.end(), [](const Candidate& a, const Candidate& b) {
      return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    });
    double sum = 0;
    for (const auto& x : ref) sum += std::exp(static_cast<double>(x.logit) - ref[0].logit);
    double mass = 0;
    size_t n = 0;
    while (n < ref.size() && mass < p) {
      mass += std::exp(static_cast<double>(ref[n].logit) - ref[0].logit) / sum;
      ++n;
    }
    ASSERT_EQ(c.size(), n) << "p " << p;
    EXPECT_GT(n, 256u) << "the test should need more than the first sorted chunk";
    ref.resize(n);
    EXPECT_EQ(ids(c), ids(ref));
  }
}

TEST(Sampling, TopPKeepsTheMinimalSet) {
  const std::vector<float> l = logits_of({0.15, 0.5, 0.05, 0.3});
  auto run = [&](float p) {
    std::vector<Candidate> c = make_candidates(l);
    keep_top_p(c, p);
    return ids(c);
  };
  EXPECT_EQ(run(0.4f), (std::vector<int32_t>{1}));         // 0.5 >= 0.4
  EXPECT_EQ(run(0.75f), (std::vector<int32_t>{1, 3}));     // 0.8 >= 0.75
  EXPECT_EQ(run(0.81f), (std::vector<int32_t>{1, 3, 0}));  // 0.95 >= 0.81
  EXPECT_EQ(run(0.96f), (std::vector<int32_t>{1, 3, 0, 2}));
  EXPECT_EQ(run(1.0f).size(), 4u);
}

TEST(Sampling, MinPThresholdIsRelativeToTheMostLikely) {
  const std::vector<float> l = logits_of({0.15, 0.5, 0.05, 0.3});
  auto run = [&](float min_p) {
    std::vector<Candidate> c = make_candidates(l);
    keep_min_p(c, min_p);
    std::sort(c.begin(), c.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return ids(c);
  };
  EXPECT_EQ(run(0.2f), (std::vector<int32_t>{0, 1, 3}));  // keep p >= 0.1
  EXPECT_EQ(run(0.31f), (std::vector<int32_t>{1, 3}));    // keep p >= 0.155
  EXPECT_EQ(run(0.61f), (std::vector<int32_t>{1}));       // keep p >= 0.305
  EXPECT_EQ(run(0.0f).size(), 4u);
}

TEST(Sampling, PenaltiesFollowLlamaCppFormulas) {
  // llama.cpp llama_sampler_penalties_apply:
  //   l = l <= 0 ? l * repeat : l / repeat;  l -= count * freq + (count > 0) * presence
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
  SamplingParams p;
  p.repeat_penalty = 1.5f;
  p.frequency_penalty = 0.1f;
  p.presence_penalty = 0.2f;
  const std::vector<int32_t> recent = {0, 0, 1, 4, 0};
  apply_penalties(l, recent, p);
  EXPECT_FLOAT_EQ(l[0], 2.0f / 1.5f - (3 * 0.1f + 0.2f));
  EXPECT_FLOAT_EQ(l[1], -1.0f * 1.5f - (0.1f + 0.2f));
  EXPECT_FLOAT_EQ(l[2], 0.5f);
  EXPECT_FLOAT_EQ(l[3], 3.0f);
  EXPECT_FLOAT_EQ(l[4], 0.0f * 1.5f - (0.1f + 0.2f));
}

TEST(Sampling, RepeatWindowOnlySeesTheLastN) {
  const std::vector<float> l = {5.0f, 4.9f, 0.0f};
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 1;
  Sampler s(p);
  EXPECT_EQ(s.sample(l), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l), 1);  // 5 / 2 = 2.5 < 4.9
  s.accept(2);                // 0 leaves the one-token window
  EXPECT_EQ(s.sample(l), 0);
  s.reset();
  EXPECT_EQ(s.sample(l), 0);
}

TEST(Sampling, SameSeedSameDrawsDifferentSeedDifferentDraws) {
  std::vector<float> l(50);
  for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<float>(std::sin(i * 0.7) * 2);
  SamplingParams p = plain(1.0f);
  p.seed = 1234;
  Sampler a(p), b(p);
  p.seed = 1235;
  Sampler c(p);
  std::vector<int32_t> da, db, dc;
  for (int i = 0; i < 500; ++i) {
    da.push_back(a.sample(l));
    db.push_back(b.sample(l));
    dc.push_back(c.sample(l));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
  a.reset();  // reset re-seeds: the same sequence again
  std::vector<int32_t> again;
  for (int i = 0; i < 500; ++i) again.push_back(a.sample(l));
  EXPECT_EQ(da, again);
}

// Empirical frequencies over N draws against the softmax computed here in
// double. Each frequency has standard deviation sqrt(p (1 - p) / N); the
// tolerance is 5 of those (a false failure about once in 3.5 million).
void expect_frequencies(const SamplingParams& p, const std::vector<float>& l,
                        const std::vector<double>& expected) {
  const int n = 100000;
  Sampler s(p);
  std::vector<int> counts(l.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[s.sample(l)];
  for (size_t i = 0; i < l.size(); ++i) {
    const double f = static_cast<double>(counts[i]) / n;
    const double tol = 5.0 * std::sqrt(expected[i] * (1.0 - expected[i]) / n);
    if (expected[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "id " << i;
    } else {
      EXPECT_NEAR(f, expected[i], tol) << "id " << i;
    }
  }
}

TEST(Sampling, FrequenciesMatchSoftmaxWithTemperature) {
  const std::vector<float> l = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
  const double t = 0.7;
  std::vector<double> e(l.size());
  double sum = 0;
  for (size_t i = 0; i < l.size(); ++i) sum += e[i] = std::exp(l[i] / t);
  for (auto& x : e) x /= sum;
  SamplingParams p = plain(0.7f);
  p.seed = 99;
  expect_frequencies(p, l, e);
}

TEST(Sampling, FrequenciesAfterTopKAreRenormalised) {
  const std::vector<float> l = {1.0f, 2.0f, 0.5f, -1.0f, 1.5f, 0.0f};
  std::vector<double> e(l.size(), 0.0);
  const double sum = std::exp(1.0) + std::exp(2.0) + std::exp(1.5);
  e[0] = std::exp(1.0) / sum;
  e[1] = std::exp(2.0) / sum;
  e[4] = std::exp(1.5) / sum;
  SamplingParams p = plain(1.0f);
  p.top_k = 3;
  p.seed = 7;
  expect_frequencies(p, l, e);
}

TEST(Sampling, DistributionAppliesTemperatureBeforeTopP) {
  // At temperature 1 the top two hold 0.8 of the mass: top-p 0.75 keeps two.
  // At temperature 0.5 the top one alone holds 0.5^2 / (0.25 + 0.09 + ...) > 0.6,
  // and with top-p 0.6 only it survives.
  const std::vector<float> l = logits_of({0.15, 0.5, 0.05, 0.3});
  SamplingParams p = plain(1.0f);
  p.top_p = 0.75f;
  EXPECT_EQ(ids(Sampler(p).distribution(l)), (std::vector<int32_t>{1, 3}));
  p.temperature = 0.5f;
  p.top_p = 0.6f;
  const auto d = Sampler(p).distribution(l);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, 1);
  EXPECT_FLOAT_EQ(d[0].p, 1.0f);
}

TEST(Sampling, DrawCandidateInvertsTheCdf) {
  std::vector<Candidate> c = {{4, 0, 0.25f}, {9, 0, 0.5f}, {2, 0, 0.25f}};
  EXPECT_EQ(draw_candidate(c, 0.0), 4);
  EXPECT_EQ(draw_candidate(c, 0.2499), 4);
  EXPECT_EQ(draw_candidate(c, 0.25), 9);
  EXPECT_EQ(draw_candidate(c, 0.7499), 9);
  EXPECT_EQ(draw_candidate(c, 0.75), 2);
  EXPECT_EQ(draw_candidate(c, 0.9999999), 2);
}

TEST(Sampling, ValidateNamesTheBadField) {
  SamplingParams p;
  EXPECT_EQ(p.validate(), "");
  p.temperature = -1;
  EXPECT_NE(p.validate().find("temperature"), std::string::npos);
  p = SamplingParams();
  p.top_p = 0;
  EXPECT_NE(p.validate().find("top-p"), std::string::npos);
  p = SamplingParams();
  p.min_p = 2;
  EXPECT_NE(p.validate().find("min-p"), std::string::npos);
}

// A row description taken from a Sampler, sampled away from it, chooses what
// the Sampler itself chooses: the contract device samplers are tested against.
TEST(Sampling, RowSamplingReproducesTheSamplerDrawForDraw) {
  Pcg64 data(7);
  std::vector<float> logits(300);
  SamplingParams settings[4];
  settings[0] = plain(0.0f);
  settings[1] = plain(0.7f);
  settings[2].temperature = 1.3f;  // defaults: top-k 40, top-p 0.95, min-p 0.05
  settings[3] = plain(0.9f);
  settings[3].top_k = 5;
  settings[3].top_p = 0.5f;
  for (SamplingParams params : settings) {
    params.seed = 99;
    Sampler reference(params), rows(params);
    ASSERT_FALSE(rows.needs_host());
    int num_distinct = 0, previous = -1;
    for (int draw = 0; draw < 200; ++draw) {
      for (float& l : logits) l = static_cast<float>(data.next_double() * 8.0 - 4.0);
      const int32_t expected = reference.sample(logits);
      const RowSampling row = rows.next_row();
      EXPECT_EQ(sample_row(logits, row), expected) << "draw " << draw;
      num_distinct += expected != previous;
      previous = expected;
    }
    EXPECT_GT(num_distinct, 100) << "the draws should vary with the logits";
  }
  SamplingParams penalised = plain(0.8f);
  penalised.repeat_penalty = 1.1f;
  EXPECT_TRUE(Sampler(penalised).needs_host());
}

}  // namespace
}  // namespace tokamak
