#include "device/device_choice.h"

#include <fmt/format.h>

#include "cpu/cpu_backend.h"
#ifdef TOKAMAK_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace tokamak {

DeviceDecision decide_device(const std::string& preference, bool with_cuda, int num_devices) {
  if (preference == "cpu") return {"cpu", "CPU, as chosen", true, ""};
  const bool asked_cuda = preference == "cuda";
  auto on_cpu = [&](std::string problem) {
    return DeviceDecision{"cpu", "CPU: " + problem, !asked_cuda, problem};
  };
  if (!with_cuda) {
    return on_cpu(
        "this build has no CUDA backend (it was built without TOKAMAK_CUDA; a build with CUDA "
        "runs models on an NVIDIA GPU)");
  }
  if (num_devices <= 0)
    return on_cpu("no CUDA device was found (no NVIDIA GPU, or its driver is not loaded)");
  return {"cuda",
          num_devices == 1 ? std::string("CUDA device 0")
                           : fmt::format("CUDA device 0 (of {})", num_devices),
          true, ""};
}

bool built_with_cuda() {
#ifdef TOKAMAK_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int num_cuda_devices() {
#ifdef TOKAMAK_HAVE_CUDA
  static const int count = cuda_device_count();  // asked once: the driver's start is slow
  return count;
#else
  return 0;
#endif
}

DeviceDecision decide_device(const std::string& preference) {
  return decide_device(preference, built_with_cuda(), num_cuda_devices());
}

Result<std::unique_ptr<Backend>> make_backend(const DeviceDecision& decision,
                                              std::shared_ptr<const Model> model,
                                              const BackendSizes& sizes) {
  CpuBackendOptions bo;
  if (sizes.num_kv_blocks > 0) bo.kv.num_blocks = sizes.num_kv_blocks;
  if (sizes.max_step_tokens > 0) bo.max_step_tokens = sizes.max_step_tokens;
  bo.num_threads = sizes.num_threads;
#ifdef TOKAMAK_HAVE_CUDA
  if (decision.device == "cuda") {
    CudaBackendOptions co;
    co.kv = bo.kv;
    co.max_step_tokens = bo.max_step_tokens;
    return make_cuda_backend(std::move(model), co);
  }
#endif
  if (decision.device != "cpu") {
    return make_error(ErrorCode::Unsupported,
                      fmt::format("device '{}' is not in this build (cpu{})", decision.device,
                                  built_with_cuda() ? ", cuda" : ""));
  }
  return make_cpu_backend(std::move(model), bo);
}

}  // namespace tokamak
