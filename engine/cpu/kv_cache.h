// The CPU KV pool: fp32 blocks, per layer
//
//   K[num_blocks][block_size][num_kv_heads][head_dim]
//   V[num_blocks][block_size][num_kv_heads][head_dim]
//
// Allocated once at backend construction. The runtime owns which blocks a
// sequence uses (its block table); this class only stores values.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.h"

namespace tokamak::cpu {

class KvCache {
 public:
  KvCache() = default;
  // Precondition: every count positive. Throws std::bad_alloc when the
  // memory is not there (the backend factory turns that into an error).
  KvCache(int32_t num_layers, int32_t kv_dim, KvCacheConfig config);

  const KvCacheConfig& config() const { return config_; }
  int32_t kv_dim() const { return kv_dim_; }
  size_t bytes() const {
    return 2 * k_.size() * static_cast<size_t>(layer_values_) * sizeof(float);
  }

  // Base of one layer's pool, (num_blocks, block_size, kv_dim).
  float* k(int32_t layer) { return k_[layer].data(); }
  float* v(int32_t layer) { return v_[layer].data(); }
  const float* k(int32_t layer) const { return k_[layer].data(); }
  const float* v(int32_t layer) const { return v_[layer].data(); }

  // Offset, in floats, of (block, slot) within a layer's pool.
  int64_t offset(int32_t block, int32_t slot) const {
    return (static_cast<int64_t>(block) * config_.block_size + slot) * kv_dim_;
  }

 private:
  KvCacheConfig config_;
  int32_t kv_dim_ = 0;
  int64_t layer_values_ = 0;
  std::vector<std::vector<float>> k_, v_;  // (num_layers) pools
};

}  // namespace tokamak::cpu
