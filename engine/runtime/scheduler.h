// Scheduler: plans one step (one forward pass) at a time.
//
// There are no prefill and decode modes: each step, every running sequence's
// num_computed_tokens catches up with its tokens, within the step's token
// budget (chunked prefill):
//   1. running sequences, oldest first; one with a single token pending (a
//      decode) is always fed before the budget goes to prompt chunks, so a
//      long prompt never stalls running decodes;
//   2. KV for what is fed is taken from the BlockPool; when it runs out, the
//      newest running sequence is preempted (blocks freed, back to the front
//      of the waiting queue, recomputed later), never the step failed;
//   3. waiting sequences join, first come first served, as the policy allows
//      (slots, budget, KV: reserved up front or the first chunk's blocks,
//      after prefix-cache hits).
//
// The plan lists the sequences fed a single token (decodes) first, then
// those fed prompt chunks.
//
// Engine-thread only; not thread-safe. The scheduler owns the sequences
// until remove() hands one back.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "runtime/batch_policy.h"
#include "runtime/block_pool.h"
#include "runtime/sequence.h"

namespace tokamak {

struct SchedulerOptions {
  int32_t max_sequences = 64;     // running at once
  int32_t max_step_tokens = 512;  // tokens one step may feed
  int32_t capacity = 0;           // positions one sequence may use (<= the pool's)
};

// The step being run: the sequences fed (each with num_scheduled tokens)
// and the StepPlan over them. Valid until the next schedule() or remove().
struct ScheduledStep {
  std::vector<Sequence*> sequences;  // in plan order
  std::vector<Sequence*> sampled;    // those whose last fed token gives logits (rows in order)
  StepPlan plan;
  int32_t num_tokens = 0;
  bool empty() const { return sequences.empty(); }
};

struct SchedulerCounters {
  int64_t num_preemptions = 0;
  int64_t num_prefix_hit_tokens = 0;
};

class Scheduler {
 public:
  Scheduler(SchedulerOptions options, BlockPool& pool, std::unique_ptr<BatchingPolicy> policy);
  ~Scheduler();

  const SchedulerOptions& options() const { return options_; }
  const BatchingPolicy& policy() const { return *policy_; }

  // Appends to the waiting queue. Precondition: the prompt fits capacity.
  void add(std::unique_ptr<Sequence> seq);
  // Takes a sequence out (waiting or running), freeing its blocks; nullptr
  // when unknown.
  std::unique_ptr<Sequence> remove(RequestId id);
  std::unique_ptr<Sequence> remove(Sequence* seq);
  // Takes the first waiting sequence out (nullptr when none waits).
  std::unique_ptr<Sequence> remove_first_waiting();

  // Plans the next step at time `now`.
  const ScheduledStep& schedule(Clock::time_point now);
  // After a successful forward pass: the fed tokens are in the KV cache
  // (num_computed_tokens advances, newly full blocks are published).
  void commit_step();

  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  const std::vector<Sequence*>& running() const { return running_; }
  // True when a step now would feed something.
  bool has_work(Clock::time_point now) const;
  // With no work now: when admission may become possible without another
  // event (dynamic's delay), or nullopt.
  std::optional<Clock::time_point> next_admission(Clock::time_point now) const;
  const SchedulerCounters& counters() const { return counters_; }
  // KV slots held by running sequences and the tokens they hold.
  int64_t num_held_slots() const;
  int64_t num_cached_positions() const;

 private:
  AdmissionView admission_view(Clock::time_point now) const;
  // Makes seq's table cover `num_positions`; preempts newer sequences when
  // the pool is short. False when seq itself had to be preempted.
  bool grow(Sequence& seq, int32_t num_positions);
  void preempt_newest();
  void release_blocks(Sequence& seq);
  // Prefix-cache hits for a sequence being admitted (paged with caching).
  void take_cached_prefix(Sequence& seq);
  BlockHash block_hash(Sequence& seq, int32_t block);
  int32_t blocks_for(int32_t num_positions) const;
  void admit(Clock::time_point now, int32_t& budget);
  void build_plan();
  // Positions reserved at admission by policies that reserve.
  int32_t reservation(const Sequence& seq) const;

  SchedulerOptions options_;
  BlockPool& pool_;
  std::unique_ptr<BatchingPolicy> policy_;
  std::vector<Sequence*> running_;                                  // admission order: oldest first
  std::deque<Sequence*> waiting_;                                   // first come first served
  std::unordered_map<RequestId, std::unique_ptr<Sequence>> owned_;  // every sequence held
  SchedulerCounters counters_;
  bool preempted_this_step_ = false;

  // Step buffers, reused (no per-step allocation once warm).
  ScheduledStep step_;
  std::vector<int32_t> tokens_;
  std::vector<int32_t> positions_;
  std::vector<int32_t> token_seq_;
  std::vector<StepSequence> step_sequences_;
  std::vector<int32_t> logits_rows_;
  std::vector<Sequence*> ordered_;  // step_.sequences, decodes first (swapped in)
};

}  // namespace tokamak
