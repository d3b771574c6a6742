// Owned memory regions: device (cudaMalloc) and pinned host (cudaHostAlloc).
#pragma once

#include <cstddef>
#include <utility>

#include "core/result.h"

namespace tokamak::cuda {

class DeviceMemory {
 public:
  DeviceMemory() = default;
  ~DeviceMemory();
  DeviceMemory(DeviceMemory&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& other) noexcept;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // Frees what was held, then allocates `bytes` (DeviceFault on failure,
  // naming the size).
  Status allocate(size_t bytes, const char* what);
  void reset();

  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <class T>
  T* as(size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// One cudaHostAlloc'd (pinned) host region, freed on destruction: staging
// for asynchronous copies that a graph replay reads from.
class PinnedMemory {
 public:
  PinnedMemory() = default;
  ~PinnedMemory();
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;

  Status allocate(size_t bytes, const char* what);
  void reset();

  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <class T>
  T* as(size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Offsets of consecutive sub-buffers inside one allocation, each aligned to
// 256 bytes.
class Layout {
 public:
  size_t add(size_t bytes) {
    const size_t at = end_;
    end_ = (end_ + bytes + 255) / 256 * 256;
    return at;
  }
  size_t bytes() const { return end_; }

 private:
  size_t end_ = 0;
};

}  // namespace tokamak::cuda
