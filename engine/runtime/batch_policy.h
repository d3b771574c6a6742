// Batching policies: when waiting requests may join the running batch, and
// how their KV is allocated. The scheduler, kernels and everything else are
// the same for all of them, so a benchmark compares scheduling alone.
//
//   policy      admits                                        KV per sequence
//   none        one request when nothing runs                 reserved: prompt + max_tokens
//   static      up to batch_size when nothing runs            reserved
//   dynamic     up to batch_size when nothing runs and either reserved
//               batch_size wait or the oldest waited
//               max_batch_delay_ms
//   continuous  whenever a sequence slot and its KV are free  reserved
//   paged       whenever a slot and the next chunk's blocks   grown block by block,
//               are free                                      prefix cache, preemption
//
// Static forms a batch of what is waiting when the previous batch is done (a
// client sending its requests in batches); dynamic additionally waits for
// the batch to fill, up to the delay.
#pragma once

#include <memory>

#include "runtime/engine.h"

namespace tokamak {

struct AdmissionView {
  int32_t num_running = 0;
  int32_t num_waiting = 0;
  double oldest_wait_ms = 0.0;  // how long the first waiting request has waited
};

class BatchingPolicy {
 public:
  virtual ~BatchingPolicy() = default;
  virtual BatchPolicy kind() const = 0;
  // How many waiting requests may be admitted now (the scheduler also caps
  // by max_sequences, the token budget and free KV).
  virtual int32_t num_to_admit(const AdmissionView& view) const = 0;
  // With nothing admissible now: in how many ms that may change with no
  // other event (dynamic's delay); < 0: only an event changes it.
  virtual double admit_in_ms(const AdmissionView& view) const {
    (void)view;
    return -1.0;
  }
  // Batches run to completion: members are admitted together even when the
  // step's token budget cannot feed them all yet.
  virtual bool runs_to_completion() const { return false; }
  // KV for prompt + max_tokens reserved at admission (never preempted), or
  // blocks allocated as the sequence grows.
  virtual bool reserves_full_length() const { return true; }
  virtual bool prefix_caching() const { return false; }
};

// The policy object for options.policy (batch_size, max_batch_delay_ms and
// prefix_caching are read from options).
std::unique_ptr<BatchingPolicy> make_batching_policy(const EngineOptions& options);

}  // namespace tokamak
