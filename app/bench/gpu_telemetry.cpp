#include "bench/gpu_telemetry.h"

#include <dlfcn.h>
#include <fmt/format.h>

namespace tokamak {
namespace {

constexpr int kNvmlSuccess = 0;
constexpr int kNvmlClockSm = 1;
constexpr const char* kNvmlLibrary = "libnvidia-ml.so.1";

template <typename Fn>
bool bind(void* lib, const char* symbol, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(lib, symbol));
  return fn != nullptr;
}

}  // namespace

Result<std::shared_ptr<GpuTelemetry>> GpuTelemetry::open(int32_t index) {
  void* lib = dlopen(kNvmlLibrary, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return make_error(ErrorCode::Unsupported,
                      fmt::format("no GPU telemetry: {} cannot be loaded ({}; it comes with the "
                                  "NVIDIA driver)",
                                  kNvmlLibrary, why ? why : "not found"));
  }
  NvmlApi api;
  const char* missing = nullptr;
  if (!bind(lib, "nvmlInit_v2", api.init)) missing = "nvmlInit_v2";
  if (!bind(lib, "nvmlShutdown", api.shutdown)) missing = "nvmlShutdown";
  if (!bind(lib, "nvmlDeviceGetHandleByIndex_v2", api.device_by_index))
    missing = "nvmlDeviceGetHandleByIndex_v2";
  if (missing != nullptr) {
    dlclose(lib);
    return make_error(ErrorCode::Unsupported,
                      fmt::format("no GPU telemetry: {} lacks {}", kNvmlLibrary, missing));
  }
  // Optional figures: a missing entry point leaves that figure absent.
  bind(lib, "nvmlDeviceGetName", api.device_name);
  bind(lib, "nvmlDeviceGetUtilizationRates", api.utilization);
  bind(lib, "nvmlDeviceGetMemoryInfo", api.memory);
  bind(lib, "nvmlDeviceGetClockInfo", api.clock);
  bind(lib, "nvmlDeviceGetPowerUsage", api.power_mw);
  bind(lib, "nvmlDeviceGetTotalEnergyConsumption", api.energy_mj);
  auto t = open_with(api, index, lib);
  if (!t.ok()) dlclose(lib);
  return t;
}

Result<std::shared_ptr<GpuTelemetry>> GpuTelemetry::open_with(const NvmlApi& api, int32_t index,
                                                              void* library) {
  if (api.init == nullptr || api.device_by_index == nullptr) {
    return make_error(ErrorCode::InvalidArgument, "NVML table without init or device lookup");
  }
  if (const int rc = api.init(); rc != kNvmlSuccess) {
    return make_error(ErrorCode::Unsupported,
                      fmt::format("no GPU telemetry: nvmlInit failed (NVML error {}; is the "
                                  "NVIDIA driver loaded?)",
                                  rc));
  }
  NvmlApi::Device device = nullptr;
  if (const int rc = api.device_by_index(static_cast<unsigned int>(index), &device);
      rc != kNvmlSuccess) {
    if (api.shutdown) api.shutdown();
    return make_error(
        ErrorCode::Unsupported,
        fmt::format("no GPU telemetry: NVML has no GPU {} (NVML error {})", index, rc));
  }
  std::shared_ptr<GpuTelemetry> t(new GpuTelemetry());
  t->api_ = api;
  t->device_ = device;
  t->library_ = library;
  t->index_ = index;
  if (api.device_name) {
    char name[96] = {};
    if (api.device_name(device, name, sizeof(name)) == kNvmlSuccess) t->name_ = name;
  }
  return t;
}

GpuTelemetry::~GpuTelemetry() {
  if (api_.shutdown) api_.shutdown();
  if (library_ != nullptr) dlclose(library_);
}

GpuSample GpuTelemetry::sample() const {
  GpuSample s;
  if (api_.utilization) {
    NvmlApi::Utilization u{};
    if (api_.utilization(device_, &u) == kNvmlSuccess) s.utilization_percent = u.gpu;
  }
  if (api_.memory) {
    NvmlApi::Memory m{};
    if (api_.memory(device_, &m) == kNvmlSuccess) {
      s.memory_used_bytes = static_cast<int64_t>(m.used);
      s.memory_total_bytes = static_cast<int64_t>(m.total);
    }
  }
  if (api_.clock) {
    unsigned int mhz = 0;
    if (api_.clock(device_, kNvmlClockSm, &mhz) == kNvmlSuccess) s.sm_clock_mhz = mhz;
  }
  if (api_.power_mw) {
    unsigned int mw = 0;
    if (api_.power_mw(device_, &mw) == kNvmlSuccess) s.power_w = mw / 1000.0;
  }
  if (api_.energy_mj) {
    unsigned long long mj = 0;
    if (api_.energy_mj(device_, &mj) == kNvmlSuccess) s.energy_j = static_cast<double>(mj) / 1000.0;
  }
  return s;
}

}  // namespace tokamak
