#include "bench/serve_bench.h"

#include <fmt/format.h>

#include <algorithm>

#include "bench/machine_info.h"

namespace tokamak {
namespace {

constexpr size_t kMaxErrorSamples = 5;

// Figures averaged over steps, with the warm-up's steps taken out.
double measured_mean(double mean_all, int64_t steps_all, double mean_warm, int64_t steps_warm) {
  const int64_t steps = steps_all - steps_warm;
  if (steps <= 0) return 0.0;
  return (mean_all * static_cast<double>(steps_all) - mean_warm * static_cast<double>(steps_warm)) /
         static_cast<double>(steps);
}

Status warm_up(Engine& engine, const PromptVocab& vocab, const ServePoint& point,
               const ServeBenchOptions& options) {
  if (options.warmup_requests <= 0) return {};
  TK_ASSIGN(auto requests, make_workload(point.workload, options.warmup_requests, vocab,
                                         options.seed ^ 0x5eed5eed5eedull, options.max_context));
  LoadOptions lo;
  lo.concurrency = 1;
  lo.sampling = options.sampling;
  lo.stall_timeout_s = options.stall_timeout_s;
  const SubmitFn submit = [&engine](Request r, EventCallback cb) {
    return engine.submit(std::move(r), std::move(cb));
  };
  TK_ASSIGN(const LoadResult warm, run_load(requests, submit, lo));
  const ServeMetrics m = compute_metrics(warm);
  if (m.num_errors > 0) {
    for (const RequestRecord& r : warm.records) {
      if (r.error) {
        return make_error(ErrorCode::InvalidRequest,
                          fmt::format("warm-up request failed: {}", r.error_message));
      }
    }
  }
  return {};
}

// The telemetry a run uses, or null with the reason in `why_not`.
std::shared_ptr<GpuTelemetry> telemetry_for(const Backend& backend,
                                            const ServeBenchOptions& options,
                                            std::string& why_not) {
  if (options.gpu) return options.gpu;
  if (backend.name() != "cuda") {
    why_not = fmt::format("the {} backend: energy is measured on NVIDIA GPUs only (NVML)",
                          backend.name());
    return nullptr;
  }
  auto t = GpuTelemetry::open(0);
  if (!t.ok()) {
    why_not = t.error().message;
    return nullptr;
  }
  return std::move(t).value();
}

}  // namespace

Result<ServeRunResult> run_serve_point(const std::shared_ptr<Backend>& backend,
                                       const std::shared_ptr<const Tokenizer>& tokenizer,
                                       const PromptVocab& vocab, const ServePoint& point,
                                       const ServeBenchOptions& options) {
  EngineOptions eo = options.engine;
  eo.policy = point.policy;
  eo.batch_size = point.batch_size;
  eo.max_sequences = point.max_sequences;
  TK_ASSIGN(const auto requests, make_workload(point.workload, point.num_requests, vocab,
                                               options.seed, options.max_context));
  TK_ASSIGN(std::unique_ptr<Engine> engine, Engine::create(backend, tokenizer, eo));
  TK_TRY(warm_up(*engine, vocab, point, options));
  const EngineStats before = engine->stats();

  ServeRunResult out;
  out.point = point;
  out.engine_options = engine->options();
  std::string why_no_gpu;
  const std::shared_ptr<GpuTelemetry> gpu = telemetry_for(*backend, options, why_no_gpu);
  if (gpu) out.gpu_name = gpu->name();
  TimelineRecorder timeline(options.sample_interval_s, gpu);
  LoadOptions lo;
  lo.concurrency = point.concurrency;
  lo.rate = point.rate;
  lo.seed = options.seed;
  lo.sampling = options.sampling;
  lo.stall_timeout_s = options.stall_timeout_s;
  // Submissions and ticks both run on this thread: `submitted` needs no lock.
  std::vector<RequestId> submitted;
  bool cancelled = false;
  lo.on_tick = [&](const LoadProgress& p) {
    const EngineStats s = engine->stats();
    out.kv_blocks_peak_used = std::max(out.kv_blocks_peak_used, s.kv_blocks_used);
    if (options.cancel && options.cancel->load() && !cancelled) {
      cancelled = true;
      for (RequestId id : submitted) engine->cancel(id);
    }
    if (const TimelineSample* t = timeline.tick(p, s, p.num_ended == p.num_requests)) {
      if (options.on_sample) options.on_sample(point, *t);
    }
    if (options.on_progress) options.on_progress(point, p);
  };
  const SubmitFn submit = [&](Request r, EventCallback cb) -> RequestId {
    if (cancelled) {  // ends at once, as the engine ends a cancelled request
      Finished f;
      f.reason = "cancelled";
      cb(EngineEvent(f));
      return 0;
    }
    const RequestId id = engine->submit(std::move(r), std::move(cb));
    submitted.push_back(id);
    return id;
  };
  const TimelineSample& first = timeline.start(engine->stats());
  if (options.on_sample) options.on_sample(point, first);
  TK_ASSIGN(const LoadResult load, run_load(requests, submit, lo));
  if (cancelled) return make_error(ErrorCode::Cancelled, "the benchmark run was cancelled");
  const EngineStats after = engine->stats();

  out.metrics = compute_metrics(load);
  out.requests_per_second_spread = summarize({out.metrics.requests_per_second});
  out.num_unaccounted_all = out.metrics.num_unaccounted + out.metrics.num_duplicate_ends;
  out.num_steps = after.num_steps - before.num_steps;
  out.peak_running = after.peak_running;
  out.mean_running =
      measured_mean(after.mean_running, after.num_steps, before.mean_running, before.num_steps);
  out.kv_waste_percent = measured_mean(after.kv_waste_percent, after.num_steps,
                                       before.kv_waste_percent, before.num_steps);
  out.kv_blocks_total = after.kv_blocks_total;
  out.num_preemptions = after.num_preemptions - before.num_preemptions;
  out.num_prefix_hit_tokens = after.num_prefix_hit_tokens - before.num_prefix_hit_tokens;
  for (const RequestRecord& r : load.records) {
    if (r.error && out.error_samples.size() < kMaxErrorSamples) {
      out.error_samples.push_back(r.error_message);
    }
  }
  out.energy = energy_from_samples(timeline.samples(), out.metrics.num_output_tokens, why_no_gpu);
  out.timeline = timeline.take_samples();
  if (backend->name() == "cuda") {
    out.device_memory_bytes = cuda_used_memory_bytes();
    out.device_memory_kind = "cuda_used";
  } else {
    out.device_memory_bytes = host_peak_rss_bytes();
    out.device_memory_kind = "host_peak_rss";
  }
  return out;
}

Result<ServeRunResult> run_serve_point_repeated(const std::shared_ptr<Backend>& backend,
                                                const std::shared_ptr<const Tokenizer>& tokenizer,
                                                const PromptVocab& vocab, const ServePoint& point,
                                                const ServeBenchOptions& options,
                                                int32_t repetitions) {
  if (repetitions < 1) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("repetitions {}: expected >= 1", repetitions));
  }
  std::vector<ServeRunResult> runs;
  std::vector<double> rps;
  int32_t unaccounted = 0;
  for (int32_t i = 0; i < repetitions; ++i) {
    TK_ASSIGN(ServeRunResult r, run_serve_point(backend, tokenizer, vocab, point, options));
    rps.push_back(r.metrics.requests_per_second);
    unaccounted += r.metrics.num_unaccounted + r.metrics.num_duplicate_ends;
    runs.push_back(std::move(r));
  }
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rps[a] < rps[b]; });
  ServeRunResult out = std::move(runs[order[(order.size() - 1) / 2]]);
  out.requests_per_second_spread = summarize(rps);
  out.num_unaccounted_all = unaccounted;
  return out;
}

}  // namespace tokamak
