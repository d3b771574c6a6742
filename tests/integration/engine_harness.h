// Shared pieces of the Engine integration tests (tests/integration/engine_*):
// the aidreams260K model, engines over CPU backends, a thread-safe record of
// every request's events, waiting with a deadline (a hang fails the test with
// a message instead of blocking ctest), and the single-sequence Generator as
// the reference the engine's outputs are compared with.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "aidreams.h"
#include "cpu/cpu_backend.h"
#include "generate/generator.h"
#include "model/model.h"
#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

namespace tokamak::test {

using Clock = std::chrono::steady_clock;

// The model, loaded once per process.
inline std::shared_ptr<const Model> aidreams_model() {
  static std::shared_ptr<const Model> model = [] {
    auto m = Model::load(kAidreamsGguf);
    if (!m.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", kAidreamsGguf.c_str(),
                   m.error().message.c_str());
      return std::shared_ptr<const Model>();
    }
    return *m;
  }();
  return model;
}

inline std::shared_ptr<const Tokenizer> aidreams_tokenizer() {
  auto model = aidreams_model();
  return std::shared_ptr<const Tokenizer>(model, &model->tokenizer());
}

constexpr int32_t kContext = 128;  // aidreams260K's context length
constexpr int32_t kVocab = 512;

struct BackendShape {
  int32_t block_size = 16;
  int32_t num_blocks = 64;  // 1024 positions: 8 full-context sequences
  int32_t max_step_tokens = 512;
  int num_threads = 1;
};

inline std::shared_ptr<Backend> make_backend(const BackendShape& shape) {
  CpuBackendOptions options;
  options.num_threads = shape.num_threads;
  options.kv.block_size = shape.block_size;
  options.kv.num_blocks = shape.num_blocks;
  options.max_step_tokens = shape.max_step_tokens;
  auto backend = make_cpu_backend(aidreams_model(), options);
  if (!backend.ok()) {
    ADD_FAILURE() << "make_cpu_backend: " << backend.error().message;
    return nullptr;
  }
  return std::shared_ptr<Backend>(std::move(backend).value());
}

inline std::unique_ptr<Engine> make_engine(const EngineOptions& options,
                                           const BackendShape& shape) {
  auto backend = make_backend(shape);
  if (!backend) return nullptr;
  auto engine = Engine::create(backend, aidreams_tokenizer(), options);
  if (!engine.ok()) {
    ADD_FAILURE() << "Engine::create (" << policy_name(options.policy)
                  << "): " << engine.error().message;
    return nullptr;
  }
  return std::move(engine).value();
}

// Deadlines are multiplied by TOKAMAK_TEST_TIMEOUT_SCALE (sanitizer builds
// run ten times slower or more).
inline double timeout_scale() {
  const char* v = std::getenv("TOKAMAK_TEST_TIMEOUT_SCALE");
  const double scale = v ? std::atof(v) : 1.0;
  return scale > 0 ? scale : 1.0;
}

