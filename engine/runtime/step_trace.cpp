#include "runtime/step_trace.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace tokamak {
namespace {

std::atomic<int> g_num_traces{0};

}  // namespace

StepTrace::StepTrace() {
  const char* prefix = std::getenv("TOKAMAK_ENGINE_TRACE");
  if (prefix == nullptr || *prefix == '\0') return;
  path_ = std::string(prefix) + "." + std::to_string(g_num_traces++) + ".csv";
  records_.reserve(1 << 16);
}

StepTrace::~StepTrace() {
  if (!on()) return;
  std::FILE* f = std::fopen(path_.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "engine trace: cannot write %s\n", path_.c_str());
    return;
  }
  std::fprintf(f,
               "start_us,gap_us,schedule_us,forward_us,post_us,tokens,sequences,decodes,sampled,"
               "running,waiting\n");
  for (const StepRecord& r : records_)
    std::fprintf(f, "%.1f,%.1f,%.1f,%.1f,%.1f,%d,%d,%d,%d,%d,%d\n", r.start_us, r.gap_us,
                 r.schedule_us, r.forward_us, r.post_us, r.num_tokens, r.num_sequences,
                 r.num_decodes, r.num_sampled, r.num_running, r.num_waiting);
  std::fclose(f);
}

}  // namespace tokamak
