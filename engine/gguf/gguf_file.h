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
// read. Errors name the file and what is wrong, with the numbers. Every
// message starts with "<path>: ", e.g. (code BadFormat unless noted):
//   not a GGUF file: the first 4 bytes are 7f 45 4c 46 (".ELF"), expected 47 47 55 46 ("GGUF")
//   unsupported GGUF version 1 (GGUF v1 used 32-bit counts ...)          [Unsupported]
//   big-endian GGUF not supported (the version field holds version 3 byte-swapped); ...
//   file truncated while reading the u32 value of key llama.block_count at offset 612:
//     need 4 bytes, only 2 remain (file is 614 bytes)
//   the string value of key general.name has length 1000000 at offset 56, past the end of
//     the file (only 40 bytes remain)
//   array key tokenizer.ggml.tokens has length 1152921504606846976 (string items) at offset
//     88, past the end of the file (only 60 bytes remain, each item needs at least 8)
//   metadata count N is impossible: ...      tensor count N is impossible: ...
//   duplicate metadata key K (entries 2 and 7)    duplicate tensor name T (tensors 3 and 9)
//   key K has unknown value type 13 at offset O (known types are 0 to 12)
//   item [0][0]... of key K has arrays nested more than 64 deep at offset O
//   general.alignment has type u64, expected u32 / is 48, expected a nonzero power of two
//   tensor T has 5 dimensions, at most 4 are supported
//   tensor T has dimension 1 of size 0 (shape [64, 0]); every dimension must be at least 1
//   tensor T has shape [...] whose number of values overflows int64
//   tensor T has unknown type 1234
//   tensor T of type Q4_K has rows of 100 values (shape [100, 4]), not a multiple of the
//     block size 256
//   tensor T has data offset 132, not a multiple of the alignment 32
//   tensor T extends 4096 bytes past the end of the file (16384 bytes at offset 0 of the
//     data section, which starts at 96; file is 12384 bytes)
// Types ggml knows but the engine does not compute with (Q5_K, IQ*) load fine:
// refusing them is the model layer's job.
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
  // fail only on a wrong type. Messages:
  //   "<path>: key K not found"                                      [NotFound]
  //   "<path>: key K has type string, expected an integer"           [BadFormat]
  //   (expected a number / a string / a bool / an array of string; arrays show
  //   as "array of i32"); get_int of a u64 above INT64_MAX: "key K has value V,
  //   which does not fit in a signed 64-bit integer". Integers are accepted
  //   where a float is asked for.
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
