// Requests the engine cannot run — longer than the context, than the
// max_context option, than the whole KV pool, or malformed — get one
// RequestError that names the numbers, while the requests around them run to
// the end with the Generator's ids.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

struct Case {
  std::string what;
  Request request;
  std::vector<std::string> must_name;  // each: one of the '|'-separated numbers
};

bool names_one_of(const std::string& message, const std::string& alternatives) {
  size_t start = 0;
  while (start <= alternatives.size()) {
    const size_t bar = std::min(alternatives.find('|', start), alternatives.size());
    if (message.find(alternatives.substr(start, bar - start)) != std::string::npos) return true;
    start = bar + 1;
  }
  return false;
}

// Runs good requests interleaved with `bad` ones on one engine; the good
// ones must match the Generator, the bad ones must fail naming the numbers.
void run_with_bad_requests(const EngineOptions& options, const BackendShape& shape,
                           const std::vector<Case>& bad) {
  std::mt19937_64 rng(4242);
  std::vector<Request> good;
  for (int32_t n : {1, 9, 30, 50}) good.push_back(greedy_request(random_prompt(rng, n), 20));
  ReferenceGenerator gen;
  std::vector<Reference> refs;
  for (const Request& r : good) refs.push_back(gen.run(r));

  auto engine = make_engine(options, shape);
  ASSERT_TRUE(engine);
  Recorder rec;
  std::vector<std::shared_ptr<RequestRecord>> good_recs, bad_recs;
  for (size_t i = 0; i < std::max(good.size(), bad.size()); ++i) {
    if (i < good.size()) good_recs.push_back(rec.submit(*engine, good[i]));
    if (i < bad.size()) bad_recs.push_back(rec.submit(*engine, bad[i].request));
  }
  rec.wait_all(*engine, 60.0, config_name(options, shape));
  for (size_t i = 0; i < bad.size(); ++i) {
    const RequestRecord& r = *bad_recs[i];
    SCOPED_TRACE(bad[i].what + ": " + r.describe());
    expect_ended_once(r);
    ASSERT_TRUE(r.errored) << "expected a RequestError";
    for (const std::string& n : bad[i].must_name) {
      EXPECT_TRUE(names_one_of(r.err.message, n))
          << "the message should name " << n << ": \"" << r.err.message << "\"";
    }
  }
  for (size_t i = 0; i < good.size(); ++i) {
    const RequestRecord& r = *good_recs[i];
    SCOPED_TRACE(r.describe());
    expect_ended_once(r);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.fin.reason, refs[i].reason);
    EXPECT_EQ(r.ids, refs[i].ids) << id_diff(r.ids, refs[i].ids);
  }
  expect_idle(settled_stats(*engine), static_cast<int64_t>(good.size() + bad.size()));
  destroy_engine(engine);
}

class EngineLimits : public ::testing::TestWithParam<BatchPolicy> {};

TEST_P(EngineLimits, LongerThanTheContextIsAnError) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(1);
  EngineOptions options;
  options.policy = GetParam();
  options.batch_size = 4;
  options.max_batch_delay_ms = 2.0;
  options.max_context = kContext;  // the model's, as callers pass it (ModelSpec::context_length)
  BackendShape shape;              // 64 blocks of 16: the pool is not the limit
  std::vector<Case> bad;
  bad.push_back({"prompt 150 > context 128",
                 greedy_request(random_prompt(rng, 150), 10),
                 {"150|160", "128"}});
  bad.push_back(
      {"prompt 129 > context 128", greedy_request(random_prompt(rng, 129), 1), {"129|130", "128"}});
  run_with_bad_requests(options, shape, bad);
}

TEST_P(EngineLimits, LongerThanMaxContextIsAnError) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(2);
  EngineOptions options;
  options.policy = GetParam();
  options.batch_size = 4;
  options.max_batch_delay_ms = 2.0;
  options.max_context = 72;
  std::vector<Case> bad;
  bad.push_back(
      {"prompt 90 > max_context 72", greedy_request(random_prompt(rng, 90), 5), {"90|95", "72"}});
  run_with_bad_requests(options, BackendShape{}, bad);
}

TEST_P(EngineLimits, LongerThanTheKvPoolIsAnError) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(3);
  EngineOptions options;
  options.policy = GetParam();
  options.batch_size = 4;
  options.max_batch_delay_ms = 2.0;
  BackendShape shape;
  shape.num_blocks = 5;  // 80 positions: less than the context of 128
  std::vector<Case> bad;
  bad.push_back({"prompt 100 > pool of 80 positions",
                 greedy_request(random_prompt(rng, 100), 10),
                 {"100|110|7 blocks", "80|5 blocks|5 KV blocks"}});
  run_with_bad_requests(options, shape, bad);
}

