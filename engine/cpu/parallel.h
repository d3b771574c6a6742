// Allocation-free data-parallel loops over a ThreadPool. ThreadPool takes a
// std::function; a lambda that captures more than two pointers makes
// std::function allocate, so these helpers hand the pool a lambda holding one
// pointer to a context on the caller's stack (a forward step allocates
// nothing).
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace tokamak::cpu {

// Calls fn(begin, end) over contiguous chunks of [0, n) of at least `grain`
// items, one chunk per thread (as ThreadPool::parallel_for splits them).
template <class Fn>
void parallel_range(ThreadPool& pool, int64_t n, int64_t grain, const Fn& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t max_chunks = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(pool.num_threads(), max_chunks));
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  struct Context {
    const Fn* fn;
    int64_t n;
    int threads;
  } context{&fn, n, threads};
  const Context* c = &context;
  pool.run([c](int t, int) {
    if (t >= c->threads) return;
    const int64_t begin = c->n * t / c->threads;
    const int64_t end = c->n * (t + 1) / c->threads;
    if (begin < end) (*c->fn)(begin, end);
  });
}

// Calls fn(thread_index) once on every thread of the pool.
template <class Fn>
void parallel_threads(ThreadPool& pool, const Fn& fn) {
  const Fn* f = &fn;
  pool.run([f](int t, int) { (*f)(t); });
}

}  // namespace tokamak::cpu
