// Which device runs the model: the user's preference (auto | cpu | cuda),
// what this build has (the CUDA backend only with TOKAMAK_CUDA) and what this
// machine has (CUDA devices), decided in one place, with the reason in words
// (the app's Models page, tokamak-cli's --device, bench serve), and the
// backend it names.
//
//   preference  built with CUDA  devices  -> device  reason
//   cpu         any              any         cpu     "CPU, as chosen"
//   auto|cuda   no               -           cpu     "this build has no CUDA backend ..."
//   auto|cuda   yes              0           cpu     "no CUDA device found ..."
//   auto|cuda   yes              >= 1        cuda    "CUDA device 0"
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"
#include "core/result.h"

namespace tokamak {

class Model;

struct DeviceDecision {
  std::string device;    // "cpu" | "cuda": what the backend will be
  std::string reason;    // why, for the user
  bool as_asked = true;  // false when "cuda" was asked and cannot be had
  // Why CUDA cannot be had ("" when it can or was not considered): the
  // reason without its "CPU: ".
  std::string cuda_problem;
};

// What the backend holds; 0 (or less) takes the backend's default.
struct BackendSizes {
  int32_t num_kv_blocks = 0;  // the KV pool, in blocks
  int32_t max_step_tokens = 0;
  int32_t num_threads = 0;  // CPU threads (0: all)
};

// The decision for `preference` ("auto", "cpu" or "cuda"; anything else is
// taken as "auto").
DeviceDecision decide_device(const std::string& preference, bool built_with_cuda,
                             int num_cuda_devices);
// The same for this build on this machine.
DeviceDecision decide_device(const std::string& preference);

bool built_with_cuda();
// 0 without CUDA in the build, a device or a driver (counted once per process).
int num_cuda_devices();

// The backend `decision` names, of `sizes`.
Result<std::unique_ptr<Backend>> make_backend(const DeviceDecision& decision,
                                              std::shared_ptr<const Model> model,
                                              const BackendSizes& sizes = {});

}  // namespace tokamak
