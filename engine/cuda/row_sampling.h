// RowSampling (the host's description of one row's draw) as the device
// sampler takes it. log(min_p) is taken here, on the host, with the same
// std::log as sample_row, so that the min-p threshold is the same float.
#pragma once

#include <span>

#include "cuda/sampling.cuh"
#include "sampling/sampler.h"

namespace tokamak::cuda {

DeviceRowSampling to_device_row(const RowSampling& row);

// out[i] = to_device_row(rows[i]); out.size() >= rows.size().
void to_device_rows(std::span<const RowSampling> rows, std::span<DeviceRowSampling> out);

}  // namespace tokamak::cuda