// Runs fn on its own thread; if it has not returned after `seconds`, prints
// `what` and ends the process with a failure (a hung engine thread cannot be
// joined, so there is nothing better to do than to say so and exit).
template <typename Fn>
void within_deadline(double seconds, const std::string& what, Fn&& fn) {
  std::packaged_task<void()> task(std::forward<Fn>(fn));
  auto done = task.get_future();
  std::thread t(std::move(task));
  seconds *= timeout_scale();
  if (done.wait_for(std::chrono::duration<double>(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "\nFAILURE (hang): %s did not return within %.0f s\n", what.c_str(),
                 seconds);
    std::fflush(stderr);
    std::_Exit(1);
  }
  t.join();
}

// Destroys the engine, failing (not hanging) when the destructor blocks.
inline void destroy_engine(std::unique_ptr<Engine>& engine, double seconds = 30.0) {
  within_deadline(seconds, "~Engine()", [&] { engine.reset(); });
}

// Everything one request received, in order.
struct RequestRecord {
  RequestId id = 0;  // set after submit() returned
  Request request;
  std::vector<int32_t> ids;  // TokenDelta ids
  std::string text;          // TokenDelta texts, concatenated
  int num_ends = 0;
  int num_events_after_end = 0;
  int num_wrong_request_ids = 0;  // events whose .request was not this id
  bool finished = false;          // the end was a Finished
  Finished fin;
  bool errored = false;  // the end was a RequestError
  RequestError err;
  Clock::time_point submitted;

  bool ended() const { return num_ends > 0; }
  std::string describe() const {
    std::ostringstream s;
    s << "request " << id << " (prompt " << request.prompt.size() << " tokens, max_tokens "
      << request.max_tokens << ", temperature " << request.sampling.temperature << ", "
      << ids.size() << " deltas, ";
    if (finished)
      s << "finished \"" << fin.reason << "\"";
    else if (errored)
      s << "error " << to_string(err.code) << ": " << err.message;
    else
      s << "not ended";
    s << ")";
    return s.str();
  }
};

// Submits requests and records their events; thread-safe. Events are
// checked for arriving after the end and for their request ids.
class Recorder {
 public:
  // Optional hook called (on the engine thread, without the recorder's lock)
  // after an event was recorded.
  using Hook = std::function<void(RequestRecord&, const EngineEvent&)>;

  std::shared_ptr<RequestRecord> submit(Engine& engine, Request request, Hook hook = {}) {
    auto rec = std::make_shared<RequestRecord>();
    rec->request = request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rec->submitted = Clock::now();
      records_.push_back(rec);
    }
    RequestRecord* raw = rec.get();
    const RequestId id = engine.submit(std::move(request), [this, raw, hook](const EngineEvent& e) {
      on_event(*raw, e);
      if (hook) hook(*raw, e);
    });
    {
      std::lock_guard<std::mutex> lock(mu_);
      rec->id = id;
      for (RequestId seen : pending_ids_[raw]) {
        if (seen != id) ++rec->num_wrong_request_ids;
      }
      pending_ids_.erase(raw);
    }
    return rec;
  }

  // Waits until every submitted request ended; on timeout fails the test
  // with the requests still open and the engine's stats, then exits (the
  // engine cannot be destroyed safely while it hangs).
  void wait_all(Engine& engine, double seconds, const std::string& what) {
    seconds *= timeout_scale();
    std::unique_lock<std::mutex> lock(mu_);
    const bool ok = cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] {
      for (const auto& r : records_)
        if (!r->ended()) return false;
      return true;
    });
    if (ok) return;
    std::ostringstream s;
    int open = 0;
    for (const auto& r : records_) {
      if (r->ended()) continue;
      if (++open <= 10) s << "\n  " << r->describe();
    }
    lock.unlock();
    std::fprintf(stderr, "\nFAILURE (hang): %s: %d of %zu requests did not end within %.0f s:%s\n",
                 what.c_str(), open, records_.size(), seconds, s.str().c_str());
    // Two snapshots two seconds apart: stalled (no new steps) or merely slow.
    for (int i = 0; i < 2; ++i) {
      if (i) std::this_thread::sleep_for(std::chrono::seconds(2));
      within_deadline(5.0, "Engine::stats() after a hang", [&] {
        const EngineStats st = engine.stats();
        std::fprintf(stderr,
                     "  stats: waiting %d running %d submitted %lld finished %lld steps %lld "
                     "kv used %d of %d\n",
                     st.num_waiting, st.num_running, static_cast<long long>(st.num_submitted),
                     static_cast<long long>(st.num_finished), static_cast<long long>(st.num_steps),
                     st.kv_blocks_used, st.kv_blocks_total);
      });
    }
    std::fflush(stderr);
    std::_Exit(1);
  }

  std::vector<std::shared_ptr<RequestRecord>> records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  // A copy of one record, taken under the lock (for reading while events arrive).
  RequestRecord snapshot(const RequestRecord& r) const {
    std::lock_guard<std::mutex> lock(mu_);
    return r;
  }
  size_t num_deltas(const RequestRecord& r) const {
    std::lock_guard<std::mutex> lock(mu_);
    return r.ids.size();
  }
  bool ended(const RequestRecord& r) const {
    std::lock_guard<std::mutex> lock(mu_);
    return r.ended();
  }

 private:
  void on_event(RequestRecord& r, const EngineEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    const RequestId event_id = std::visit([](const auto& v) { return v.request; }, e);
    if (r.id == 0)
      pending_ids_[&r].push_back(event_id);  // submit() has not returned yet
    else if (event_id != r.id)
      ++r.num_wrong_request_ids;
    if (r.ended()) {
      ++r.num_events_after_end;
      return;
    }
    if (const auto* d = std::get_if<TokenDelta>(&e)) {
      r.ids.push_back(d->token);
      r.text += d->text;
    } else if (const auto* f = std::get_if<Finished>(&e)) {
      r.finished = true;
      r.fin = *f;
      ++r.num_ends;
    } else if (const auto* x = std::get_if<RequestError>(&e)) {
      r.errored = true;
      r.err = *x;
      ++r.num_ends;
    }
    if (r.ended()) cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<RequestRecord>> records_;
  std::map<const RequestRecord*, std::vector<RequestId>> pending_ids_;
};

