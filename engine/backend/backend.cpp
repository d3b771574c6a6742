#include "backend/backend.h"

#include <vector>

namespace tokamak {

Status Backend::forward_sampled(const StepPlan& plan, std::span<const RowSampling> rows,
                                std::span<int32_t> ids) {
  const size_t num_rows = plan.logits_rows.size();
  if (rows.size() != num_rows || ids.size() != num_rows)
    return make_error(ErrorCode::InvalidRequest,
                      "forward_sampled: " + std::to_string(num_rows) + " logits rows but " +
                          std::to_string(rows.size()) + " sampling rows and " +
                          std::to_string(ids.size()) + " id slots");
  const size_t vocab = static_cast<size_t>(vocab_size());
  std::vector<float> logits(num_rows * vocab);
  TK_TRY(forward(plan, logits));
  for (size_t i = 0; i < num_rows; ++i)
    ids[i] = sample_row(std::span<const float>(logits).subspan(i * vocab, vocab), rows[i]);
  return {};
}

}  // namespace tokamak
