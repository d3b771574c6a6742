#include "convert/row_converter.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <vector>

#include "quant/quant.h"

namespace tokamak {

int64_t rows_per_chunk(int64_t row_length) {
  constexpr int64_t kChunkValues = 256 * 1024;
  return std::max<int64_t>(1, kChunkValues / std::max<int64_t>(1, row_length));
}

namespace {

// Converts one chunk; dst_rows points at its first output row.
Status convert_chunk(TensorType type, int64_t first_row, int64_t num_rows, int64_t row_length,
                     const RowSourceFn& source, uint8_t* dst_rows, std::vector<float>& scratch) {
  const size_t row_bytes = row_size_bytes(type, row_length);
  const bool direct =
      type == TensorType::F32 && reinterpret_cast<uintptr_t>(dst_rows) % alignof(float) == 0;
  float* values = nullptr;
  if (direct) {
    values = reinterpret_cast<float*>(dst_rows);
  } else {
    scratch.resize(static_cast<size_t>(num_rows * row_length));
    values = scratch.data();
  }
  TK_TRY(source(first_row, num_rows, values));
  if (direct) return {};
  if (type == TensorType::F32) {
    std::memcpy(dst_rows, values, static_cast<size_t>(num_rows) * row_bytes);
    return {};
  }
  for (int64_t r = 0; r < num_rows; ++r) {
    TK_TRY(
        quant::quantize_row(type, values + r * row_length, dst_rows + r * row_bytes, row_length));
  }
  return {};
}

}  // namespace

Status convert_rows(ThreadPool& pool, TensorType type, int64_t num_rows, int64_t row_length,
                    const RowSourceFn& source, std::span<uint8_t> out) {
  if (row_length % traits(type).block_size != 0) {
    return make_error(ErrorCode::Internal,
                      fmt::format("row length {} is not a multiple of the {} block size {}",
                                  row_length, tensor_type_name(type), traits(type).block_size));
  }
  const size_t row_bytes = row_size_bytes(type, row_length);
  if (out.size() != static_cast<size_t>(num_rows) * row_bytes) {
    return make_error(ErrorCode::Internal,
                      fmt::format("output buffer has {} bytes; {} rows of {} need {}", out.size(),
                                  num_rows, tensor_type_name(type), num_rows * row_bytes));
  }
  const int64_t chunk_rows = rows_per_chunk(row_length);
  const int64_t num_chunks = (num_rows + chunk_rows - 1) / chunk_rows;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::optional<Error> first_error;

  auto record = [&](Error e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!first_error) first_error = std::move(e);
    failed = true;
  };
  pool.run([&](int, int) {
    std::vector<float> scratch;
    while (!failed) {
      const int64_t c = next_chunk.fetch_add(1);
      if (c >= num_chunks) break;
      const int64_t first = c * chunk_rows;
      const int64_t n = std::min(chunk_rows, num_rows - first);
      try {
        Status s = convert_chunk(type, first, n, row_length, source, out.data() + first * row_bytes,
                                 scratch);
        if (!s.ok()) record(s.take_error());
      } catch (const std::exception& e) {  // e.g. bad_alloc: never cross the thread
        record(make_error(ErrorCode::OutOfMemory, e.what()));
      }
    }
  });
  if (first_error) return *std::move(first_error);
  return {};
}

}  // namespace tokamak
