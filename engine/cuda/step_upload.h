// The step's metadata on the device: token ids, positions, sequence of each
// token, logits rows, block tables and sampling rows, packed on the host into
// pinned memory and sent with one asynchronous copy.
//
//   device buffer: [sampling rows (num_rows)] [tokens (n)] [positions (n)]
//                  [token_seq (n)] [logits_rows (num_rows)]
//                  [table_start (num_tables)] [tables ...]
//
// Decode graphs (bucket > 0): the step is padded to `bucket` tokens and
// rows, every token is its own "sequence" (token_seq[t] = t, its table is
// the used part of its sequence's block table), and padding tokens sit at
// position 0 of a table holding only the backend's scratch block, so they
// never touch a real block; padding rows sample greedily and nobody reads
// their ids. Every offset then depends on the bucket alone, so a captured
// graph stays valid until the buffer has to grow (upload reports it).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/result.h"
#include "cuda/device_memory.h"
#include "cuda/sampling.cuh"

namespace tokamak::cuda {

// Device pointers of one uploaded step.
struct StepBuffers {
  const DeviceRowSampling* sampling = nullptr;  // (num_rows); rows.empty() and no bucket: unset
  const int32_t* tokens = nullptr;              // (num_tokens)
  const int32_t* positions = nullptr;
  const int32_t* token_seq = nullptr;
  const int32_t* logits_rows = nullptr;  // (num_rows)
  const int32_t* table_start = nullptr;  // offsets into tables
  const int32_t* tables = nullptr;
  int64_t num_tokens = 0;
  int64_t num_rows = 0;
  bool moved = false;  // the device buffer was reallocated by this upload
};

class StepUpload {
 public:
  // Room for steps of max_step_tokens tokens with `table_ints` block-table
  // entries; grows when a step needs more.
  Status init(int32_t max_step_tokens, size_t table_ints);

  // bucket 0: the plan as it is. Else bucket >= plan.tokens.size() and each
  // token is a different sequence's single token. rows: sampling rows of
  // plan.logits_rows (empty: none; padded rows are greedy either way).
  Result<StepBuffers> upload(const StepPlan& plan, std::span<const RowSampling> rows,
                             int32_t bucket, int32_t block_size, int32_t scratch_block,
                             cudaStream_t stream);

 private:
  Status ensure(size_t bytes, bool* moved);

  PinnedMemory host_;
  DeviceMemory device_;
  std::vector<int32_t> max_pos_;  // per sequence, reused
};

}  // namespace tokamak::cuda
