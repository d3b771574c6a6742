#include "cuda/device_memory.h"

#include <string>

#include "cuda/cuda_check.h"

namespace tokamak::cuda {

DeviceMemory::~DeviceMemory() { reset(); }

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& other) noexcept {
  if (this != &other) {
    reset();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceMemory::reset() {
  if (ptr_) cudaFree(ptr_);  // nothing to do about a failure on release
  ptr_ = nullptr;
  bytes_ = 0;
}

Status DeviceMemory::allocate(size_t bytes, const char* what) {
  reset();
  if (bytes == 0) return {};
  const cudaError_t code = cudaMalloc(&ptr_, bytes);
  if (code != cudaSuccess) {
    ptr_ = nullptr;
    Error e = cuda_error(code, "cudaMalloc", __FILE__, __LINE__);
    e.message = std::string("cannot allocate ") + std::to_string(bytes >> 20) + " MiB for " + what +
                ": " + e.message;
    return e;
  }
  bytes_ = bytes;
  return {};
}

PinnedMemory::~PinnedMemory() { reset(); }

void PinnedMemory::reset() {
  if (ptr_) cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

Status PinnedMemory::allocate(size_t bytes, const char* what) {
  reset();
  if (bytes == 0) return {};
  const cudaError_t code = cudaHostAlloc(&ptr_, bytes, cudaHostAllocDefault);
  if (code != cudaSuccess) {
    ptr_ = nullptr;
    Error e = cuda_error(code, "cudaHostAlloc", __FILE__, __LINE__);
    e.message = std::string("cannot allocate ") + std::to_string(bytes >> 10) +
                " KiB of pinned host memory for " + what + ": " + e.message;
    return e;
  }
  bytes_ = bytes;
  return {};
}

}  // namespace tokamak::cuda
