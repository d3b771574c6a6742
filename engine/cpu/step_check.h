// Validation of a StepPlan before the backend touches memory: a bad plan is
// an InvalidRequest error naming the token, the sequence and the numbers,
// never a crash.
#pragma once

#include <cstdint>
#include <span>

#include "backend/backend.h"
#include "core/result.h"

namespace tokamak::cpu {

struct StepLimits {
  int32_t vocab_size = 0;       // token ids in [0, vocab_size)
  int32_t max_step_tokens = 0;  // tokens per step
  int32_t block_size = 0;
  int32_t num_blocks = 0;  // block ids in [0, num_blocks)
};

// Checks array lengths, token ids, sequence indices, positions (>= 0 and
// covered by the sequence's block table, whose used entries must be valid
// block ids), logits_rows and the size of the logits buffer.
Status check_step(const StepPlan& plan, const StepLimits& limits, size_t logits_size);

}  // namespace tokamak::cpu
