#include "runtime/engine.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/batch_policy.h"
#include "runtime/block_pool.h"
#include "runtime/scheduler.h"
#include "runtime/sequence.h"
#include "runtime/step_trace.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {
namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Submission {
  RequestId id = 0;
  Request request;
  EventCallback on_event;
  Clock::time_point submitted;
};

// A callback that throws is the caller's bug; it must not take the engine
// thread down (no exception crosses a thread boundary).
void emit(const EventCallback& on_event, const EngineEvent& event) {
  if (!on_event) return;
  try {
    on_event(event);
  } catch (...) {
  }
}

// The backend's Status, or Internal for an exception thrown inside it.
template <class F>
Status guarded(F&& run_step) {
  try {
    return run_step();
  } catch (const std::exception& e) {
    return make_error(ErrorCode::Internal, std::string("exception in the backend: ") + e.what());
  } catch (...) {
    return make_error(ErrorCode::Internal, "unknown exception in the backend");
  }
}

// An event waiting to be sent after the step's stats are published (so that
// a client that sees its last event also sees the blocks returned).
struct Outgoing {
  const EventCallback* on_event = nullptr;
  EngineEvent event;
};

}  // namespace

std::string_view policy_name(BatchPolicy policy) {
  switch (policy) {
    case BatchPolicy::None:
      return "none";
    case BatchPolicy::Static:
      return "static";
    case BatchPolicy::Dynamic:
      return "dynamic";
    case BatchPolicy::Continuous:
      return "continuous";
    case BatchPolicy::Paged:
      return "paged";
  }
  return "unknown";
}

Result<BatchPolicy> parse_policy(std::string_view name) {
  for (BatchPolicy p : {BatchPolicy::None, BatchPolicy::Static, BatchPolicy::Dynamic,
                        BatchPolicy::Continuous, BatchPolicy::Paged}) {
    if (policy_name(p) == name) return p;
  }
  return make_error(ErrorCode::InvalidArgument,
                    "unknown batching policy \"" + std::string(name) +
                        "\" (expected none, static, dynamic, continuous or paged)");
}

struct Engine::Impl {
  Impl(std::shared_ptr<Backend> b, std::shared_ptr<const Tokenizer> t, EngineOptions o,
       int32_t num_kv_blocks, int32_t capacity_)
      : backend(std::move(b)),
        tokenizer(std::move(t)),
        options(o),
        capacity(capacity_),
        vocab_size(backend->vocab_size()),
        pool(num_kv_blocks, backend->kv_config().block_size,
             o.policy == BatchPolicy::Paged && o.prefix_caching),
        scheduler(SchedulerOptions{o.max_sequences, o.max_step_tokens, capacity_}, pool,
                  make_batching_policy(o)) {
    stats.kv_blocks_total = num_kv_blocks;
  }

  void run();
  void intake(Submission& sub);
  void step();
  void fail_step(const Error& error);
  void on_token(Sequence& seq, int32_t id, Clock::time_point now);
  void finish(std::unique_ptr<Sequence> seq, const char* reason);
  void error(RequestId id, const EventCallback& on_event, ErrorCode code, std::string message);
  void cancel_all();
  void record_step(int32_t num_in_step);
  void publish_stats();
  void send(const EventCallback& on_event, EngineEvent event);
  void flush_events();
  void trace_step_end();
  Status check_request(const Request& request) const;

  const std::shared_ptr<Backend> backend;
  const std::shared_ptr<const Tokenizer> tokenizer;
  const EngineOptions options;
  const int32_t capacity;  // positions one sequence may use
  const int32_t vocab_size;

  // Shared with the callers' threads, under mu.
  mutable std::mutex mu;
  std::condition_variable wake;
  std::vector<Submission> incoming;
  std::vector<RequestId> cancels;
  bool stopping = false;
  RequestId next_id = 1;

  mutable std::mutex stats_mu;
  EngineStats stats;  // published by the engine thread after each step

