// Convenience for tests and tools: run one token list through a backend as a
// single sequence from position 0 and get the logits of every position.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/result.h"

namespace tokamak {

// Uses blocks 0, 1, 2, ... of the backend's pool as the block table (the
// cache is overwritten) and steps of up to max_step_tokens tokens.
// Returns logits (tokens.size(), vocab_size), row-major. Fails with
// InvalidRequest when the tokens do not fit in the pool.
Result<std::vector<float>> sequence_logits(Backend& backend, std::span<const int32_t> tokens);

}  // namespace tokamak
