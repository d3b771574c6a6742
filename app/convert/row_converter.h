// Parallel conversion of f32 rows to a tensor type, straight into the
// gguf::Writer's output buffer (inside a fill callback).
//
//   rows [0, num_rows) are cut into fixed chunks of rows_per_chunk(row_length)
//   rows; threads take chunks in turn; chunk c always covers the same rows,
//   so a deterministic source gives the same bytes on any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "core/result.h"
#include "core/tensor_type.h"
#include "core/thread_pool.h"

namespace tokamak {

// Writes the f32 values of rows [first_row, first_row + num_rows) into dst
// (num_rows * row_length floats). Called concurrently for different chunks.
using RowSourceFn = std::function<Status(int64_t first_row, int64_t num_rows, float* dst)>;

// Rows per chunk: about 256 Ki values, at least one row.
int64_t rows_per_chunk(int64_t row_length);

// out.size() must be num_rows * row_size_bytes(type, row_length).
Status convert_rows(ThreadPool& pool, TensorType type, int64_t num_rows, int64_t row_length,
                    const RowSourceFn& source, std::span<uint8_t> out);

}  // namespace tokamak
