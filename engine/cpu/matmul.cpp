#include "cpu/matmul.h"

#include <algorithm>
#include <cassert>

#include "core/thread_pool.h"
#include "quant/quant.h"

namespace tokamak::cpu {
namespace {

// Weight rows dotted together against each activation row: a tile of about
// 16 KiB stays in L1 while the activation rows stream from L2.
constexpr size_t kTileBytes = 16 * 1024;

}  // namespace

void ActivationBuffer::reserve(int64_t max_rows, int64_t max_row_length) {
  // F32 (4 bytes per value) is the widest format; Q8_0 and Q8_K need less.
  data_.assign(static_cast<size_t>(max_rows) * max_row_length * sizeof(float) + 64, 0);
}

void ActivationBuffer::convert(ThreadPool& pool, TensorType weight_type, const float* x,
                               int64_t num_rows, int64_t row_length) {
  act_type_ = quant::activation_type(weight_type);
  num_rows_ = num_rows;
  row_length_ = row_length;
  row_bytes_ = quant::activation_row_bytes(weight_type, row_length);
  assert(row_bytes_ * num_rows <= data_.size());
  auto convert_rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      quant::quantize_activation(weight_type, x + r * row_length, data_.data() + r * row_bytes_,
                                 row_length);
  };
  if (num_rows < 4) {
    convert_rows(0, num_rows);
  } else {
    pool.parallel_for(num_rows, 2, convert_rows);
  }
}

bool ActivationBuffer::holds_for(TensorType weight_type) const {
  return quant::activation_type(weight_type) == act_type_ && num_rows_ > 0;
}

void matmul(ThreadPool& pool, const WeightView& w, const ActivationBuffer& x, float* y) {
  assert(x.holds_for(w.type) && x.row_length() == w.row_length);
  const int64_t num_x = x.num_rows();
  const int64_t rows = w.rows;
  const int64_t len = w.row_length;
  const TensorType type = w.type;
  const size_t w_row_bytes = w.row_bytes();
  if (num_x == 1) {
    // Decode: a matrix-vector product, weight rows streamed once.
    pool.parallel_for(rows, 16, [&](int64_t begin, int64_t end) {
      quant::vec_dot_rows(type, len, w.row(begin), w_row_bytes, end - begin, x.row(0), y + begin);
    });
    return;
  }
  // Prefill: each weight row is dotted against up to kMaxBatch activation
  // rows at once (its blocks loaded once for several tokens), and a tile of
  // weight rows stays in L1 while the activation rows stream from L2.
  constexpr int64_t kMaxBatch = 64;
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / w_row_bytes));
  const size_t x_stride = x.row_bytes();
  pool.parallel_for(rows, 16, [&](int64_t begin, int64_t end) {
    float out[kMaxBatch];
    for (int64_t t0 = 0; t0 < num_x; t0 += kMaxBatch) {
      const int64_t nt = std::min(kMaxBatch, num_x - t0);
      for (int64_t r0 = begin; r0 < end; r0 += tile) {
        const int64_t r1 = std::min(end, r0 + tile);
        for (int64_t r = r0; r < r1; ++r) {
          quant::vec_dot_multi(type, len, w.row(r), x.row(t0), x_stride, nt, out);
          for (int64_t i = 0; i < nt; ++i) y[(t0 + i) * rows + r] = out[i];
        }
      }
    }
  });
}

}  // namespace tokamak::cpu
