// What a person wants to know about a model file before loading it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/result.h"
#include "model/model_spec.h"

namespace tokamak {
namespace gguf {
class File;
}

struct ModelInfo {
  std::string path;
  uint64_t file_size_bytes = 0;
  uint32_t gguf_version = 0;
  std::string arch_name;
  std::string name;
  bool architecture_supported = false;
  ModelSpec spec;                              // valid when architecture_supported
  int64_t num_params = 0;                      // sum of tensor element counts
  std::map<std::string, int64_t> type_counts;  // tensor type name -> number of tensors
  std::map<std::string, int64_t> type_params;  // tensor type name -> number of values
  std::string unsupported_types;               // "Q5_K, IQ2_XS" when some are not supported
  std::string tokenizer_model;                 // "llama", "gpt2"
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  bool has_chat_template = false;
  uint64_t weights_bytes = 0;                  // bytes of tensor data

  // Bytes of the KV cache for `context` tokens at `element_bytes` per value
  // (4 on the CPU, 2 for fp16 on the GPU).
  uint64_t kv_cache_bytes(int64_t context, int64_t element_bytes) const;

  // Works on any valid GGUF file, even one whose architecture or types we do
  // not run (those are reported, not refused).
  static Result<ModelInfo> describe(const gguf::File& file);
};

}  // namespace tokamak
