// CUDA graphs for decode steps: one graph per batch-size bucket (1, 2, 4,
// ..., up to 128 tokens, each token a sequence's single next token),
// captured on first use and replayed after. The step's data lives in device
// buffers at addresses fixed per bucket (see step_upload.h), so a replay
// only needs those buffers refilled; clear() drops every graph when they move.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "core/result.h"
#include "cuda/cuda_check.h"

namespace tokamak::cuda {

class DecodeGraphs {
 public:
  static constexpr int32_t kMaxBucket = 128;

  // Buckets are the powers of two up to min(kMaxBucket, max_step_tokens).
  explicit DecodeGraphs(int32_t max_step_tokens);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  int32_t largest_bucket() const { return largest_; }
  // The smallest bucket holding n tokens; 0 when n is 0 or above the largest.
  int32_t bucket_for(int64_t n) const;
  int32_t num_captured() const;

  // Replays the graph of `bucket` on stream, first capturing it from what
  // record() enqueues on that stream (record returns Status).
  template <class Record>
  Status launch(int32_t bucket, cudaStream_t stream, Record&& record) {
    cudaGraphExec_t& exec = slot(bucket);
    if (!exec) {
      TK_TRY(begin_capture(stream));
      Status recorded = record();
      TK_TRY(end_capture(stream, recorded, &exec));
    }
    TK_CUDA_TRY(cudaGraphLaunch(exec, stream));
    return {};
  }

  void clear();

 private:
  cudaGraphExec_t& slot(int32_t bucket);
  Status begin_capture(cudaStream_t stream);
  // Ends the capture whatever happened; instantiates when recorded is ok.
  Status end_capture(cudaStream_t stream, const Status& recorded, cudaGraphExec_t* exec);

  int32_t largest_ = 0;
  std::vector<cudaGraphExec_t> execs_;  // by log2(bucket)
};

}  // namespace tokamak::cuda
