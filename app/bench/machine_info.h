// What a benchmark record says about where it ran: CPU model, GPU name,
// memory in use, engine version and commit.
#pragma once

#include <cstdint>
#include <string>

namespace tokamak {

struct MachineInfo {
  std::string cpu_model;  // /proc/cpuinfo "model name" ("" when unknown)
  int32_t num_cpus = 0;   // hardware threads
  std::string gpu_name;   // CUDA device 0 in CUDA builds with a device, else ""
  std::string hostname;
  std::string os;  // uname: "Linux 6.1.0 x86_64"
};
MachineInfo machine_info();

// Engine version (TOKAMAK_VERSION) and the git commit: $TOKAMAK_COMMIT, else
// the source tree's HEAD when the build was configured ("" when unknown).
std::string engine_version();
std::string git_commit();

// Peak resident memory of this process (VmHWM), in bytes; 0 when unknown.
int64_t host_peak_rss_bytes();
// Memory in use on CUDA device 0 (total - free), in bytes; 0 without CUDA.
int64_t cuda_used_memory_bytes();

}  // namespace tokamak
