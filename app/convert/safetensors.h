// Reading safetensors files (Hugging Face weights) over mmap:
//
//   u64 header_bytes (little-endian) | JSON header | data
//   header: { "<name>": {"dtype": "BF16", "shape": [out, in],
//                        "data_offsets": [begin, end]},   // from the data start
//             "__metadata__": {...} }
//
// A model may be one model.safetensors or shards listed by
// model.safetensors.index.json ({"weight_map": {"<name>": "<shard file>"}}).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "convert/mapped_file.h"
#include "core/result.h"

namespace tokamak {

enum class SafeDtype { F32, F16, BF16 };

struct SafeTensor {
  std::string name;
  SafeDtype dtype = SafeDtype::F32;
  std::string dtype_name;      // as in the file, for messages
  std::vector<int64_t> shape;  // HF order: shape[0] = rows (out features)
  const uint8_t* data = nullptr;
  const MappedFile* file = nullptr;

  int64_t num_values() const;
  // Converts values [first, first + count) to f32.
  void read_f32(int64_t first, int64_t count, float* dst) const;
};

// All tensors of a model folder (one file or shards), mapped.
class SafetensorsSet {
 public:
  // Opens <dir>/model.safetensors.index.json's shards, else
  // <dir>/model.safetensors, else every *.safetensors in dir except
  // consolidated*.safetensors (Mistral's duplicate in its own naming). Fails naming the file and
  // the tensor for a bad header, an unsupported dtype (F32, F16, BF16 only) or data outside the
  // file.
  static Result<SafetensorsSet> open_folder(const std::string& dir);
  // One file (tests).
  static Result<SafetensorsSet> open_file(const std::string& path);

  const SafeTensor* find(const std::string& name) const;
  const std::map<std::string, SafeTensor>& tensors() const { return tensors_; }

 private:
  Status add_file(const std::string& path);
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, SafeTensor> tensors_;
};

}  // namespace tokamak
