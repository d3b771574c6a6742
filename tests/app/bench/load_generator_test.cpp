// The load generator against a fake engine: a thread that runs up to
// `max_running` requests, one token each per step, and checks what the
// generator promises (closed loop never exceeds its clients; every request
// submitted once; events may arrive before submit() returns).
#include "bench/load_generator.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "bench/serve_metrics.h"

namespace tokamak {
namespace {

class FakeEngine {
 public:
  // Steps begin once `start_after` requests were submitted (so that a test
  // can see all clients in flight at once).
  explicit FakeEngine(int32_t max_running, bool answer = true, int32_t start_after = 0)
      : max_running_(max_running),
        answer_(answer),
        start_after_(start_after),
        thread_([this] { run(); }) {}
  ~FakeEngine() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  RequestId submit(Request r, EventCallback cb) {
    std::lock_guard<std::mutex> lock(mu_);
    const RequestId id = ++num_submitted_;
    in_flight_ += 1;
    peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
    prompts_.push_back(r.prompt);
    waiting_.push_back({id, std::move(r), std::move(cb), 0});
    cv_.notify_all();
    return id;
  }
  int32_t peak_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_in_flight_;
  }
  std::vector<std::vector<int32_t>> prompts() {
    std::lock_guard<std::mutex> lock(mu_);
    return prompts_;
  }

 private:
  struct Job {
    RequestId id;
    Request request;
    EventCallback cb;
    int32_t generated;
  };

  void run() {
    std::vector<Job> running;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ || (answer_ && num_submitted_ >= start_after_ &&
                           (!waiting_.empty() || !running.empty()));
        });
        if (stop_) return;
        while (!waiting_.empty() && static_cast<int32_t>(running.size()) < max_running_) {
          running.push_back(std::move(waiting_.front()));
          waiting_.pop_front();
        }
      }
      // One step: a token for each running request; finished ones leave.
      std::vector<Job> still;
      for (Job& j : running) {
        j.cb(TokenDelta{j.id, 7, "x"});
        if (++j.generated < j.request.max_tokens) {
          still.push_back(std::move(j));
          continue;
        }
        Finished f{j.id, "length", {}};
        f.timings.num_prompt_tokens = static_cast<int32_t>(j.request.prompt.size());
        f.timings.num_generated_tokens = j.generated;
        {
          std::lock_guard<std::mutex> lock(mu_);
          in_flight_ -= 1;
        }
        j.cb(f);
      }
      running = std::move(still);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> waiting_;
  std::vector<std::vector<int32_t>> prompts_;
  int32_t max_running_;
  bool answer_;
  RequestId start_after_;
  bool stop_ = false;
  RequestId num_submitted_ = 0;
  int32_t in_flight_ = 0;
  int32_t peak_in_flight_ = 0;
  std::thread thread_;
};

std::vector<WorkloadRequest> workload(int32_t n) {
  std::vector<WorkloadRequest> w;
  for (int32_t i = 0; i < n; ++i) w.push_back({{1, 100 + i, 5}, 1 + i % 4});
  return w;
}

SubmitFn submit_to(FakeEngine& e) {
  return [&e](Request r, EventCallback cb) { return e.submit(std::move(r), std::move(cb)); };
}

TEST(LoadGenerator, ClosedLoopKeepsItsClientsBusyAndNeverMore) {
  FakeEngine engine(16, true, /*start_after=*/3);
  LoadOptions o;
  o.concurrency = 3;
  int ticks = 0;
  o.on_tick = [&](const LoadProgress&) { ++ticks; };
  const auto w = workload(40);
  auto r = run_load(w, submit_to(engine), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->num_submitted, 40);
  EXPECT_EQ(engine.peak_in_flight(), 3);
  const ServeMetrics m = compute_metrics(*r);
  EXPECT_TRUE(m.all_accounted());
  EXPECT_EQ(m.num_completed, 40);
  EXPECT_EQ(m.num_token_mismatches, 0);
  int64_t expected_tokens = 0;
  for (const auto& q : w) expected_tokens += q.max_tokens;
  EXPECT_EQ(m.num_output_tokens, expected_tokens);
  EXPECT_GE(ticks, 1);  // at least the final one
  // Requests are submitted in workload order, each after the one before.
  const auto prompts = engine.prompts();
  ASSERT_EQ(prompts.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(prompts[i], w[i].prompt);
  for (size_t i = 1; i < r->records.size(); ++i) {
    EXPECT_LE(r->records[i - 1].submit_s, r->records[i].submit_s);
  }
  for (const RequestRecord& rec : r->records) {
    EXPECT_LE(rec.submit_s, rec.token_s.front());
    EXPECT_LE(rec.token_s.back(), rec.end_s);
  }
}

TEST(LoadGenerator, ConcurrencyOneRunsOneAtATime) {
  FakeEngine engine(16);
  LoadOptions o;
  o.concurrency = 1;
  auto r = run_load(workload(10), submit_to(engine), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(engine.peak_in_flight(), 1);
  for (size_t i = 1; i < r->records.size(); ++i) {
    EXPECT_GE(r->records[i].submit_s, r->records[i - 1].end_s);
  }
}

TEST(LoadGenerator, OpenLoopSubmitsNoRequestBeforeItsArrival) {
  FakeEngine engine(64);
  LoadOptions o;
  o.rate = 400.0;
  o.seed = 9;
  const auto w = workload(30);
  auto r = run_load(w, submit_to(engine), o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::vector<double> arrivals = poisson_arrival_times(30, 400.0, 9);
  for (size_t i = 0; i < r->records.size(); ++i) {
    EXPECT_GE(r->records[i].submit_s, arrivals[i]) << i;
  }
  EXPECT_TRUE(compute_metrics(*r).all_accounted());
}

TEST(LoadGenerator, AStuckEngineEndsTheRunWithAnError) {
  FakeEngine engine(4, /*answer=*/false);
  LoadOptions o;
  o.concurrency = 2;
  o.stall_timeout_s = 0.2;
  o.tick_s = 0.02;
  auto r = run_load(workload(5), submit_to(engine), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Internal);
  EXPECT_NE(r.error().message.find("0 of 5 requests ended (2 submitted)"), std::string::npos)
      << r.error().message;
}

TEST(LoadGenerator, RefusesZeroClients) {
  FakeEngine engine(4);
  LoadOptions o;
  o.concurrency = 0;
  auto r = run_load(workload(2), submit_to(engine), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace tokamak
