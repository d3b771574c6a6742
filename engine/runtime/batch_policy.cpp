#include "runtime/batch_policy.h"

#include <algorithm>

namespace tokamak {
namespace {

class NonePolicy final : public BatchingPolicy {
 public:
  BatchPolicy kind() const override { return BatchPolicy::None; }
  int32_t num_to_admit(const AdmissionView& v) const override { return v.num_running == 0 ? 1 : 0; }
  bool runs_to_completion() const override { return true; }
};

class StaticPolicy final : public BatchingPolicy {
 public:
  explicit StaticPolicy(int32_t batch_size) : batch_size_(std::max(batch_size, 1)) {}
  BatchPolicy kind() const override { return BatchPolicy::Static; }
  int32_t num_to_admit(const AdmissionView& v) const override {
    return v.num_running == 0 ? batch_size_ : 0;
  }
  bool runs_to_completion() const override { return true; }

 private:
  int32_t batch_size_;
};

class DynamicPolicy final : public BatchingPolicy {
 public:
  DynamicPolicy(int32_t batch_size, double max_delay_ms)
      : batch_size_(std::max(batch_size, 1)), max_delay_ms_(std::max(max_delay_ms, 0.0)) {}
  BatchPolicy kind() const override { return BatchPolicy::Dynamic; }
  int32_t num_to_admit(const AdmissionView& v) const override {
    if (v.num_running > 0 || v.num_waiting == 0) return 0;
    if (v.num_waiting >= batch_size_ || v.oldest_wait_ms >= max_delay_ms_) return batch_size_;
    return 0;
  }
  double admit_in_ms(const AdmissionView& v) const override {
    if (v.num_running > 0 || v.num_waiting == 0) return -1.0;
    return std::max(max_delay_ms_ - v.oldest_wait_ms, 0.0);
  }
  bool runs_to_completion() const override { return true; }

 private:
  int32_t batch_size_;
  double max_delay_ms_;
};

class ContinuousPolicy final : public BatchingPolicy {
 public:
  BatchPolicy kind() const override { return BatchPolicy::Continuous; }
  int32_t num_to_admit(const AdmissionView& v) const override { return v.num_waiting; }
};

class PagedPolicy final : public BatchingPolicy {
 public:
  explicit PagedPolicy(bool prefix_caching) : prefix_caching_(prefix_caching) {}
  BatchPolicy kind() const override { return BatchPolicy::Paged; }
  int32_t num_to_admit(const AdmissionView& v) const override { return v.num_waiting; }
  bool reserves_full_length() const override { return false; }
  bool prefix_caching() const override { return prefix_caching_; }

 private:
  bool prefix_caching_;
};

}  // namespace

std::unique_ptr<BatchingPolicy> make_batching_policy(const EngineOptions& o) {
  switch (o.policy) {
    case BatchPolicy::None:
      return std::make_unique<NonePolicy>();
    case BatchPolicy::Static:
      return std::make_unique<StaticPolicy>(o.batch_size);
    case BatchPolicy::Dynamic:
      return std::make_unique<DynamicPolicy>(o.batch_size, o.max_batch_delay_ms);
    case BatchPolicy::Continuous:
      return std::make_unique<ContinuousPolicy>();
    case BatchPolicy::Paged:
      break;
  }
  return std::make_unique<PagedPolicy>(o.prefix_caching);
}

}  // namespace tokamak
