#include "cpu/matmul.h"

#include <algorithm>
#include <cassert>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu/parallel.h"
#include "quant/quant.h"

namespace tokamak::cpu {
namespace {

// Weight rows dotted together against each activation row: a tile of about
// 16 KiB stays in L1 while the activation rows stream from L2.
constexpr size_t kTileBytes = 16 * 1024;
// Below this many weight bytes times activation rows per thread, waking the
// pool costs more than the work (tiny models, small projections).
constexpr int64_t kMinBytesPerThread = 64 * 1024;

// parallel_range grain (in weight rows) so that each chunk has enough work.
int64_t row_grain(size_t row_bytes, int64_t num_x) {
  const int64_t work_per_row = static_cast<int64_t>(row_bytes) * std::max<int64_t>(1, num_x);
  return std::max<int64_t>(16, kMinBytesPerThread / std::max<int64_t>(1, work_per_row));
}

// Decode streams weights from memory. The hardware prefetcher alone does not
// keep one core's stream busy while the dot kernel computes, so rows are
// dotted in stretches of kStretchBytes and the stretch kPrefetchAhead
// stretches further on is requested explicitly (tuned on a Xeon with 2
// threads: +25-35% decode speed for Q4_K and Q8_0 over no prefetch).
constexpr int64_t kStretchBytes = 4096;
constexpr int64_t kPrefetchAhead = 4;

inline void prefetch_range(const uint8_t* begin, const uint8_t* end) {
#if defined(__x86_64__)
  for (const uint8_t* p = begin; p < end; p += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
#endif
}

// y[r] = dot(w row r, x) for r in [begin, end), with read-ahead.
void matvec_rows(const WeightView& w, const uint8_t* x, int64_t begin, int64_t end, float* y) {
  const size_t row_bytes = w.row_bytes();
  const int64_t step = std::max<int64_t>(1, kStretchBytes / static_cast<int64_t>(row_bytes));
  const int64_t ahead = kPrefetchAhead * step;
  prefetch_range(w.row(std::min(end, begin + step)), w.row(std::min(end, begin + ahead)));
  for (int64_t r0 = begin; r0 < end; r0 += step) {
    const int64_t r1 = std::min(end, r0 + step);
    const int64_t p0 = std::min(end, r0 + ahead);
    prefetch_range(w.row(p0), w.row(std::min(end, p0 + step)));
    quant::vec_dot_rows(w.type, w.row_length, w.row(r0), row_bytes, r1 - r0, x, y + r0);
  }
}

// Prefill: y[t, r] for r in [begin, end) and every activation row t. Each
// weight row is dotted against up to kMaxBatch activation rows at once (its
// blocks loaded once for several tokens), over tiles of weight rows that stay
// in L1 while the activation rows stream from L2.
void matmul_rows(const WeightView& w, const ActivationBuffer& x, int64_t begin, int64_t end,
                 float* y) {
  constexpr int64_t kMaxBatch = 64;
  const int64_t num_x = x.num_rows();
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kTileBytes / w.row_bytes()));
  float out[kMaxBatch];
  for (int64_t t0 = 0; t0 < num_x; t0 += kMaxBatch) {
    const int64_t nt = std::min(kMaxBatch, num_x - t0);
    for (int64_t r0 = begin; r0 < end; r0 += tile) {
      const int64_t r1 = std::min(end, r0 + tile);
      for (int64_t r = r0; r < r1; ++r) {
        quant::vec_dot_multi(w.type, w.row_length, w.row(r), x.row(t0), x.row_bytes(), nt, out);
        for (int64_t i = 0; i < nt; ++i) y[(t0 + i) * w.rows + r] = out[i];
      }
    }
  }
}

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
  // Conversion is cheap next to the matmul; thread it only for many rows.
  const int64_t grain = std::max<int64_t>(2, 32768 / std::max<int64_t>(1, row_length));
  if (num_rows <= grain) {
    convert_rows(0, num_rows);
  } else {
    parallel_range(pool, num_rows, grain, convert_rows);
  }
}

bool ActivationBuffer::holds_for(TensorType weight_type) const {
  return quant::activation_type(weight_type) == act_type_ && num_rows_ > 0;
}

void matmul(ThreadPool& pool, const WeightView& w, const ActivationBuffer& x, float* y) {
  const MatmulJob job{&w, y};
  matmul_group(pool, std::span<const MatmulJob>(&job, 1), x);
}

void matmul_group(ThreadPool& pool, std::span<const MatmulJob> jobs, const ActivationBuffer& x) {
  // The jobs' rows form one range [0, total_rows) split across threads.
  int64_t total_rows = 0;
  size_t max_row_bytes = 0;
  for (const MatmulJob& job : jobs) {
    assert(x.holds_for(job.w->type) && x.row_length() == job.w->row_length);
    total_rows += job.w->rows;
    max_row_bytes = std::max(max_row_bytes, job.w->row_bytes());
  }
  const int64_t num_x = x.num_rows();
  parallel_range(pool, total_rows, row_grain(max_row_bytes, num_x),
                 [&](int64_t begin, int64_t end) {
                   int64_t offset = 0;
                   for (const MatmulJob& job : jobs) {
                     const int64_t lo = std::max(begin, offset) - offset;
                     const int64_t hi = std::min(end, offset + job.w->rows) - offset;
                     if (lo < hi) {
                       if (num_x == 1) {
                         matvec_rows(*job.w, x.row(0), lo, hi, job.y);
                       } else {
                         matmul_rows(*job.w, x, lo, hi, job.y);
                       }
                     }
                     offset += job.w->rows;
                   }
                 });
}

}  // namespace tokamak::cpu
