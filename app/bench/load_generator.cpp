#include "bench/load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace tokamak {
namespace {

using Clock = std::chrono::steady_clock;

// Shared with the callbacks, which may outlive run_load after a stall.
struct LoadState {
  Clock::time_point start = Clock::now();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RequestRecord> records;  // guarded by mu
  int32_t num_ended = 0;
  int32_t num_errors = 0;
  int64_t num_tokens = 0;
  double last_event_s = 0.0;
  bool closed = false;  // run_load returned; late events are dropped

  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
};

void record_event(LoadState& st, size_t index, const EngineEvent& event) {
  const double t = st.elapsed_s();
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.closed) return;
  RequestRecord& r = st.records[index];
  st.last_event_s = t;
  if (const auto* d = std::get_if<TokenDelta>(&event)) {
    (void)d;
    r.token_s.push_back(t);
    ++st.num_tokens;
    return;
  }
  if (++r.num_end_events > 1) return;  // counted, not ended twice
  r.end_s = t;
  if (const auto* f = std::get_if<Finished>(&event)) {
    r.finish_reason = f->reason;
    r.engine_timings = f->timings;
  } else if (const auto* e = std::get_if<RequestError>(&event)) {
    r.error = true;
    r.error_message = e->message;
    ++st.num_errors;
  }
  ++st.num_ended;
  st.cv.notify_all();
}

LoadProgress progress_of(const LoadState& st, int32_t num_submitted) {
  LoadProgress p;
  p.num_requests = static_cast<int32_t>(st.records.size());
  p.num_submitted = num_submitted;
  p.num_ended = st.num_ended;
  p.num_errors = st.num_errors;
  p.num_output_tokens = st.num_tokens;
  p.elapsed_s = st.elapsed_s();
  return p;
}

}  // namespace

Result<LoadResult> run_load(const std::vector<WorkloadRequest>& workload, const SubmitFn& submit,
                            const LoadOptions& options) {
  const bool open_loop = options.rate > 0.0;
  if (!open_loop && options.concurrency < 1) {
    return make_error(
        ErrorCode::InvalidArgument,
        fmt::format("concurrency {} (closed loop needs >= 1 client)", options.concurrency));
  }
  const int32_t n = static_cast<int32_t>(workload.size());
  const std::vector<double> arrivals =
      open_loop ? poisson_arrival_times(n, options.rate, options.seed) : std::vector<double>{};
  auto st = std::make_shared<LoadState>();
  st->records.resize(n);
  int32_t next = 0;
  double next_tick = options.tick_s;
  std::unique_lock<std::mutex> lock(st->mu);
  st->start = Clock::now();
  while (st->num_ended < n) {
    // Submit every request that is due: an arrival time passed, or a client is free.
    while (next < n && (open_loop ? arrivals[next] <= st->elapsed_s()
                                  : next - st->num_ended < options.concurrency)) {
      const WorkloadRequest& w = workload[next];
      RequestRecord& r = st->records[next];
      r.num_prompt_tokens = static_cast<int32_t>(w.prompt.size());
      r.max_tokens = w.max_tokens;
      r.submit_s = st->elapsed_s();
      st->last_event_s = r.submit_s;  // the stall clock runs from the last activity
      Request req;
      req.prompt = w.prompt;
      req.sampling = options.sampling;
      req.max_tokens = w.max_tokens;
      req.ignore_eos = options.ignore_eos;
      const size_t index = static_cast<size_t>(next++);
      lock.unlock();  // events of this request may come before submit returns
      submit(std::move(req), [st, index](const EngineEvent& e) { record_event(*st, index, e); });
      lock.lock();
    }
    if (st->num_ended >= n) break;
    double wake = next_tick;
    if (open_loop && next < n) wake = std::min(wake, arrivals[next]);
    st->cv.wait_until(lock, st->start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(wake)));
    const double now = st->elapsed_s();
    if (now >= next_tick) {
      next_tick = now + options.tick_s;
      if (options.on_tick) {
        const LoadProgress p = progress_of(*st, next);
        lock.unlock();
        options.on_tick(p);
        lock.lock();
      }
    }
    const bool waiting_on_engine = next > st->num_ended;
    if (options.stall_timeout_s > 0 && waiting_on_engine &&
        now - st->last_event_s > options.stall_timeout_s) {
      st->closed = true;
      return make_error(ErrorCode::Internal,
                        fmt::format("no engine event for {:.0f} s with {} of {} requests ended "
                                    "({} submitted): the engine seems stuck",
                                    now - st->last_event_s, st->num_ended, n, next));
    }
  }
  st->closed = true;
  const LoadProgress final_progress = progress_of(*st, next);
  LoadResult out;
  out.records = std::move(st->records);
  out.num_submitted = next;
  double first = 0.0, last = 0.0;
  for (size_t i = 0; i < out.records.size(); ++i) {
    if (i == 0 || out.records[i].submit_s < first) first = out.records[i].submit_s;
    last = std::max(last, out.records[i].end_s);
  }
  out.duration_s = last - first;
  lock.unlock();
  if (options.on_tick) options.on_tick(final_progress);
  return out;
}

}  // namespace tokamak
