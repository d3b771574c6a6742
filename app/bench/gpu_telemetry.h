// GpuTelemetry: figures of one NVIDIA GPU from NVML, loaded at run time with
// dlopen("libnvidia-ml.so.1") so that nothing is needed at build time and a
// machine without the driver simply has no telemetry.
//
//   open(index) ─► dlopen + dlsym of the entry points below ─► nvmlInit_v2
//               ─► nvmlDeviceGetHandleByIndex_v2(index) ─► GpuTelemetry
//   sample()    ─► utilisation (%), memory used / total (bytes), SM clock
//                  (MHz), power (W), total energy since the driver loaded (J);
//                  each figure on its own: a call NVML refuses (e.g. power on
//                  a board without a sensor) leaves that figure absent (< 0)
//
// The index is NVML's (it ignores CUDA_VISIBLE_DEVICES). Tests give a table
// of fake entry points (NvmlApi) instead of the library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

namespace tokamak {

// One reading; a figure NVML did not give is < 0 (never a made-up number).
struct GpuSample {
  double utilization_percent = -1.0;  // of the last sample period NVML saw the GPU busy
  int64_t memory_used_bytes = -1;
  int64_t memory_total_bytes = -1;
  double sm_clock_mhz = -1.0;
  double power_w = -1.0;
  double energy_j = -1.0;  // counter since the driver loaded (Volta and newer)
};

// The NVML entry points used, as C function pointers (NVML's own types are
// opaque handles and small structs, mirrored here by layout).
struct NvmlApi {
  using Device = void*;
  struct Utilization {
    unsigned int gpu;
    unsigned int memory;
  };
  struct Memory {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
  };
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*device_by_index)(unsigned int, Device*) = nullptr;
  int (*device_name)(Device, char*, unsigned int) = nullptr;
  int (*utilization)(Device, Utilization*) = nullptr;
  int (*memory)(Device, Memory*) = nullptr;
  int (*clock)(Device, int, unsigned int*) = nullptr;  // clock type 1: SM
  int (*power_mw)(Device, unsigned int*) = nullptr;
  int (*energy_mj)(Device, unsigned long long*) = nullptr;
};

class GpuTelemetry {
 public:
  // NVML's device `index` through libnvidia-ml.so.1. Unsupported, with the
  // reason, when the library, an entry point or the device is missing.
  static Result<std::shared_ptr<GpuTelemetry>> open(int32_t index = 0);
  // The same through `api` (tests; `library` is kept open until destruction,
  // may be null).
  static Result<std::shared_ptr<GpuTelemetry>> open_with(const NvmlApi& api, int32_t index,
                                                         void* library);
  ~GpuTelemetry();
  GpuTelemetry(const GpuTelemetry&) = delete;
  GpuTelemetry& operator=(const GpuTelemetry&) = delete;

  GpuSample sample() const;
  const std::string& name() const { return name_; }
  int32_t index() const { return index_; }

 private:
  GpuTelemetry() = default;
  NvmlApi api_;
  NvmlApi::Device device_ = nullptr;
  void* library_ = nullptr;
  std::string name_;
  int32_t index_ = 0;
};

}  // namespace tokamak
