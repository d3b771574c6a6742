#include "cpu/sequence_logits.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace tokamak {

Result<std::vector<float>> sequence_logits(Backend& backend, std::span<const int32_t> tokens) {
  const KvCacheConfig& kv = backend.kv_config();
  const int64_t num_tokens = static_cast<int64_t>(tokens.size());
  const int64_t capacity = static_cast<int64_t>(kv.num_blocks) * kv.block_size;
  if (num_tokens > capacity)
    return make_error(ErrorCode::InvalidRequest, std::to_string(num_tokens) +
                                                     " tokens do not fit in the KV pool of " +
                                                     std::to_string(capacity) + " positions");
  const int64_t vocab = backend.vocab_size();
  std::vector<float> logits(num_tokens * vocab);
  std::vector<int32_t> table((num_tokens + kv.block_size - 1) / kv.block_size);
  std::iota(table.begin(), table.end(), 0);
  const StepSequence seq{table};
  const int64_t chunk = backend.max_step_tokens();
  std::vector<int32_t> positions(chunk), token_seq(chunk, 0), rows(chunk);
  for (int64_t begin = 0; begin < num_tokens; begin += chunk) {
    const int64_t n = std::min(chunk, num_tokens - begin);
    for (int64_t i = 0; i < n; ++i) {
      positions[i] = static_cast<int32_t>(begin + i);
      rows[i] = static_cast<int32_t>(i);
    }
    StepPlan plan;
    plan.tokens = tokens.subspan(begin, n);
    plan.positions = std::span<const int32_t>(positions.data(), n);
    plan.token_seq = std::span<const int32_t>(token_seq.data(), n);
    plan.sequences = std::span<const StepSequence>(&seq, 1);
    plan.logits_rows = std::span<const int32_t>(rows.data(), n);
    TK_TRY(backend.forward(plan, std::span<float>(logits.data() + begin * vocab, n * vocab)));
  }
  return logits;
}

}  // namespace tokamak
