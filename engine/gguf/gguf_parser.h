// Internal to the GGUF layer: reads and validates the bytes of a GGUF file
// (v2 or v3) into a File. Nothing is allocated from a count in the file
// before the count is checked against the bytes that remain.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_value.h"

namespace tokamak::gguf {

// Arrays nested deeper than this are refused (bounds the parser's recursion).
constexpr int kMaxArrayDepth = 64;
// At most this many dimensions per tensor (as ggml's GGML_MAX_DIMS).
constexpr uint32_t kMaxDims = 4;

class Parser {
 public:
  // file.path_ and file.bytes_ are set; fills in everything else.
  static Status parse(File& file);

 private:
  explicit Parser(File& file) : file_(file), bytes_(file.bytes_) {}

  Status run();
  Status read_header(uint64_t* num_tensors, uint64_t* num_kvs);
  Status read_metadata(uint64_t num_kvs);
  Status read_alignment();
  Status read_tensor_infos(uint64_t num_tensors);
  Status read_tensor_info(uint64_t index, TensorInfo* info, uint32_t* raw_type);
  Status check_tensor(TensorInfo& info, uint32_t raw_type);
  Status check_duplicate_tensors();

  Result<Value> read_value(uint32_t raw_type, int depth);
  Result<Value> read_array(int depth);
  Status read_string_items(uint64_t count, std::vector<Value>& items);
  void read_scalar_items(ValueType elem, uint64_t count, std::vector<Value>& items);
  // `describe()` names the string in messages; it is called only on failure.
  template <class Describe>
  Result<std::string> read_string(const Describe& describe);

  uint64_t remaining() const { return bytes_.size() - pos_; }
  template <class T>
  bool take(T* out);
  Error truncated(std::string_view what, uint64_t need_bytes) const;
  Error bad(std::string message) const;
  // "key general.name" or "item 17 of key tokenizer.ggml.tokens".
  std::string describe_value() const;

  File& file_;
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
  std::string_view key_;              // key being read, for messages
  std::vector<uint64_t> index_path_;  // position inside nested arrays
};

}  // namespace tokamak::gguf