TEST_P(EngineLimits, KvBudgetOptionLimitsThePool) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(4);
  EngineOptions options;
  options.policy = GetParam();
  options.batch_size = 4;
  options.max_batch_delay_ms = 2.0;
  options.max_kv_blocks = 6;  // 96 positions of the backend's 64 blocks
  std::vector<Case> bad;
  bad.push_back({"prompt 110 > budget of 96 positions",
                 greedy_request(random_prompt(rng, 110), 4),
                 {"110|114|7 blocks|8 blocks", "96|6 blocks|6 KV blocks"}});
  auto engine = make_engine(options, BackendShape{});
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->stats().kv_blocks_total, 6);
  destroy_engine(engine);
  run_with_bad_requests(options, BackendShape{}, bad);
}

TEST_P(EngineLimits, MalformedRequestsAreErrors) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(5);
  EngineOptions options;
  options.policy = GetParam();
  options.batch_size = 4;
  options.max_batch_delay_ms = 2.0;
  std::vector<Case> bad;
  Request r = greedy_request(random_prompt(rng, 10), 5);
  r.prompt[4] = 700;
  bad.push_back({"token id 700 outside the vocabulary of 512", r, {"700", "512"}});
  r = greedy_request({}, 5);
  bad.push_back({"empty prompt", r, {}});
  r = greedy_request(random_prompt(rng, 10), 0);
  bad.push_back({"max_tokens 0", r, {"0"}});
  r = greedy_request(random_prompt(rng, 10), 5);
  r.sampling.temperature = -1.0f;
  bad.push_back({"temperature -1", r, {"-1"}});
  r = greedy_request(random_prompt(rng, 10), 5);
  r.sampling.top_p = std::numeric_limits<float>::quiet_NaN();
  bad.push_back({"top-p NaN", r, {"top"}});
  run_with_bad_requests(options, BackendShape{}, bad);
}

// A prompt that fits but whose max_tokens does not: the engine may refuse it
// up front or end it when the sequence is full, but it must end exactly once,
// never use more than max_context positions, and produce the Generator's ids
// while it runs.
TEST_P(EngineLimits, MaxTokensBeyondTheContext) {
  ASSERT_TRUE(aidreams_model());
  std::mt19937_64 rng(6);
  EngineOptions options;
  options.policy = GetParam();
  options.batch_size = 2;
  options.max_batch_delay_ms = 2.0;
  options.max_context = 110;
  auto engine = make_engine(options, BackendShape{});
  ASSERT_TRUE(engine);
  const Request req = greedy_request(random_prompt(rng, 100), 60);
  ReferenceGenerator gen;
  const Reference ref = gen.run(req);
  Recorder rec;
  auto r = rec.submit(*engine, req);
  auto other = rec.submit(*engine, greedy_request({kAidreamsBos}, 20));
  rec.wait_all(*engine, 60.0, "max_tokens beyond the context");
  expect_ended_once(*r);
  expect_ended_once(*other);
  std::printf("prompt 100 + max_tokens 60 with max_context 110: %s\n", r->describe().c_str());
  if (r->finished) {
    // 110 positions: the last id sampled from position 109 is not fed.
    EXPECT_LE(static_cast<int32_t>(r->ids.size()), 110 - 100 + 1);
    const size_t n = std::min(r->ids.size(), ref.ids.size());
    EXPECT_TRUE(std::equal(r->ids.begin(), r->ids.begin() + n, ref.ids.begin()));
  } else {
    EXPECT_TRUE(names_one_of(r->err.message, "110")) << r->err.message;
  }
  const std::vector<int32_t> dream = aidreams_greedy_ids();
  const std::vector<int32_t> want(dream.begin(), dream.begin() + 20);
  EXPECT_EQ(other->ids, want);
  expect_idle(settled_stats(*engine), 2);
  destroy_engine(engine);
}

INSTANTIATE_TEST_SUITE_P(Policies, EngineLimits,
                         ::testing::Values(BatchPolicy::None, BatchPolicy::Static,
                                           BatchPolicy::Dynamic, BatchPolicy::Continuous,
                                           BatchPolicy::Paged),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace tokamak::test
