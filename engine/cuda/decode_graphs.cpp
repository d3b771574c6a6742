#include "cuda/decode_graphs.h"

#include <algorithm>
#include <bit>

namespace tokamak::cuda {

DecodeGraphs::DecodeGraphs(int32_t max_step_tokens) {
  const int32_t cap = std::min(kMaxBucket, std::max(1, max_step_tokens));
  largest_ = std::bit_floor(static_cast<uint32_t>(cap));
  execs_.assign(std::countr_zero(static_cast<uint32_t>(largest_)) + 1, nullptr);
}

DecodeGraphs::~DecodeGraphs() { clear(); }

int32_t DecodeGraphs::bucket_for(int64_t n) const {
  if (n <= 0 || n > largest_) return 0;
  return static_cast<int32_t>(std::bit_ceil(static_cast<uint32_t>(n)));
}

int32_t DecodeGraphs::num_captured() const {
  return static_cast<int32_t>(
      std::count_if(execs_.begin(), execs_.end(), [](cudaGraphExec_t e) { return e != nullptr; }));
}

cudaGraphExec_t& DecodeGraphs::slot(int32_t bucket) {
  return execs_[std::countr_zero(static_cast<uint32_t>(bucket))];
}

void DecodeGraphs::clear() {
  for (cudaGraphExec_t& e : execs_) {
    if (e) cudaGraphExecDestroy(e);
    e = nullptr;
  }
}

Status DecodeGraphs::begin_capture(cudaStream_t stream) {
  TK_CUDA_TRY(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  return {};
}

Status DecodeGraphs::end_capture(cudaStream_t stream, const Status& recorded,
                                 cudaGraphExec_t* exec) {
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (!recorded.ok()) {
    if (graph) cudaGraphDestroy(graph);
    return recorded;
  }
  if (ended != cudaSuccess)
    return cuda_error(ended, "cudaStreamEndCapture(stream, &graph)", __FILE__, __LINE__);
  const cudaError_t made = cudaGraphInstantiate(exec, graph, 0);
  cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    *exec = nullptr;
    return cuda_error(made, "cudaGraphInstantiate(exec, graph, 0)", __FILE__, __LINE__);
  }
  return {};
}

}  // namespace tokamak::cuda