  // Engine thread only.
  BlockPool pool;
  Scheduler scheduler;
  std::vector<RowSampling> rows;   // (num_sampled)
  std::vector<int32_t> ids;        // (num_sampled)
  std::vector<float> logits;       // (num_sampled, vocab_size), host sampling only
  std::vector<Sequence*> sampled;  // the step's sampled sequences (copy: events may remove)
  std::vector<Sequence*> in_step;  // the step's sequences (copy, for failures)
  int64_t num_finished = 0;
  int64_t num_steps = 0;
  double sum_running = 0.0;
  double sum_waste = 0.0;
  int64_t num_waste_samples = 0;
  int32_t peak_running = 0;
  bool idle = false;                               // the last step found nothing to run
  std::vector<Outgoing> outbox;                    // events of this round, sent by flush_events()
  std::vector<std::unique_ptr<Sequence>> retired;  // ended this round (their callbacks live on)
  std::vector<Submission> batch;                   // submissions taken in this round

  // TOKAMAK_ENGINE_TRACE (step_trace.h): the step being traced, ended by
  // trace_step_end() once its events are out.
  StepTrace trace;
  StepRecord traced;
  bool tracing_step = false;
  Clock::time_point forward_end{}, last_step_end = Clock::now();

  std::thread thread;
};

Status Engine::Impl::check_request(const Request& r) const {
  if (r.prompt.empty())
    return make_error(ErrorCode::InvalidRequest,
                      "the prompt is empty: start it with at least the BOS token");
  if (r.max_tokens <= 0)
    return make_error(ErrorCode::InvalidRequest,
                      "max_tokens is " + std::to_string(r.max_tokens) + "; it must be > 0");
  if (std::string bad = r.sampling.validate(); !bad.empty())
    return make_error(ErrorCode::InvalidArgument, "sampling: " + bad);
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= vocab_size)
      return make_error(ErrorCode::InvalidRequest, "prompt token " + std::to_string(i) + " is id " +
                                                       std::to_string(r.prompt[i]) +
                                                       ", outside the vocabulary (" +
                                                       std::to_string(vocab_size) + " tokens)");
  }
  if (static_cast<int64_t>(r.prompt.size()) > capacity) {
    std::ostringstream s;
    s << "the prompt has " << r.prompt.size() << " tokens but a sequence may use at most "
      << capacity << " positions (context " << options.max_context << ", KV pool "
      << pool.num_blocks() << " blocks of " << pool.block_size()
      << "); shorten the prompt or give the engine more KV blocks";
    return make_error(ErrorCode::ContextFull, s.str());
  }
  return {};
}

void Engine::Impl::error(RequestId id, const EventCallback& on_event, ErrorCode code,
                         std::string message) {
  ++num_finished;
  send(on_event, RequestError{id, code, std::move(message)});
}

void Engine::Impl::send(const EventCallback& on_event, EngineEvent event) {
  outbox.push_back(Outgoing{&on_event, std::move(event)});
}

void Engine::Impl::flush_events() {
  for (Outgoing& o : outbox) emit(*o.on_event, o.event);
  outbox.clear();
  retired.clear();
  batch.clear();
}

void Engine::Impl::intake(Submission& sub) {
  if (Status st = check_request(sub.request); !st.ok()) {
    error(sub.id, sub.on_event, st.error().code, st.error().message);
    return;
  }
  auto seq = std::make_unique<Sequence>(sub.id, std::move(sub.request), std::move(sub.on_event),
                                        *tokenizer, sub.submitted);
  seq->text.prime(seq->tokens);
  if (seq->sampler.needs_host()) {
    for (int32_t id : seq->tokens) seq->sampler.accept(id);
  }
  scheduler.add(std::move(seq));
}

