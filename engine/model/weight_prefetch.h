// Reading a model's mapped weights into memory once, with progress: a GGUF is
// memory-mapped, so Model::load is quick and the weights are read from disk
// by the first forward pass (a multi-GiB model stalls its first answer for
// seconds, with nothing to show). prefetch_weights reads the data section
// through the mapping in chunks, so that the pages are resident before the
// first answer and a loader can show a progress bar of real bytes.
//
//   data section of the file: [data_offset, file_size)
//   chunk k: [data_offset + k * chunk_bytes, ...)  read one byte per page,
//            then progress(done_bytes, total_bytes)
#pragma once

#include <cstdint>
#include <functional>

#include "core/result.h"
#include "gguf/gguf_file.h"

namespace tokamak {

// Called after each chunk (and once before the first, with done_bytes 0);
// returning false stops the prefetch (the result is then Cancelled).
using PrefetchProgress = std::function<bool(uint64_t done_bytes, uint64_t total_bytes)>;

struct PrefetchOptions {
  uint64_t chunk_bytes = uint64_t{16} << 20;  // bytes between progress calls
  uint64_t page_bytes = 4096;                 // one byte of each page is read
};

// Returns the number of bytes read through (the data section's size), or
// Cancelled when `progress` asked to stop. `progress` may be empty.
Result<uint64_t> prefetch_weights(const gguf::File& file, const PrefetchProgress& progress,
                                  const PrefetchOptions& options = {});

}  // namespace tokamak
