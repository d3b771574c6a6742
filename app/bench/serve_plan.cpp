#include "bench/serve_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tokamak {
namespace {

Result<WorkloadSpec> workload_of(const ServePlanInput& in) {
  if (in.workload == "lmi") {
    if (!(in.lmi_scale > 0.0 && in.lmi_scale <= 1.0)) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("lmi scale {}: expected 0 < scale <= 1", in.lmi_scale));
    }
    return parse_workload(fmt::format("lmi:{}", in.lmi_scale));
  }
  if (in.workload == "fixed") {
    return parse_workload(fmt::format("fixed:{}:{}", in.max_prompt_tokens, in.max_output_tokens));
  }
  if (in.workload == "random") {
    return parse_workload(fmt::format("random:{}-{}:{}-{}", in.min_prompt_tokens,
                                      in.max_prompt_tokens, in.min_output_tokens,
                                      in.max_output_tokens));
  }
  return make_error(ErrorCode::InvalidArgument,
                    fmt::format("workload '{}': expected fixed, random or lmi", in.workload));
}

}  // namespace

int32_t ServePlan::kv_blocks(int32_t block_size) const {
  const int32_t per_seq = (longest_request + block_size - 1) / block_size;
  return std::max(1, most_running) * per_seq;
}

Result<ServePlan> make_serve_plan(const ServePlanInput& in) {
  ServePlan plan;
  TK_ASSIGN(plan.workload, workload_of(in));
  if (in.policies.empty()) {
    return make_error(ErrorCode::InvalidArgument, "no batching policy chosen: pick at least one");
  }
  std::vector<BatchPolicy> policies;
  for (const std::string& p : in.policies) {
    TK_ASSIGN(const BatchPolicy policy, parse_policy(p));
    policies.push_back(policy);
  }
  if (in.rate < 0.0) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("rate {}: expected >= 0 requests/s", in.rate));
  }
  const bool batch_sweep = in.sweep == "batch";
  const bool prompt_sweep = in.sweep == "prompt";
  if (!batch_sweep && !prompt_sweep && in.sweep != "concurrency") {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("sweep '{}': expected concurrency, batch or prompt", in.sweep));
  }
  if (prompt_sweep && plan.workload.kind == WorkloadSpec::Kind::Lmi) {
    return make_error(ErrorCode::InvalidArgument,
                      "a prompt-length sweep needs the fixed or random workload, not lmi");
  }
  if (in.sweep_values.empty()) {
    return make_error(ErrorCode::InvalidArgument, fmt::format("no {} values to sweep", in.sweep));
  }
  for (int32_t v : in.sweep_values) {
    const int32_t most = prompt_sweep ? 131072 : 4096;
    if (v < 1 || v > most) {
      return make_error(ErrorCode::InvalidArgument,
                        fmt::format("{} {}: expected 1 to {}", in.sweep, v, most));
    }
  }
  if (in.max_sequences < 1) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("max sequences {}: expected >= 1", in.max_sequences));
  }
  const WorkloadSpec w = plan.workload;
  const bool lmi = w.kind == WorkloadSpec::Kind::Lmi;
  plan.longest_request = longest_request_tokens(w);
  if (prompt_sweep) {
    const int32_t longest = *std::max_element(in.sweep_values.begin(), in.sweep_values.end());
    plan.longest_request = longest + w.max_output_tokens;
  }
  const int32_t n =
      in.num_requests > 0
          ? in.num_requests
          : (lmi ? std::max<int32_t>(1, std::lround(kLmi.num_requests * w.scale)) : 32);
  const bool open_loop = in.rate > 0.0;
  // Concurrency sweep under Poisson arrivals has nothing to vary: one point per policy.
  std::vector<int32_t> values = in.sweep_values;
  if (open_loop && !batch_sweep && !prompt_sweep) values = {0};
  for (int32_t v : values) {
    for (BatchPolicy p : policies) {
      ServePoint point;
      point.policy = p;
      point.workload = w;
      if (prompt_sweep) {  // every prompt exactly v tokens
        point.workload.min_prompt_tokens = v;
        point.workload.max_prompt_tokens = v;
        plan.workload = point.workload;
      }
      point.num_requests = n;
      const bool fixed_clients = batch_sweep || prompt_sweep;
      point.concurrency = open_loop ? 0 : (fixed_clients ? in.concurrency : v);
      point.rate = in.rate;
      point.batch_size = batch_sweep ? v : in.batch_size;
      point.max_sequences = in.max_sequences;
      if (!open_loop && point.concurrency < 1) {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("concurrency {}: expected >= 1", point.concurrency));
      }
      plan.most_running =
          std::max(plan.most_running,
                   open_loop ? in.max_sequences : std::min(point.concurrency, in.max_sequences));
      plan.points.push_back(point);
    }
  }
  return plan;
}

}  // namespace tokamak
