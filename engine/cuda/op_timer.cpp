#include "cuda/op_timer.h"

#include "cuda/cuda_check.h"

namespace tokamak::cuda {

const char* OpTimer::name(int op) {
  static const char* const names[kNumOps] = {"embedding", "norm",        "gemm",       "rope+kv",
                                             "attention", "elementwise", "classifier", "sampling"};
  return op >= 0 && op < kNumOps ? names[op] : "?";
}

OpTimer::~OpTimer() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
}

Status OpTimer::enable(bool on) {
  enabled_ = on;
  totals_.fill(0.0);
  used_ = 0;
  while (on && events_.size() < kMaxEvents) {
    cudaEvent_t e = nullptr;
    TK_CUDA_TRY(cudaEventCreate(&e));
    events_.push_back(e);
  }
  ops_.assign(kMaxEvents, 0);
  return {};
}

Status OpTimer::start(cudaStream_t stream) {
  used_ = 0;
  if (!enabled_) return {};
  TK_CUDA_TRY(cudaEventRecord(events_[used_++], stream));
  return {};
}

Status OpTimer::mark(cudaStream_t stream, Op op) {
  if (!enabled_ || used_ == 0 || used_ >= events_.size()) return {};
  ops_[used_] = op;
  TK_CUDA_TRY(cudaEventRecord(events_[used_++], stream));
  return {};
}

Status OpTimer::collect() {
  for (size_t i = 1; enabled_ && i < used_; ++i) {
    float ms = 0.0f;
    TK_CUDA_TRY(cudaEventElapsedTime(&ms, events_[i - 1], events_[i]));
    totals_[ops_[i]] += ms;
  }
  used_ = 0;
  return {};
}

std::vector<std::pair<std::string, double>> OpTimer::totals_ms() const {
  std::vector<std::pair<std::string, double>> out;
  for (int op = 0; op < kNumOps; ++op) out.emplace_back(name(op), totals_[op]);
  return out;
}

}  // namespace tokamak::cuda
