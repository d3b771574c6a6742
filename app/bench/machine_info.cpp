#include "bench/machine_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#ifdef TOKAMAK_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef TOKAMAK_GIT_COMMIT
#define TOKAMAK_GIT_COMMIT ""
#endif

namespace tokamak {
namespace {

std::string trim(std::string s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The value after "key:" on the first line of `path` that starts with key.
std::string proc_field(const char* path, const std::string& key) {
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(key, 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return trim(line.substr(colon + 1));
    }
  }
  return "";
}

std::string gpu_name() {
#ifdef TOKAMAK_HAVE_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return "";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
  return prop.name;
#else
  return "";
#endif
}

}  // namespace

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu_model = proc_field("/proc/cpuinfo", "model name");
  m.num_cpus = static_cast<int32_t>(std::thread::hardware_concurrency());
  m.gpu_name = gpu_name();
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m.hostname = host;
  utsname u{};
  if (uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  return m;
}

std::string engine_version() { return TOKAMAK_VERSION; }

std::string git_commit() {
  if (const char* c = std::getenv("TOKAMAK_COMMIT"); c && *c) return c;
  return TOKAMAK_GIT_COMMIT;
}

int64_t host_peak_rss_bytes() {
  // "VmHWM:    123456 kB"
  const std::string v = proc_field("/proc/self/status", "VmHWM");
  return v.empty() ? 0 : std::atoll(v.c_str()) * 1024;
}

int64_t cuda_used_memory_bytes() {
#ifdef TOKAMAK_HAVE_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return 0;
  return static_cast<int64_t>(total_bytes - free_bytes);
#else
  return 0;
#endif
}

}  // namespace tokamak
