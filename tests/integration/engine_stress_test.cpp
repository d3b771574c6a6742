// 1000 requests per policy: random prompt lengths (some sharing prefixes),
// random max_tokens and sampling, invalid and over-long requests, random
// cancellations (before start, after a delay, after some tokens, from inside
// the callback, after the end, of unknown ids) and random arrival times from
// four submitting threads. Every request must end exactly once, nothing may
// come after its end, its ids must be a prefix of what the single-sequence
// Generator gives for it (all of them when it was not cancelled), and at the
// end nothing runs, nothing waits and every KV block is back in the pool.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

constexpr int kNumRequests = 1000;
constexpr int kNumSubmitters = 4;

enum class Cancel { None, Immediately, AfterDelay, AfterTokens, InCallback, AfterEnd, Twice };
enum class Kind { Valid, Invalid, TooLong };

struct Plan {
  Request request;
  Kind kind = Kind::Valid;
  Cancel cancel = Cancel::None;
  int32_t cancel_at_tokens = 0;  // AfterTokens, InCallback
  int32_t cancel_delay_us = 0;   // AfterDelay, Twice
  int32_t sleep_before_us = 0;   // arrival time
};

Cancel pick_cancel(std::mt19937_64& rng) {
  const int roll = static_cast<int>(rng() % 100);
  if (roll < 50) return Cancel::None;
  if (roll < 58) return Cancel::Immediately;
  if (roll < 66) return Cancel::AfterDelay;
  if (roll < 76) return Cancel::AfterTokens;
  if (roll < 86) return Cancel::InCallback;
  if (roll < 94) return Cancel::AfterEnd;
  return Cancel::Twice;
}

void random_sampling(std::mt19937_64& rng, Request& r) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  if (rng() % 10 < 4) {
    r.sampling = greedy_params();
  } else {
    r.sampling.temperature = 0.5f + 0.8f * u(rng);
    r.sampling.top_k = static_cast<int32_t>(rng() % 3) * 40;  // 0 (off), 40, 80
    r.sampling.top_p = u(rng) < 0.5f ? 1.0f : 0.8f + 0.2f * u(rng);
    r.sampling.min_p = u(rng) < 0.5f ? 0.0f : 0.1f * u(rng);
    r.sampling.seed = rng();
  }
  if (rng() % 10 == 0) {
    r.sampling.repeat_penalty = 1.1f;
    r.sampling.presence_penalty = 0.2f;
  }
}

std::vector<Plan> make_plans() {
  std::mt19937_64 rng(123456789);
  std::vector<std::vector<int32_t>> bases;
  for (int32_t n : {16, 33, 48, 64}) bases.push_back(random_prompt(rng, n));
  const std::vector<std::string> stops = {",", ".", " of", "ers", "ing "};
  std::vector<Plan> plans(kNumRequests);
  for (Plan& p : plans) {
    Request& r = p.request;
    const int kind_roll = static_cast<int>(rng() % 100);
    random_sampling(rng, r);
    if (kind_roll < 30) {  // a shared prefix and a short tail
      r.prompt = bases[rng() % bases.size()];
      const int32_t tail = static_cast<int32_t>(rng() % 21);
      std::vector<int32_t> t = random_prompt(rng, tail + 1);
      r.prompt.insert(r.prompt.end(), t.begin() + 1, t.end());
    } else {
      r.prompt = random_prompt(rng, 1 + static_cast<int32_t>(rng() % 100));
    }
    const int32_t room = kContext - static_cast<int32_t>(r.prompt.size());
    r.max_tokens = 1 + static_cast<int32_t>(rng() % std::min(64, room));
    if (rng() % 100 < 15) r.stop = {stops[rng() % stops.size()]};
    r.ignore_eos = rng() % 10 == 0;
    if (kind_roll >= 97) {  // invalid: one of several ways
      p.kind = Kind::Invalid;
      switch (rng() % 5) {
        case 0:
          r.prompt.push_back(9999);
          break;  // outside the vocabulary
        case 1:
          r.prompt.clear();
          break;
        case 2:
          r.max_tokens = 0;
          break;
        case 3:
          r.sampling.temperature = std::numeric_limits<float>::quiet_NaN();
          break;
        default:
          r.sampling.top_p = -1.0f;
          break;
      }
    } else if (kind_roll >= 95) {  // longer than the context
      p.kind = Kind::TooLong;
      r.prompt = random_prompt(rng, kContext + 1 + static_cast<int32_t>(rng() % 80));
      r.max_tokens = 8;
    }
    p.cancel = pick_cancel(rng);
    p.cancel_at_tokens = static_cast<int32_t>(rng() % std::max(1, r.max_tokens)) + 1;
    p.cancel_delay_us = static_cast<int32_t>(rng() % 3000);
    // Mostly a steady trickle, sometimes a pause that lets the engine drain.
    p.sleep_before_us = rng() % 20 == 0 ? 5000 + static_cast<int32_t>(rng() % 15000)
                                        : static_cast<int32_t>(rng() % 300);
  }
  return plans;
}

