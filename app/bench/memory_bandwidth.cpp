#include "bench/memory_bandwidth.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "bench/spread.h"
#include "core/thread_pool.h"

namespace tokamak {
namespace {

constexpr size_t kAlign = 64;

// Sums n_words 64-bit words starting at p (64-byte aligned, n_words % 16 == 0).
uint64_t read_sum(const uint64_t* p, size_t n_words) {
#if defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n_words; i += 16) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < n_words; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
#endif
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

Result<BandwidthResult> measure_read_bandwidth(const BandwidthOptions& options) {
  if (options.buffer_bytes < (1u << 20)) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("bandwidth buffer of {} bytes is too small (at least 1 MiB)",
                                  options.buffer_bytes));
  }
  if (options.repetitions < 1) {
    return make_error(ErrorCode::InvalidArgument, "bandwidth benchmark needs >= 1 repetition");
  }
  ThreadPool pool(options.num_threads);
  const int num_threads = pool.num_threads();
  // Each thread gets an equal slice, a multiple of 16 words (128 bytes).
  const size_t words_per_thread = options.buffer_bytes / 8 / num_threads / 16 * 16;
  const size_t total_words = words_per_thread * num_threads;
  std::unique_ptr<uint64_t, FreeDeleter> buffer(
      static_cast<uint64_t*>(std::aligned_alloc(kAlign, total_words * 8)));
  if (!buffer) {
    return make_error(
        ErrorCode::OutOfMemory,
        fmt::format("cannot allocate {} bytes for the bandwidth benchmark", total_words * 8));
  }
  uint64_t* data = buffer.get();
  // First touch by the thread that reads the slice later.
  pool.run([&](int t, int) {
    uint64_t* p = data + t * words_per_thread;
    for (size_t i = 0; i < words_per_thread; ++i) p[i] = i * 2654435761u + t;
  });

  std::vector<uint64_t> sums(num_threads);
  auto pass = [&] {
    pool.run(
        [&](int t, int) { sums[t] = read_sum(data + t * words_per_thread, words_per_thread); });
  };
  pass();  // warm-up
  BandwidthResult r;
  r.num_threads = num_threads;
  r.buffer_bytes = total_words * 8;
  for (int rep = 0; rep < options.repetitions; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pass();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.gb_per_s.push_back(static_cast<double>(r.buffer_bytes) / s / 1e9);
  }
  volatile uint64_t sink = 0;  // keep the reads observable
  for (uint64_t s : sums) sink = sink + s;
  const Spread spread = summarize(r.gb_per_s);
  r.best_gb_per_s = spread.max;
  r.median_gb_per_s = spread.median;
  return r;
}

}  // namespace tokamak