// The invariants every request must satisfy, whatever happened to it.
inline void expect_ended_once(const RequestRecord& r) {
  SCOPED_TRACE(r.describe());
  EXPECT_EQ(r.num_ends, 1);
  EXPECT_EQ(r.num_events_after_end, 0) << "events after the end event";
  EXPECT_EQ(r.num_wrong_request_ids, 0) << "events carrying another request's id";
  EXPECT_NE(r.id, 0u);
  if (r.finished) {
    const std::string& why = r.fin.reason;
    EXPECT_TRUE(why == "eos" || why == "stop" || why == "length" || why == "cancelled") << why;
    EXPECT_EQ(r.fin.timings.num_generated_tokens, static_cast<int32_t>(r.ids.size()))
        << "Finished.timings.num_generated_tokens vs the TokenDelta events";
    EXPECT_EQ(r.fin.timings.num_prompt_tokens, static_cast<int32_t>(r.request.prompt.size()));
    EXPECT_LE(static_cast<int32_t>(r.ids.size()), r.request.max_tokens);
    // "length" also ends a sequence that has used all its positions.
    const int64_t wanted = static_cast<int64_t>(r.request.prompt.size()) + r.request.max_tokens;
    if (why == "length" && wanted <= kContext) {
      EXPECT_EQ(static_cast<int32_t>(r.ids.size()), r.request.max_tokens);
    }
    if (why == "eos") {
      EXPECT_FALSE(r.request.ignore_eos);
      EXPECT_FALSE(r.ids.empty());
    }
    if (why == "stop") {
      EXPECT_FALSE(r.request.stop.empty());
    }
  }
  if (r.errored) {
    EXPECT_TRUE(r.ids.empty()) << "TokenDelta events before a RequestError";
    EXPECT_FALSE(r.err.message.empty());
  }
}

// Polls stats() until nothing runs, waits or holds a block (the last event
// may be sent before the blocks go back); returns the last stats.
inline EngineStats settled_stats(Engine& engine, double seconds = 10.0) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  EngineStats st = engine.stats();
  while (Clock::now() < deadline &&
         (st.num_running != 0 || st.num_waiting != 0 || st.kv_blocks_used != 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    st = engine.stats();
  }
  return st;
}

inline void expect_idle(const EngineStats& st, int64_t num_requests) {
  EXPECT_EQ(st.num_running, 0);
  EXPECT_EQ(st.num_waiting, 0);
  EXPECT_EQ(st.kv_blocks_used, 0) << "KV blocks not returned to the pool";
  EXPECT_EQ(st.num_submitted, num_requests);
  EXPECT_EQ(st.num_finished, num_requests);
  EXPECT_GT(st.kv_blocks_total, 0);
  EXPECT_LE(st.kv_blocks_cached, st.kv_blocks_total);
}

inline SamplingParams greedy_params() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

// BOS + `n - 1` random ids from the merged pieces of the vocabulary (no byte
// tokens: a prompt ending in half a UTF-8 character would make the text of
// the first generated token depend on how the detokenizer was primed).
inline std::vector<int32_t> random_prompt(std::mt19937_64& rng, int32_t n) {
  std::uniform_int_distribution<int32_t> id(259, kVocab - 1);  // no byte tokens
  std::vector<int32_t> p = {kAidreamsBos};
  while (static_cast<int32_t>(p.size()) < n) p.push_back(id(rng));
  return p;
}

inline Request greedy_request(std::vector<int32_t> prompt, int32_t max_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.sampling = greedy_params();
  r.max_tokens = max_tokens;
  return r;
}

// What the single-sequence Generator produces for a request (a fresh
// history each time), on its own backend.
struct Reference {
  std::vector<int32_t> ids;
  std::string text;
  std::string reason;
};

class ReferenceGenerator {
 public:
  ReferenceGenerator() {
    BackendShape shape;
    shape.num_blocks = (kContext + shape.block_size - 1) / shape.block_size;
    backend_ = make_backend(shape);
  }
  // Greedy or seeded; ignore_eos is not something the Generator knows.
  Reference run(const Request& request) {
    Reference ref;
    if (!backend_) return ref;
    Generator gen(*backend_, aidreams_model()->tokenizer(), {});
    GenerationRequest g;
    g.tokens = request.prompt;
    g.sampling = request.sampling;
    g.stop = request.stop;
    g.max_tokens = request.max_tokens;
    auto stats = gen.generate(g, [&](const GenerationEvent& e) {
      if (const auto* t = std::get_if<TokenEvent>(&e)) {
        ref.ids.push_back(t->id);
        ref.text += t->text;
      }
    });
    if (!stats.ok()) {
      ADD_FAILURE() << "Generator: " << stats.error().message;
      return ref;
    }
    ref.reason = stats->finish_reason;
    return ref;
  }

 private:
  std::shared_ptr<Backend> backend_;
};

// "" when equal, else where and how two id sequences differ.
inline std::string id_diff(const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  std::ostringstream s;
  s << "got " << got.size() << " ids, want " << want.size() << "; first difference at index " << i;
  if (i < got.size() && i < want.size()) s << " (got " << got[i] << ", want " << want[i] << ")";
  return s.str();
}

inline std::string config_name(const EngineOptions& o, const BackendShape& b) {
  std::ostringstream s;
  s << policy_name(o.policy) << " max_sequences " << o.max_sequences << " max_step_tokens "
    << o.max_step_tokens << " batch_size " << o.batch_size << " block_size " << b.block_size
    << " num_blocks " << b.num_blocks << " max_kv_blocks " << o.max_kv_blocks << " prefix_caching "
    << o.prefix_caching;
  return s.str();
}

}  // namespace tokamak::test