// The Generator's answer for every valid plan, computed once per process.
const std::vector<Reference>& plan_references() {
  static const std::vector<Reference> refs = [] {
    const std::vector<Plan> plans = make_plans();
    ReferenceGenerator gen;
    std::vector<Reference> out(plans.size());
    for (size_t i = 0; i < plans.size(); ++i) {
      if (plans[i].kind == Kind::Valid) out[i] = gen.run(plans[i].request);
    }
    return out;
  }();
  return refs;
}

// Cancels that wait for something (a delay, some tokens, the end) and a
// stream of cancels of ids that do not exist; also samples stats() for
// invariants while the engine runs.
class Canceller {
 public:
  Canceller(Engine& engine, Recorder& rec) : engine_(engine), rec_(rec) {}

  void add(const Plan& plan, std::shared_ptr<RequestRecord> r) {
    if (plan.cancel == Cancel::None || plan.cancel == Cancel::Immediately ||
        plan.cancel == Cancel::InCallback)
      return;
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back({&plan, std::move(r)});
  }

  void run(const std::atomic<bool>& stop) {
    std::mt19937_64 rng(99);
    while (!stop.load()) {
      std::vector<Item> items;
      {
        std::lock_guard<std::mutex> lock(mu_);
        items.swap(pending_);
      }
      std::vector<Item> keep;
      for (Item& it : items) {
        if (due(it))
          engine_.cancel(it.record->id);
        else
          keep.push_back(std::move(it));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        pending_.insert(pending_.end(), keep.begin(), keep.end());
      }
      engine_.cancel(0);
      engine_.cancel((1ull << 40) + rng() % 1000);
      check_stats();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  int num_stat_violations() const { return num_violations_; }
  std::string first_violation() const { return first_violation_; }

 private:
  struct Item {
    const Plan* plan;
    std::shared_ptr<RequestRecord> record;
  };

  bool due(const Item& it) const {
    const Plan& p = *it.plan;
    if (p.cancel == Cancel::AfterEnd) return rec_.ended(*it.record);
    if (p.cancel == Cancel::AfterTokens) {
      return rec_.ended(*it.record) ||
             static_cast<int32_t>(rec_.num_deltas(*it.record)) >= p.cancel_at_tokens;
    }
    // AfterDelay and the second cancel of Twice.
    return Clock::now() >= it.record->submitted + std::chrono::microseconds(p.cancel_delay_us);
  }

  void check_stats() {
    const EngineStats st = engine_.stats();
    std::string bad;
    if (st.kv_blocks_used > st.kv_blocks_total) bad = "kv_blocks_used > kv_blocks_total";
    if (st.kv_blocks_used < 0 || st.num_running < 0 || st.num_waiting < 0) bad = "negative count";
    if (st.num_running > engine_.options().max_sequences) bad = "num_running > max_sequences";
    if (st.num_finished > st.num_submitted) bad = "num_finished > num_submitted";
    if (!bad.empty() && num_violations_++ == 0) {
      first_violation_ = bad + " (used " + std::to_string(st.kv_blocks_used) + " of " +
                         std::to_string(st.kv_blocks_total) + ", running " +
                         std::to_string(st.num_running) + ")";
    }
  }

  Engine& engine_;
  Recorder& rec_;
  std::mutex mu_;
  std::vector<Item> pending_;
  int num_violations_ = 0;
  std::string first_violation_;
};

void check_record(const Plan& p, const Reference& ref, const RequestRecord& r) {
  SCOPED_TRACE(r.describe());
  expect_ended_once(r);
  if (p.kind != Kind::Valid) {
    EXPECT_TRUE(r.errored) << "an invalid or over-long request must get a RequestError";
    return;
  }
  ASSERT_TRUE(r.finished) << "a valid request must end with Finished";
  // Whatever happened, the ids are a prefix of the reference (an ignore_eos
  // request continues past the reference's EOS).
  const size_t n = std::min(r.ids.size(), ref.ids.size());
  EXPECT_TRUE(std::equal(r.ids.begin(), r.ids.begin() + n, ref.ids.begin()))
      << id_diff(std::vector<int32_t>(r.ids.begin(), r.ids.begin() + n),
                 std::vector<int32_t>(ref.ids.begin(), ref.ids.begin() + n));
  if (!(p.request.ignore_eos && ref.reason == "eos")) {
    EXPECT_LE(r.ids.size(), ref.ids.size()) << "more ids than the Generator produced";
  }
  const bool may_cancel = p.cancel != Cancel::None && p.cancel != Cancel::AfterEnd;
  if (!may_cancel) {
    EXPECT_NE(r.fin.reason, "cancelled");
    if (p.request.ignore_eos && ref.reason == "eos") {
      EXPECT_NE(r.fin.reason, "eos");
    } else {
      EXPECT_EQ(r.fin.reason, ref.reason);
      EXPECT_EQ(r.ids, ref.ids);
      EXPECT_EQ(r.text, ref.text);
    }
  }
  if (p.cancel == Cancel::InCallback && r.fin.reason == "cancelled") {
    EXPECT_EQ(static_cast<int32_t>(r.ids.size()), p.cancel_at_tokens)
        << "cancel() from the callback of token " << p.cancel_at_tokens
        << " must end the request at the next step boundary";
  }
}

class EngineStress : public ::testing::TestWithParam<BatchPolicy> {};

TEST_P(EngineStress, ThousandRandomRequestsEndExactlyOnce) {
  ASSERT_TRUE(aidreams_model());
  const std::vector<Plan> plans = make_plans();
  const std::vector<Reference>& refs = plan_references();
  EngineOptions options;
  options.policy = GetParam();
  options.max_sequences = 16;
  options.max_step_tokens = 64;
  options.batch_size = 6;
  options.max_batch_delay_ms = 3.0;
  options.max_context = kContext;  // the default is tested in engine_limits_test
  BackendShape shape;
  shape.block_size = 16;
  shape.num_blocks = 40;  // 640 positions: 5 full-context sequences, so paged preempts
  shape.num_threads = 1;
  auto engine = make_engine(options, shape);
  ASSERT_TRUE(engine);

  Recorder rec;
  Canceller canceller(*engine, rec);
  std::atomic<bool> stop{false};
  std::thread cancel_thread([&] { canceller.run(stop); });
  std::vector<std::shared_ptr<RequestRecord>> records(plans.size());
  std::vector<std::thread> submitters;
  for (int t = 0; t < kNumSubmitters; ++t) {
    submitters.emplace_back([&, t] {
      for (size_t i = t; i < plans.size(); i += kNumSubmitters) {
        const Plan& p = plans[i];
        std::this_thread::sleep_for(std::chrono::microseconds(p.sleep_before_us));
        Engine* e = engine.get();
        Recorder::Hook hook;
        if (p.cancel == Cancel::InCallback) {
          hook = [e, &p](RequestRecord& r, const EngineEvent& ev) {
            if (std::holds_alternative<TokenDelta>(ev) &&
                static_cast<int32_t>(r.ids.size()) == p.cancel_at_tokens) {
              e->cancel(std::get<TokenDelta>(ev).request);
            }
          };
        }
        records[i] = rec.submit(*engine, p.request, hook);
        if (p.cancel == Cancel::Immediately || p.cancel == Cancel::Twice) {
          engine->cancel(records[i]->id);
        }
        canceller.add(p, records[i]);
      }
    });
  }
  for (auto& s : submitters) s.join();
  rec.wait_all(*engine, 120.0,
               std::string("stress, policy ") + std::string(policy_name(GetParam())));
  stop = true;
  cancel_thread.join();

  const EngineStats st = settled_stats(*engine);
  expect_idle(st, kNumRequests);
  EXPECT_EQ(canceller.num_stat_violations(), 0) << canceller.first_violation();
  EXPECT_LE(st.peak_running, options.max_sequences);
  int num_cancelled = 0, num_errors = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    SCOPED_TRACE("plan #" + std::to_string(i));
    check_record(plans[i], refs[i], *records[i]);
    num_cancelled += records[i]->finished && records[i]->fin.reason == "cancelled";
    num_errors += records[i]->errored;
  }
  EXPECT_GT(num_cancelled, 50);
  EXPECT_GT(num_errors, 10);
  // Cancels after the end and of unknown ids change nothing.
  engine->cancel(records.back()->id);
  engine->cancel(123456789);
  expect_idle(settled_stats(*engine), kNumRequests);
  std::printf(
      "policy %s: %d cancelled, %d errors, %lld steps, %lld preemptions, "
      "%lld prefix-hit tokens, peak running %d\n",
      std::string(policy_name(GetParam())).c_str(), num_cancelled, num_errors,
      static_cast<long long>(st.num_steps), static_cast<long long>(st.num_preemptions),
      static_cast<long long>(st.num_prefix_hit_tokens), st.peak_running);
  destroy_engine(engine);
}

INSTANTIATE_TEST_SUITE_P(Policies, EngineStress,
                         ::testing::Values(BatchPolicy::None, BatchPolicy::Static,
                                           BatchPolicy::Dynamic, BatchPolicy::Continuous,
                                           BatchPolicy::Paged),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace tokamak::test