void Engine::Impl::finish(std::unique_ptr<Sequence> seq, const char* reason) {
  const Clock::time_point now = Clock::now();
  Finished f;
  f.request = seq->id;
  f.reason = reason;
  RequestTimings& t = f.timings;
  t.num_prompt_tokens = seq->num_prompt_tokens;
  t.num_cached_tokens = seq->num_cached_tokens;
  t.num_generated_tokens = seq->num_generated();
  t.num_preemptions = seq->num_preemptions;
  t.e2e_ms = ms_between(seq->submitted, now);
  if (seq->started) t.queue_ms = ms_between(seq->submitted, seq->first_scheduled);
  if (t.num_generated_tokens > 0) {
    t.ttft_ms = ms_between(seq->submitted, seq->first_token);
    const double prefill_ms = ms_between(seq->first_scheduled, seq->first_token);
    if (prefill_ms > 0)
      t.prefill_tokens_per_second =
          (t.num_prompt_tokens - t.num_cached_tokens) * 1000.0 / prefill_ms;
    const double decode_ms = ms_between(seq->first_token, seq->last_token);
    if (t.num_generated_tokens > 1 && decode_ms > 0)
      t.decode_tokens_per_second = (t.num_generated_tokens - 1) * 1000.0 / decode_ms;
  }
  ++num_finished;
  send(seq->on_event, std::move(f));
  retired.push_back(std::move(seq));
}

// One sampled id: record it, release its text, and finish the sequence when
// a finish reason applies.
void Engine::Impl::on_token(Sequence& seq, int32_t id, Clock::time_point now) {
  seq.tokens.push_back(id);
  if (seq.sampler.needs_host()) seq.sampler.accept(id);
  if (seq.num_generated() == 1) seq.first_token = now;
  seq.last_token = now;
  const char* reason = nullptr;
  std::string text;
  if (!seq.ignore_eos && tokenizer->is_end_of_generation(id)) {
    reason = "eos";
  } else {
    text = seq.text.push(id);
    if (seq.text.stopped())
      reason = "stop";
    else if (seq.num_generated() >= seq.max_tokens || seq.num_tokens() > capacity)
      reason = "length";
  }
  if (reason != nullptr && !seq.text.stopped()) {
    text += seq.text.finish();  // release what was held back
    if (seq.text.stopped()) reason = "stop";
  }
  send(seq.on_event, TokenDelta{seq.id, id, std::move(text)});
  if (reason != nullptr) finish(scheduler.remove(&seq), reason);
}

void Engine::Impl::fail_step(const Error& err) {
  for (Sequence* s : in_step) {
    std::unique_ptr<Sequence> seq = scheduler.remove(s);
    if (!seq) continue;
    error(seq->id, seq->on_event, err.code, "the step this request was in failed: " + err.message);
    retired.push_back(std::move(seq));
  }
}

void Engine::Impl::step() {
  const Clock::time_point t0 = Clock::now();
  const ScheduledStep& st = scheduler.schedule(t0);
  idle = st.empty();
  if (idle) return;
  const Clock::time_point t1 = trace.on() ? Clock::now() : t0;
  if (trace.on()) {
    traced = StepRecord{};
    traced.start_us = trace.us_since_start(t0);
    traced.gap_us = std::chrono::duration<double, std::micro>(t0 - last_step_end).count();
    traced.schedule_us = std::chrono::duration<double, std::micro>(t1 - t0).count();
    traced.num_tokens = st.num_tokens;
    traced.num_sequences = static_cast<int32_t>(st.sequences.size());
    traced.num_decodes = static_cast<int32_t>(
        std::count_if(st.sequences.begin(), st.sequences.end(),
                      [](const Sequence* s) { return s->num_scheduled == 1; }));
    traced.num_sampled = static_cast<int32_t>(st.sampled.size());
    traced.num_running = scheduler.num_running();
    traced.num_waiting = scheduler.num_waiting();
  }
  in_step.assign(st.sequences.begin(), st.sequences.end());
  sampled.assign(st.sampled.begin(), st.sampled.end());
  const size_t num_rows = sampled.size();
  ids.resize(num_rows);
  const bool on_host = std::any_of(sampled.begin(), sampled.end(),
                                   [](const Sequence* s) { return s->sampler.needs_host(); });
  const Status status = guarded([&]() -> Status {
    if (num_rows == 0) return backend->forward(st.plan, {});
    if (!on_host) {
      rows.resize(num_rows);
      for (size_t i = 0; i < num_rows; ++i) rows[i] = sampled[i]->sampler.next_row();
      return backend->forward_sampled(st.plan, rows, ids);
    }
    logits.resize(num_rows * static_cast<size_t>(vocab_size));
    TK_TRY(backend->forward(st.plan, logits));
    for (size_t i = 0; i < num_rows; ++i) {
      ids[i] = sampled[i]->sampler.sample(
          std::span<const float>(logits).subspan(i * vocab_size, vocab_size));
    }
    return {};
  });
  const int32_t num_in_step = static_cast<int32_t>(in_step.size());
  if (trace.on()) {
    forward_end = Clock::now();
    traced.forward_us = std::chrono::duration<double, std::micro>(forward_end - t1).count();
    tracing_step = true;
  }
  if (!status.ok()) {
    fail_step(status.error());
  } else {
    scheduler.commit_step();
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < num_rows; ++i) on_token(*sampled[i], ids[i], now);
  }
  record_step(num_in_step);
}

