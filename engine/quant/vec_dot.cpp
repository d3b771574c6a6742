// Public dot-product entry points: the AVX2 kernels where the build has them,
// the scalar reference otherwise.
#include <cmath>

#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace tokamak::quant {

float vec_dot_reference(TensorType weight_type, int64_t n, const void* weight_row,
                        const void* x_act) {
  return detail::dot_ref(weight_type, n, weight_row, x_act);
}

float vec_dot(TensorType weight_type, int64_t n, const void* weight_row, const void* x_act) {
#if defined(TOKAMAK_QUANT_AVX2)
  float out;
  if (detail::dot_multi_avx2(weight_type, n, weight_row, x_act, 0, 1, &out)) return out;
#endif
  return detail::dot_ref(weight_type, n, weight_row, x_act);
}

void vec_dot_multi(TensorType weight_type, int64_t n, const void* weight_row, const void* x_acts,
                   size_t x_act_stride_bytes, int64_t num_x, float* out) {
#if defined(TOKAMAK_QUANT_AVX2)
  if (detail::dot_multi_avx2(weight_type, n, weight_row, x_acts, x_act_stride_bytes, num_x, out))
    return;
#endif
  const auto* x = static_cast<const char*>(x_acts);
  for (int64_t i = 0; i < num_x; ++i)
    out[i] = detail::dot_ref(weight_type, n, weight_row,
                             x + static_cast<size_t>(i) * x_act_stride_bytes);
}

void vec_dot_rows(TensorType weight_type, int64_t n, const void* w_rows, size_t w_row_bytes,
                  int64_t num_rows, const void* x_act, float* out) {
#if defined(TOKAMAK_QUANT_AVX2)
  if (detail::dot_rows_avx2(weight_type, n, w_rows, w_row_bytes, num_rows, x_act, out)) return;
#endif
  const auto* w = static_cast<const char*>(w_rows);
  for (int64_t r = 0; r < num_rows; ++r)
    out[r] = detail::dot_ref(weight_type, n, w + static_cast<size_t>(r) * w_row_bytes, x_act);
}

}  // namespace tokamak::quant
