// SHA-256 (FIPS 180-4) for fingerprints the store keeps: a model's GGUF
// header, a chat template's text. Not for secrets (no constant-time care).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tokamak {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> bytes);
  void update(std::string_view text);
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();

 private:
  void compress(const uint8_t* block);  // one 64-byte block

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t num_buffered_bytes_ = 0;
  uint64_t num_total_bytes_ = 0;
};

// Lower-case hex of the SHA-256 of `text` (64 characters).
std::string sha256_hex(std::string_view text);
std::string sha256_hex(std::span<const uint8_t> bytes);

}  // namespace tokamak
