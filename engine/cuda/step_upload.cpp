#include "cuda/step_upload.h"

#include <algorithm>
#include <string>

#include "cuda/cuda_check.h"
#include "cuda/row_sampling.h"

namespace tokamak::cuda {
namespace {

size_t align16(size_t bytes) { return (bytes + 15) / 16 * 16; }

// Byte offsets of the packed step (see the header).
struct Packing {
  size_t tokens, positions, token_seq, logits_rows, table_start, tables, bytes;
};

Packing packing(size_t n, size_t num_rows, size_t num_tables, size_t num_entries) {
  Packing p{};
  const size_t i = sizeof(int32_t);
  p.tokens = align16(num_rows * sizeof(DeviceRowSampling));
  p.positions = p.tokens + n * i;
  p.token_seq = p.positions + n * i;
  p.logits_rows = p.token_seq + n * i;
  p.table_start = p.logits_rows + num_rows * i;
  p.tables = p.table_start + num_tables * i;
  p.bytes = p.tables + num_entries * i;
  return p;
}

}  // namespace

Status StepUpload::init(int32_t max_step_tokens, size_t table_ints) {
  const size_t T = static_cast<size_t>(max_step_tokens);
  bool moved = false;
  return ensure(packing(T, T, T, table_ints + 1).bytes, &moved);
}

Status StepUpload::ensure(size_t bytes, bool* moved) {
  if (bytes <= device_.bytes()) return {};
  const size_t capacity = std::max(bytes, 2 * device_.bytes());
  TK_TRY(device_.allocate(capacity, "the step metadata"));
  TK_TRY(host_.allocate(capacity, "the step metadata"));
  *moved = true;
  return {};
}

Result<StepBuffers> StepUpload::upload(const StepPlan& plan, std::span<const RowSampling> rows,
                                       int32_t bucket, int32_t block_size, int32_t scratch_block,
                                       cudaStream_t stream) {
  const size_t n = plan.tokens.size(), num_logits = plan.logits_rows.size();
  const size_t num_seqs = plan.sequences.size();
  const size_t n_eff = bucket > 0 ? static_cast<size_t>(bucket) : n;
  const size_t rows_eff = bucket > 0 ? static_cast<size_t>(bucket) : num_logits;
  const size_t num_tables = bucket > 0 ? n_eff : num_seqs;
  // Used entries of each table: positions up to the sequence's last one in the step.
  max_pos_.assign(num_seqs, -1);
  for (size_t t = 0; t < n; ++t)
    max_pos_[plan.token_seq[t]] = std::max(max_pos_[plan.token_seq[t]], plan.positions[t]);
  size_t num_entries = 1;  // + the scratch table
  for (size_t s = 0; s < num_seqs; ++s)
    num_entries += max_pos_[s] < 0 ? 0 : static_cast<size_t>(max_pos_[s] / block_size + 1);
  const Packing p = packing(n_eff, rows_eff, num_tables, num_entries);
  StepBuffers out;
  TK_TRY(ensure(p.bytes, &out.moved));

  char* h = host_.as<char>();
  auto* sampling = reinterpret_cast<DeviceRowSampling*>(h);
  for (size_t r = 0; r < rows_eff; ++r)
    sampling[r] = r < rows.size() ? to_device_row(rows[r]) : DeviceRowSampling{};
  auto* tokens = reinterpret_cast<int32_t*>(h + p.tokens);
  auto* positions = reinterpret_cast<int32_t*>(h + p.positions);
  auto* token_seq = reinterpret_cast<int32_t*>(h + p.token_seq);
  auto* logits_rows = reinterpret_cast<int32_t*>(h + p.logits_rows);
  auto* table_start = reinterpret_cast<int32_t*>(h + p.table_start);
  auto* tables = reinterpret_cast<int32_t*>(h + p.tables);
  std::fill(tokens, tokens + n_eff, 0);
  std::fill(positions, positions + n_eff, 0);
  std::copy(plan.tokens.begin(), plan.tokens.end(), tokens);
  std::copy(plan.positions.begin(), plan.positions.end(), positions);
  std::fill(logits_rows, logits_rows + rows_eff, 0);
  std::copy(plan.logits_rows.begin(), plan.logits_rows.end(), logits_rows);
  int32_t cursor = 0;
  tables[cursor++] = scratch_block;  // the padding tokens' table
  auto put_table = [&](size_t s) {
    const int32_t at = cursor;
    const int32_t used = max_pos_[s] < 0 ? 0 : max_pos_[s] / block_size + 1;
    const auto& table = plan.sequences[s].block_table;
    std::copy(table.begin(), table.begin() + used, tables + cursor);
    cursor += used;
    return at;
  };
  if (bucket > 0) {
    for (size_t t = 0; t < n_eff; ++t) {
      token_seq[t] = static_cast<int32_t>(t);
      table_start[t] = t < n ? put_table(plan.token_seq[t]) : 0;
    }
  } else {
    std::copy(plan.token_seq.begin(), plan.token_seq.end(), token_seq);
    for (size_t s = 0; s < num_seqs; ++s) table_start[s] = put_table(s);
  }

  const size_t used_bytes = p.tables + static_cast<size_t>(cursor) * sizeof(int32_t);
  TK_CUDA_TRY(
      cudaMemcpyAsync(device_.get(), host_.get(), used_bytes, cudaMemcpyHostToDevice, stream));
  const auto* d = device_.as<char>();
  out.sampling = reinterpret_cast<const DeviceRowSampling*>(d);
  out.tokens = reinterpret_cast<const int32_t*>(d + p.tokens);
  out.positions = reinterpret_cast<const int32_t*>(d + p.positions);
  out.token_seq = reinterpret_cast<const int32_t*>(d + p.token_seq);
  out.logits_rows = reinterpret_cast<const int32_t*>(d + p.logits_rows);
  out.table_start = reinterpret_cast<const int32_t*>(d + p.table_start);
  out.tables = reinterpret_cast<const int32_t*>(d + p.tables);
  out.num_tokens = static_cast<int64_t>(n_eff);
  out.num_rows = static_cast<int64_t>(rows_eff);
  return out;
}

}  // namespace tokamak::cuda
