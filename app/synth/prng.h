// Fast seeded random numbers for synthetic weights: splitmix64 to derive
// seeds, xoshiro256** for the streams (Blackman & Vigna). Normal-ish values
// come from the Irwin-Hall sum of four 16-bit uniforms of one 64-bit draw
// (mean 0, variance 1 after scaling): cheap, deterministic, bell-shaped.
#pragma once

#include <cstdint>
#include <string_view>

namespace tokamak::synth {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// FNV-1a, to give every tensor name its own stream.
inline uint64_t hash_name(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (auto& s : s_) s = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Approximately N(0, 1): sum of four uniform 16-bit draws, centred and scaled.
  float normal() {
    const uint64_t r = next();
    const uint32_t sum = static_cast<uint32_t>(r & 0xffff) +
                         static_cast<uint32_t>((r >> 16) & 0xffff) +
                         static_cast<uint32_t>((r >> 32) & 0xffff) + static_cast<uint32_t>(r >> 48);
    // Sum of 4 U(0, 65536): mean 131070, variance 4 * 65536^2 / 12.
    constexpr float kMean = 2.0f * 65535.0f;
    constexpr float kInvStd = 1.0f / 37837.23f;  // 1 / (65536 * sqrt(4 / 12))
    return (static_cast<float>(sum) - kMean) * kInvStd;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// The seed of chunk `chunk` of tensor `name` for a run seeded with `seed`.
inline uint64_t stream_seed(uint64_t seed, std::string_view name, int64_t chunk) {
  uint64_t s = seed ^ hash_name(name);
  s ^= splitmix64(s) + static_cast<uint64_t>(chunk) * 0xd1b54a32d192ed03ull;
  return splitmix64(s);
}

}  // namespace tokamak::synth
