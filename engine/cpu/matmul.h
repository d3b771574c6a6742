// y = x W^T for a weight matrix in any supported type.
//
//   W (rows, row_length) in its stored type, x (num_x, row_length) fp32,
//   y (num_x, rows) fp32.
//
// The activation rows are converted once per op to the weight type's
// activation format (quant::quantize_activation: F32, Q8_0 or Q8_K); then
// weight rows are split across threads. Decode (one row) uses
// quant::vec_dot_rows; prefill uses quant::vec_dot_multi, one weight row
// against many activation rows, over L1-sized tiles of weight rows (the
// multi-row path that makes prefill cheaper per token than decode). Both give
// exactly vec_dot's numbers, so results do not depend on the batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor_type.h"
#include "model/model_weights.h"

namespace tokamak {
class ThreadPool;
}

namespace tokamak::cpu {

// Activation rows converted for one activation type. Sized once; reused.
class ActivationBuffer {
 public:
  // Room for max_rows rows of up to max_row_length values in any format.
  void reserve(int64_t max_rows, int64_t max_row_length);

  // Converts x (num_rows, row_length) for weights of type weight_type.
  // Preconditions: within the reserved sizes; row_length a multiple of the
  // weight type's block size.
  void convert(ThreadPool& pool, TensorType weight_type, const float* x, int64_t num_rows,
               int64_t row_length);
  // Whether the buffer already holds x converted for weights of this type
  // (q, k and v projections share one conversion).
  bool holds_for(TensorType weight_type) const;

  int64_t num_rows() const { return num_rows_; }
  int64_t row_length() const { return row_length_; }
  size_t row_bytes() const { return row_bytes_; }
  const uint8_t* row(int64_t i) const { return data_.data() + i * row_bytes_; }

 private:
  std::vector<uint8_t> data_;
  TensorType act_type_ = TensorType::F32;
  int64_t num_rows_ = 0;
  int64_t row_length_ = 0;
  size_t row_bytes_ = 0;
};

// y (x.num_rows(), w.rows) = x W^T. Precondition: x holds_for(w.type) and
// x.row_length() == w.row_length.
void matmul(ThreadPool& pool, const WeightView& w, const ActivationBuffer& x, float* y);

struct MatmulJob {
  const WeightView* w = nullptr;
  float* y = nullptr;  // (x.num_rows(), w->rows)
};

// Several products of the same activations (q, k, v; gate, up) in one
// parallel region: one wake-up of the pool instead of one per weight, and the
// rows of all weights shared out together. Same preconditions per job.
void matmul_group(ThreadPool& pool, std::span<const MatmulJob> jobs, const ActivationBuffer& x);

}  // namespace tokamak::cpu
