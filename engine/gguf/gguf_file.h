// Reading GGUF files (versions 2 and 3) over mmap.
//
//   magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count  x { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 dims[n_dims] | u32 type | u64 offset }
//   padding to general.alignment (default 32)
//   data section: tensor data at data_start + offset, each offset aligned
//
// (strings are u64 length + bytes; arrays are u32 elem_type + u64 count + items)
//
// open() validates everything before returning: a File that exists is safe to
// read. Errors name the file and what is wrong, with the numbers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/tensor_type.h"
#include "gguf/gguf_value.h"

namespace tokamak::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kDefaultAlignment = 32;

struct TensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // dims[0] varies fastest (a row has dims[0] values)
  TensorType type = TensorType::F32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t size_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  int64_t num_values() const;
  int64_t row_length() const { return dims.empty() ? 1 : dims[0]; }
  int64_t num_rows() const;  // product of dims[1..]
};

class File {
 public:
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Maps and validates a file.
  static Result<std::unique_ptr<File>> open(const std::string& path);
  // Validates a buffer the caller keeps alive (fuzzing, tests). `name` is
  // used in messages.
  static Result<std::unique_ptr<File>> from_memory(std::span<const uint8_t> bytes,
                                                   std::string name = "<memory>");

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section
  std::span<const uint8_t> bytes() const { return bytes_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;

  // Typed look-ups. get_* fail with a message naming the key when it is
  // missing or of the wrong type; *_or return the fallback when missing and
  // fail only on a wrong type.
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
  Result<double> get_float_or(std::string_view key, double fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;
  Result<std::string> get_string_or(std::string_view key, std::string fallback) const;
  // Array of the given element type (error names the key and actual type).
  Result<const Array*> get_array(std::string_view key, ValueType elem_type) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  friend class Parser;

  std::string path_;
  std::span<const uint8_t> bytes_;
  void* map_ = nullptr;  // owned mapping, when opened from a path
  size_t map_size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
  // Name -> index; the views point into metadata_ / tensors_, which never
  // change after open().
  std::unordered_map<std::string_view, size_t> metadata_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace tokamak::gguf
