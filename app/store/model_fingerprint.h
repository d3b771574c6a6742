// ModelFingerprint: what ties a saved answer to the model file that made it.
// The header hash covers the GGUF bytes before the tensor data (magic,
// version, counts, every metadata key and value, every tensor's name, shape,
// type and offset): a renamed or copied file keeps it, a re-quantized or
// re-converted one does not. Reading it costs the header, not the weights.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "gguf/gguf_file.h"

namespace tokamak {

struct ModelFingerprint {
  std::string path;
  int64_t size_bytes = 0;
  std::string header_sha256;  // hex of SHA-256 over bytes [0, data section start)
};

// Opens and validates the GGUF file (errors as gguf::File::open gives them).
Result<ModelFingerprint> fingerprint_model(const std::string& gguf_path);
// The same for a file already open (a loaded Model's file()): no second read.
ModelFingerprint fingerprint_model(const gguf::File& file, const std::string& gguf_path);

}  // namespace tokamak
