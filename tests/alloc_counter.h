// Counts heap allocations of the test binary that includes it: replaces the
// global operator new/delete (so include it from exactly one .cpp of an
// executable). Counting is on while g_counting is set; it only counts, so
// other tests in the binary are unaffected. Off (TOKAMAK_COUNT_ALLOCATIONS 0)
// under AddressSanitizer, which owns operator new.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define TOKAMAK_COUNT_ALLOCATIONS 0  // AddressSanitizer owns operator new
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TOKAMAK_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef TOKAMAK_COUNT_ALLOCATIONS
#define TOKAMAK_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

#if TOKAMAK_COUNT_ALLOCATIONS
// The replacements pair malloc with free on purpose; g++ cannot see that
// every new below is matched by the delete below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t& t) noexcept {
  return operator new(size, t);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