void Engine::Impl::trace_step_end() {
  if (!tracing_step) return;
  last_step_end = Clock::now();
  traced.post_us = std::chrono::duration<double, std::micro>(last_step_end - forward_end).count();
  trace.add(traced);
  tracing_step = false;
}

void Engine::Impl::record_step(int32_t num_in_step) {
  ++num_steps;
  sum_running += num_in_step;
  peak_running = std::max(peak_running, num_in_step);
  if (const int64_t held = scheduler.num_held_slots(); held > 0) {
    sum_waste += 100.0 * static_cast<double>(held - scheduler.num_cached_positions()) / held;
    ++num_waste_samples;
  }
}

void Engine::Impl::publish_stats() {
  std::lock_guard lk(stats_mu);
  stats.num_waiting = scheduler.num_waiting();
  stats.num_running = scheduler.num_running();
  stats.num_finished = num_finished;
  stats.num_steps = num_steps;
  stats.num_preemptions = scheduler.counters().num_preemptions;
  stats.num_prefix_hit_tokens = scheduler.counters().num_prefix_hit_tokens;
  stats.peak_running = peak_running;
  stats.mean_running = num_steps > 0 ? sum_running / num_steps : 0.0;
  stats.kv_blocks_used = pool.num_used();
  stats.kv_blocks_cached = pool.num_cached();
  stats.kv_waste_percent = num_waste_samples > 0 ? sum_waste / num_waste_samples : 0.0;
}

void Engine::Impl::cancel_all() {
  for (Submission& sub : batch) {
    ++num_finished;
    Finished f{sub.id, "cancelled", {}};
    f.timings.num_prompt_tokens = static_cast<int32_t>(sub.request.prompt.size());
    f.timings.e2e_ms = ms_between(sub.submitted, Clock::now());
    send(sub.on_event, std::move(f));
  }
  while (!scheduler.running().empty())
    finish(scheduler.remove(scheduler.running().back()), "cancelled");
  while (std::unique_ptr<Sequence> s = scheduler.remove_first_waiting())
    finish(std::move(s), "cancelled");
  publish_stats();
  flush_events();
}

