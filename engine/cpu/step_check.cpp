#include "cpu/step_check.h"

#include <string>

namespace tokamak::cpu {
namespace {

Error invalid(std::string message) {
  return make_error(ErrorCode::InvalidRequest, "step plan: " + std::move(message));
}

Status check_token(const StepPlan& plan, const StepLimits& limits, size_t t) {
  const std::string where = "token " + std::to_string(t);
  const int32_t id = plan.tokens[t];
  if (id < 0 || id >= limits.vocab_size)
    return invalid(where + " has id " + std::to_string(id) + ", outside the vocabulary [0, " +
                   std::to_string(limits.vocab_size) + ")");
  const int32_t seq = plan.token_seq[t];
  if (seq < 0 || static_cast<size_t>(seq) >= plan.sequences.size())
    return invalid(where + " names sequence " + std::to_string(seq) + " of " +
                   std::to_string(plan.sequences.size()));
  const int32_t pos = plan.positions[t];
  const std::span<const int32_t> table = plan.sequences[seq].block_table;
  const int64_t max_positions = static_cast<int64_t>(limits.num_blocks) * limits.block_size;
  if (pos < 0 || pos >= max_positions)
    return invalid(where + " has position " + std::to_string(pos) + ", outside [0, " +
                   std::to_string(max_positions) + ") that the KV pool of " +
                   std::to_string(limits.num_blocks) + " blocks x " +
                   std::to_string(limits.block_size) + " tokens can hold");
  const size_t needed_blocks = static_cast<size_t>(pos / limits.block_size) + 1;
  if (table.size() < needed_blocks)
    return invalid(where + " at position " + std::to_string(pos) + " needs " +
                   std::to_string(needed_blocks) + " blocks in the block table of sequence " +
                   std::to_string(seq) + ", which has " + std::to_string(table.size()));
  return {};
}

}  // namespace

Status check_step(const StepPlan& plan, const StepLimits& limits, size_t logits_size) {
  const size_t num_tokens = plan.tokens.size();
  if (num_tokens == 0) return invalid("no tokens");
  if (plan.positions.size() != num_tokens || plan.token_seq.size() != num_tokens)
    return invalid("tokens, positions and token_seq have lengths " + std::to_string(num_tokens) +
                   ", " + std::to_string(plan.positions.size()) + ", " +
                   std::to_string(plan.token_seq.size()) + "; they must be equal");
  if (num_tokens > static_cast<size_t>(limits.max_step_tokens))
    return invalid(std::to_string(num_tokens) + " tokens, more than max_step_tokens = " +
                   std::to_string(limits.max_step_tokens));
  for (size_t t = 0; t < num_tokens; ++t) TK_TRY(check_token(plan, limits, t));
  // Every block a sequence's tokens will read must be a valid block id.
  for (size_t s = 0; s < plan.sequences.size(); ++s) {
    int64_t max_pos = -1;
    for (size_t t = 0; t < num_tokens; ++t)
      if (plan.token_seq[t] == static_cast<int32_t>(s) && plan.positions[t] > max_pos)
        max_pos = plan.positions[t];
    const std::span<const int32_t> table = plan.sequences[s].block_table;
    for (int64_t b = 0; max_pos >= 0 && b <= max_pos / limits.block_size; ++b)
      if (table[b] < 0 || table[b] >= limits.num_blocks)
        return invalid("sequence " + std::to_string(s) + " block_table[" + std::to_string(b) +
                       "] = " + std::to_string(table[b]) + ", outside the pool's blocks [0, " +
                       std::to_string(limits.num_blocks) + ")");
  }
  for (size_t i = 0; i < plan.logits_rows.size(); ++i) {
    const int32_t row = plan.logits_rows[i];
    if (row < 0 || static_cast<size_t>(row) >= num_tokens)
      return invalid("logits_rows[" + std::to_string(i) + "] = " + std::to_string(row) +
                     ", outside the step's " + std::to_string(num_tokens) + " tokens");
  }
  const size_t needed = plan.logits_rows.size() * static_cast<size_t>(limits.vocab_size);
  if (logits_size < needed)
    return invalid("logits buffer holds " + std::to_string(logits_size) + " floats; " +
                   std::to_string(plan.logits_rows.size()) + " rows of " +
                   std::to_string(limits.vocab_size) + " need " + std::to_string(needed));
  return {};
}

}  // namespace tokamak::cpu
