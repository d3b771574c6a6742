// Helpers of the runtime tests: the aidreams260K model on the CPU backend,
// and an event collector that waits for requests to end.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "aidreams.h"
#include "cpu/cpu_backend.h"
#include "model/model.h"
#include "runtime/engine.h"

namespace tokamak::test {

struct AidreamsRuntime {
  std::shared_ptr<const Model> model;
  std::shared_ptr<Backend> backend;
  std::shared_ptr<const Tokenizer> tokenizer;

  // num_blocks KV blocks of block_size; steps of up to max_step tokens.
  explicit AidreamsRuntime(int32_t num_blocks = 64, int32_t max_step = 256,
                           int32_t block_size = 16) {
    auto m = Model::load(kAidreamsGguf);
    if (!m.ok()) {
      ADD_FAILURE() << m.error().message;
      return;
    }
    model = std::move(m).value();
    CpuBackendOptions o;
    o.num_threads = 1;
    o.max_step_tokens = max_step;
    o.kv.block_size = block_size;
    o.kv.num_blocks = num_blocks;
    auto b = make_cpu_backend(model, o);
    if (!b.ok()) {
      ADD_FAILURE() << b.error().message;
      return;
    }
    backend = std::move(b).value();
    tokenizer = std::shared_ptr<const Tokenizer>(model, &model->tokenizer());
  }
};

inline SamplingParams greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

// BOS plus the first n reference ids: greedy decoding must continue with the
// reference from there.
inline std::vector<int32_t> reference_prompt(size_t n) {
  std::vector<int32_t> p{kAidreamsBos};
  const std::vector<int32_t> ref = aidreams_greedy_ids();
  p.insert(p.end(), ref.begin(), ref.begin() + std::min(n, ref.size()));
  return p;
}

// What one request received.
struct Outcome {
  std::vector<int32_t> ids;
  std::string text;
  int num_ends = 0;  // Finished + RequestError events (must end up 1)
  bool finished = false;
  Finished fin;
  bool failed = false;
  RequestError err;
};

// Collects the events of many requests; wait() blocks until all have ended.
class Collector {
 public:
  EventCallback callback() {
    return [this](const EngineEvent& e) { on_event(e); };
  }
  RequestId submit(Engine& engine, Request r) {
    std::lock_guard lk(mu_);
    const RequestId id = engine.submit(std::move(r), callback());
    ++num_expected_;
    return id;
  }
  // False on timeout (a hang).
  bool wait(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return num_ended_ >= num_expected_; });
  }
  Outcome get(RequestId id) {
    std::lock_guard lk(mu_);
    return outcomes_[id];
  }

 private:
  void on_event(const EngineEvent& e) {
    std::lock_guard lk(mu_);
    if (const auto* d = std::get_if<TokenDelta>(&e)) {
      outcomes_[d->request].ids.push_back(d->token);
      outcomes_[d->request].text += d->text;
    } else if (const auto* f = std::get_if<Finished>(&e)) {
      Outcome& o = outcomes_[f->request];
      o.finished = true;
      o.fin = *f;
      ++o.num_ends;
      ++num_ended_;
    } else if (const auto* r = std::get_if<RequestError>(&e)) {
      Outcome& o = outcomes_[r->request];
      o.failed = true;
      o.err = *r;
      ++o.num_ends;
      ++num_ended_;
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<RequestId, Outcome> outcomes_;
  int num_expected_ = 0;
  int num_ended_ = 0;
};

}  // namespace tokamak::test
