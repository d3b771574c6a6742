// Engine: the batching runtime's public face. Thread-safe; one engine thread
// runs the step loop over one Backend.
//
//   submit(request, on_event) ──► waiting queue ──► scheduler (policy, KV
//   budget, token budget) ──► StepPlan ──► Backend::forward_sampled ──► ids
//   ──► detokenize, stop strings ──► on_event (on the engine thread)
//
// Every submitted request ends exactly once: with a Finished event (reason
// "eos", "stop", "length" or "cancelled") or with a RequestError event (the
// request cannot run: too long for the context or the KV pool, invalid
// sampling parameters or token ids; or the backend failed in a step it was
// in). Before that it may get TokenDelta events, one per generated token.
// Callbacks run on the engine thread: copy what you need and return; never
// call the engine's blocking functions (shutdown, the destructor) from one.
// Performance work: TOKAMAK_ENGINE_TRACE=PREFIX writes one CSV row per step
// (host and forward times, token mix) when the engine stops (step_trace.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backend/backend.h"
#include "core/result.h"
#include "sampling/sampling_params.h"

namespace tokamak {

class Tokenizer;

using RequestId = uint64_t;  // 1, 2, 3, ... per engine; 0 is never an id

struct Request {
  std::vector<int32_t> prompt;    // token ids, BOS included by the caller; not empty
  SamplingParams sampling;        // with its own seed
  std::vector<std::string> stop;  // stop strings (never shown)
  int32_t max_tokens = 256;       // > 0: tokens to generate at most
  bool ignore_eos = false;        // benchmarks: generate exactly max_tokens
};

struct TokenDelta {
  RequestId request = 0;
  int32_t token = 0;  // the generated id
  // Whole UTF-8 characters released with this token; text that may still
  // turn into a stop string is held back. May be "".
  std::string text;
};

// Times are from submit(); all in milliseconds.
struct RequestTimings {
  int32_t num_prompt_tokens = 0;     // the request's prompt length
  int32_t num_cached_tokens = 0;     // prompt tokens found in the prefix cache
  int32_t num_generated_tokens = 0;  // sampled tokens (an end-of-generation token included)
  int32_t num_preemptions = 0;       // times its blocks were taken back and recomputed
  double queue_ms = 0.0;             // submit -> first step that computed it
  double ttft_ms = 0.0;              // submit -> first token
  double e2e_ms = 0.0;               // submit -> finished
  double prefill_tokens_per_second = 0.0;
  double decode_tokens_per_second = 0.0;  // (generated - 1) / (last token - first token)
};

struct Finished {
  RequestId request = 0;
  std::string reason;  // "eos" | "stop" | "length" | "cancelled"
  RequestTimings timings;
};

struct RequestError {
  RequestId request = 0;
  ErrorCode code = ErrorCode::Internal;
  std::string message;  // what happened, with the numbers
};

using EngineEvent = std::variant<TokenDelta, Finished, RequestError>;
using EventCallback = std::function<void(const EngineEvent&)>;

// How the scheduler forms batches (design.md): the same kernels, the
// scheduling alone differs.
enum class BatchPolicy {
  None,        // one request at a time
  Static,      // fixed batches of batch_size, each run to completion
  Dynamic,     // wait for batch_size requests or max_batch_delay_ms, run to completion
  Continuous,  // iteration-level; each sequence reserves KV for prompt + max_tokens
  Paged,       // iteration-level; KV blocks allocated as the sequence grows
};
std::string_view policy_name(BatchPolicy policy);  // "none", "static", ...
Result<BatchPolicy> parse_policy(std::string_view name);

struct EngineOptions {
  BatchPolicy policy = BatchPolicy::Paged;
  int32_t max_sequences = 64;  // running at once
  // Token budget of one step (chunked prefill); capped at the backend's
  // max_step_tokens() (options() shows the value in use).
  int32_t max_step_tokens = 512;
  int32_t batch_size = 8;            // static and dynamic
  double max_batch_delay_ms = 50.0;  // dynamic
  // Positions one sequence may use (capped by the engine's KV blocks). 0:
  // all positions of those blocks -- the Backend does not know the model's
  // context length, so callers pass ModelSpec::context_length here.
  int32_t max_context = 0;
  // KV blocks of the backend's pool the engine may use; 0: all of them.
  int32_t max_kv_blocks = 0;
  bool prefix_caching = true;  // reuse full blocks of equal prompt prefixes (paged)
};

struct EngineStats {
  int32_t num_waiting = 0;
  int32_t num_running = 0;
  int64_t num_submitted = 0;
  int64_t num_finished = 0;  // Finished or RequestError events sent
  int64_t num_steps = 0;
  int64_t num_preemptions = 0;
  int64_t num_prefix_hit_tokens = 0;  // prompt tokens served from the prefix cache
  int32_t peak_running = 0;           // most sequences in one step
  double mean_running = 0.0;          // sequences per step, averaged over steps
  int32_t kv_blocks_total = 0;        // blocks the engine may use
  int32_t kv_blocks_used = 0;         // held by sequences now
  int32_t kv_blocks_cached = 0;       // free but still holding a cached prefix
  // Of the KV slots held by running sequences, the share not holding a
  // token, averaged over steps (reservation and partly filled blocks).
  double kv_waste_percent = 0.0;
};

class Engine {
 public:
  // The engine uses `backend` (its KV pool included) alone until it is
  // destroyed; the tokenizer gives the text of deltas, EOS ids and stop
  // strings. Fails on options the backend cannot honour.
  static Result<std::unique_ptr<Engine>> create(std::shared_ptr<Backend> backend,
                                                std::shared_ptr<const Tokenizer> tokenizer,
                                                EngineOptions options);
  // Cancels what is still running (each gets Finished "cancelled") and joins
  // the engine thread.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; its events go to on_event. Never blocks on a step.
  RequestId submit(Request request, EventCallback on_event);
  // Ends the request at the next step boundary with Finished "cancelled";
  // unknown or finished ids are ignored.
  void cancel(RequestId id);
  EngineStats stats() const;
  const EngineOptions& options() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokamak
