#include "cpu/kv_cache.h"

namespace tokamak::cpu {

KvCache::KvCache(int32_t num_layers, int32_t kv_dim, KvCacheConfig config)
    : config_(config), kv_dim_(kv_dim) {
  layer_values_ = static_cast<int64_t>(config.num_blocks) * config.block_size * kv_dim;
  k_.resize(num_layers);
  v_.resize(num_layers);
  for (int32_t l = 0; l < num_layers; ++l) {
    k_[l].assign(layer_values_, 0.0f);
    v_[l].assign(layer_values_, 0.0f);
  }
}

}  // namespace tokamak::cpu
