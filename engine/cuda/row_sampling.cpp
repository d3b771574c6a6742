#include "cuda/row_sampling.h"

#include <cmath>

namespace tokamak::cuda {

DeviceRowSampling to_device_row(const RowSampling& row) {
  DeviceRowSampling d;
  d.u = row.u;
  d.temperature = row.temperature;
  d.top_k = row.top_k;
  d.top_p = row.top_p;
  d.min_p = row.min_p;
  d.log_min_p = row.min_p > 0.0f ? std::log(row.min_p) : 0.0f;
  return d;
}

void to_device_rows(std::span<const RowSampling> rows, std::span<DeviceRowSampling> out) {
  for (size_t i = 0; i < rows.size(); ++i) out[i] = to_device_row(rows[i]);
}

}  // namespace tokamak::cuda
