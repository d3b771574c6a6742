#include "store/model_fingerprint.h"

#include "store/sha256.h"

namespace tokamak {

Result<ModelFingerprint> fingerprint_model(const std::string& gguf_path) {
  TK_ASSIGN(const std::unique_ptr<gguf::File> file, gguf::File::open(gguf_path));
  return fingerprint_model(*file, gguf_path);
}

ModelFingerprint fingerprint_model(const gguf::File& file, const std::string& gguf_path) {
  ModelFingerprint out;
  out.path = gguf_path;
  out.size_bytes = static_cast<int64_t>(file.file_size());
  out.header_sha256 = sha256_hex(file.bytes().first(file.data_offset()));
  return out;
}

}  // namespace tokamak
