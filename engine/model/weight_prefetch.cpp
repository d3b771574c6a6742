#include "model/weight_prefetch.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace tokamak {
namespace {

volatile uint8_t g_prefetch_sink = 0;  // keeps the reads from being optimised away

}  // namespace

Result<uint64_t> prefetch_weights(const gguf::File& file, const PrefetchProgress& progress,
                                  const PrefetchOptions& options) {
  if (options.chunk_bytes == 0 || options.page_bytes == 0) {
    return make_error(ErrorCode::InvalidArgument,
                      "prefetch_weights: chunk_bytes and page_bytes must be positive (got " +
                          std::to_string(options.chunk_bytes) + " and " +
                          std::to_string(options.page_bytes) + ")");
  }
  const std::span<const uint8_t> bytes = file.bytes();
  const uint64_t begin = std::min<uint64_t>(file.data_offset(), bytes.size());
  const uint64_t total = bytes.size() - begin;
  if (progress && !progress(0, total)) {
    return make_error(ErrorCode::Cancelled, file.path() + ": loading was cancelled");
  }
  // The kernel may read ahead of us (a hint; its failure changes nothing).
  const uintptr_t page_mask = ~static_cast<uintptr_t>(sysconf(_SC_PAGESIZE) - 1);
  const auto* first = reinterpret_cast<const uint8_t*>(
      reinterpret_cast<uintptr_t>(bytes.data() + begin) & page_mask);
  if (total > 0) {
    madvise(const_cast<uint8_t*>(first), bytes.data() + bytes.size() - first, MADV_WILLNEED);
  }
  uint8_t sum = 0;
  for (uint64_t done = 0; done < total;) {
    const uint64_t end = std::min(total, done + options.chunk_bytes);
    const volatile uint8_t* p = bytes.data() + begin;
    for (uint64_t i = done; i < end; i += options.page_bytes) sum ^= p[i];
    sum ^= p[end - 1];
    done = end;
    if (progress && !progress(done, total)) {
      return make_error(ErrorCode::Cancelled, file.path() + ": loading was cancelled");
    }
  }
  g_prefetch_sink = sum;
  return total;
}

}  // namespace tokamak