void Engine::Impl::run() {
  std::vector<RequestId> to_cancel;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lk(mu);
      for (;;) {
        if (stopping || !incoming.empty() || !cancels.empty()) break;
        const Clock::time_point now = Clock::now();
        if (!idle && scheduler.has_work(now)) break;
        const std::optional<Clock::time_point> at = scheduler.next_admission(now);
        if (at) {
          wake.wait_until(lk, *at);
          idle = false;  // the deadline may have made a batch admissible
        } else if (idle && scheduler.has_work(now)) {
          // Work that found nothing to run (should not happen): retry soon,
          // without spinning.
          wake.wait_for(lk, std::chrono::milliseconds(1));
          idle = false;
        } else {
          wake.wait(lk);
        }
      }
      batch.swap(incoming);
      to_cancel.swap(cancels);
      stop = stopping;
    }
    if (stop) {
      cancel_all();
      return;
    }
    for (Submission& sub : batch) intake(sub);
    for (RequestId id : to_cancel) {
      if (std::unique_ptr<Sequence> s = scheduler.remove(id)) finish(std::move(s), "cancelled");
    }
    to_cancel.clear();
    step();
    publish_stats();
    flush_events();
    trace_step_end();
  }
}

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<Backend> backend,
                                               std::shared_ptr<const Tokenizer> tokenizer,
                                               EngineOptions o) {
  if (!backend || !tokenizer)
    return make_error(ErrorCode::InvalidArgument,
                      "Engine::create: a backend and a tokenizer are required");
  const KvCacheConfig& kv = backend->kv_config();
  auto bad = [](std::string what) {
    return make_error(ErrorCode::InvalidArgument, "engine options: " + what);
  };
  if (kv.block_size <= 0 || kv.num_blocks <= 0)
    return bad("the backend's KV pool has " + std::to_string(kv.num_blocks) + " blocks of " +
               std::to_string(kv.block_size) + " tokens; both must be positive");
  if (o.max_kv_blocks < 0 || o.max_kv_blocks > kv.num_blocks)
    return bad("max_kv_blocks " + std::to_string(o.max_kv_blocks) + " is outside [0, " +
               std::to_string(kv.num_blocks) + "] (the backend's KV pool; 0: all of it)");
  if (o.max_step_tokens <= 0)
    return bad("max_step_tokens " + std::to_string(o.max_step_tokens) + " must be > 0");
  o.max_step_tokens = std::min(o.max_step_tokens, backend->max_step_tokens());
  if (o.max_sequences <= 0)
    return bad("max_sequences " + std::to_string(o.max_sequences) + " must be > 0");
  if (o.batch_size <= 0) return bad("batch_size " + std::to_string(o.batch_size) + " must be > 0");
  if (o.max_batch_delay_ms < 0) return bad("max_batch_delay_ms must be >= 0");
  if (o.max_context < 0)
    return bad("max_context " + std::to_string(o.max_context) + " must be >= 0");
  const int32_t num_blocks = o.max_kv_blocks > 0 ? o.max_kv_blocks : kv.num_blocks;
  const int64_t pool_positions = static_cast<int64_t>(num_blocks) * kv.block_size;
  const int32_t capacity = static_cast<int32_t>(
      o.max_context > 0 ? std::min<int64_t>(o.max_context, pool_positions) : pool_positions);
  auto impl =
      std::make_unique<Impl>(std::move(backend), std::move(tokenizer), o, num_blocks, capacity);
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->thread.joinable()) impl_->thread.join();
}

RequestId Engine::submit(Request request, EventCallback on_event) {
  std::unique_lock lk(impl_->mu);
  const RequestId id = impl_->next_id++;
  if (impl_->stopping) {  // the engine thread may be gone: end it here
    lk.unlock();
    Finished f{id, "cancelled", {}};
    f.timings.num_prompt_tokens = static_cast<int32_t>(request.prompt.size());
    emit(on_event, f);
    return id;
  }
  impl_->incoming.push_back(Submission{id, std::move(request), std::move(on_event), Clock::now()});
  lk.unlock();
  impl_->wake.notify_one();
  return id;
}

void Engine::cancel(RequestId id) {
  {
    std::lock_guard lk(impl_->mu);
    if (id == 0 || id >= impl_->next_id || impl_->stopping) return;
    impl_->cancels.push_back(id);
  }
  impl_->wake.notify_one();
}

EngineStats Engine::stats() const {
  EngineStats s;
  int64_t num_incoming = 0, num_submitted = 0;
  {
    std::lock_guard lk(impl_->mu);
    num_incoming = static_cast<int64_t>(impl_->incoming.size());
    num_submitted = static_cast<int64_t>(impl_->next_id - 1);
  }
  {
    std::lock_guard lk(impl_->stats_mu);
    s = impl_->stats;
  }
  s.num_submitted = num_submitted;
  s.num_waiting += static_cast<int32_t>(num_incoming);
  return s;
}

const EngineOptions& Engine::options() const { return impl_->options; }

}  // namespace tokamak
