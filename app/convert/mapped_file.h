// A read-only memory mapping of a whole file (checkpoints, safetensors
// shards): tensors are read straight from the page cache, so converting a
// 15 GB model never holds it in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"

namespace tokamak {

class MappedFile {
 public:
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Fails with NotFound / IoError naming the path.
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_bytes_}; }
  uint64_t size_bytes() const { return size_bytes_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_bytes_ = 0;
};

}  // namespace tokamak
