// gpu_batch_bench MODEL: where the time of a batched step goes on the CUDA
// backend, without the engine: steps built by hand over fresh block tables
// (the KV pool holds zeros; attention reads as many bytes either way).
//   decode B @ P:  B sequences, one token each at position P (graphs on, as
//                  the engine runs them; then graphs off with op timing)
//   mixed B + C:   B decodes at position 192 plus one C-token prompt chunk
//                  (the steps of a serving run where a request joins)
// One line per case: median step ms (of 10, after 3 warm-ups), output
// tok/s = B / step, and device ms by kind of op (graphs off, mean of 3).
// MODEL may be synth:PRESET:MIX as for gpu_decode_bench (kept in the temp
// folder for the next run). gpu_batch_bench MODEL mixed: the mixed cases only.
// gpu_batch_bench attention: the decode attention kernel alone
// (attention_bench.cpp), no model.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "attention_bench.h"
#include "cuda/cuda_backend.h"
#include "model/model.h"
#include "synth_arg.h"

namespace tokamak {
namespace {

constexpr int32_t kBlockSize = 16;

struct Case {
  int32_t num_decodes = 0;  // B
  int32_t position = 0;     // P of every decode
  int32_t chunk = 0;        // C prompt tokens of one more sequence (0: none)
};

// The plan of one case, its sequences on disjoint blocks from block 0.
class CasePlan {
 public:
  explicit CasePlan(const Case& c) {
    const int32_t per_seq = c.position / kBlockSize + 1;
    int32_t next_block = 0;
    auto table = [&](int32_t num_blocks) {
      std::vector<int32_t> t(num_blocks);
      for (int32_t& b : t) b = next_block++;
      return t;
    };
    for (int32_t s = 0; s < c.num_decodes; ++s) {
      tables_.push_back(table(per_seq));
      tokens_.push_back(1 + s % 1000);
      positions_.push_back(c.position);
      token_seq_.push_back(s);
      rows_.push_back(s);
    }
    if (c.chunk > 0) {
      tables_.push_back(table((c.chunk + kBlockSize - 1) / kBlockSize));
      for (int32_t i = 0; i < c.chunk; ++i) {
        tokens_.push_back(1 + i % 1000);
        positions_.push_back(i);
        token_seq_.push_back(c.num_decodes);
      }
      rows_.push_back(static_cast<int32_t>(tokens_.size()) - 1);
    }
    for (const auto& t : tables_) sequences_.push_back(StepSequence{t});
    sampling_.assign(rows_.size(), RowSampling{});
    ids_.assign(rows_.size(), 0);
    num_blocks_ = next_block;
  }
  StepPlan plan() const { return {tokens_, positions_, token_seq_, sequences_, rows_}; }
  Status run(Backend& b) { return b.forward_sampled(plan(), sampling_, ids_); }
  int32_t num_blocks() const { return num_blocks_; }

 private:
  std::vector<std::vector<int32_t>> tables_;
  std::vector<StepSequence> sequences_;
  std::vector<int32_t> tokens_, positions_, token_seq_, rows_, ids_;
  std::vector<RowSampling> sampling_;
  int32_t num_blocks_ = 0;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int fail(const Status& s) {
  std::fprintf(stderr, "gpu_batch_bench: %s\n", s.error().message.c_str());
  return 1;
}

std::string model_path(const std::string& arg) {
  const std::optional<SynthOptions> so = parse_synth_arg(arg, "f16");
  if (!so) return arg;
  if (std::filesystem::exists(so->output_path)) return so->output_path;
  auto report = synthesize(*so);
  if (!report.ok()) {
    std::fprintf(stderr, "%s\n", report.error().message.c_str());
    return "";
  }
  return so->output_path;
}

int run(int argc, char** argv) {
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "gpu_batch_bench: no CUDA device\n");
    return 1;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: gpu_batch_bench MODEL [mixed] | attention\n");
    return 2;
  }
  if (std::string(argv[1]) == "attention") return attention_bench();
  const std::string path = model_path(argv[1]);
  if (path.empty()) return 1;
  auto model = Model::load(path);
  if (!model.ok()) return fail(model.error());

  const bool mixed_only = argc > 2 && std::string(argv[2]) == "mixed";
  std::vector<Case> cases;
  if (!mixed_only) {
    for (int32_t b : {1, 8, 16, 32, 64, 128, 256}) cases.push_back({b, 192, 0});
    for (int32_t b : {1, 8, 16, 32}) cases.push_back({b, 4064, 0});
  }
  for (int32_t c : {128, 448}) cases.push_back({64, 192, c});
  cases.push_back({0, 0, 512});
  int32_t num_blocks = 1;
  for (const Case& c : cases) num_blocks = std::max(num_blocks, CasePlan(c).num_blocks());

  CudaBackendOptions o;
  o.max_step_tokens = 512;
  o.kv.block_size = kBlockSize;
  o.kv.num_blocks = num_blocks;
  auto made = make_cuda_backend(*model, o);
  if (!made.ok()) return fail(made.error());
  Backend& backend = **made;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s; model %s; KV pool %d blocks of %d\n", prop.name, argv[1], num_blocks,
              kBlockSize);

  for (const Case& c : cases) {
    CasePlan p(c);
    cuda::tuning::set_use_graphs(backend, true);
    std::vector<double> ms;
    for (int i = 0; i < 13; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (Status s = p.run(backend); !s.ok()) return fail(s);
      if (i >= 3) ms.push_back(ms_since(t0));
    }
    std::sort(ms.begin(), ms.end());
    const double med = ms[ms.size() / 2];
    cuda::tuning::set_use_graphs(backend, false);
    if (Status s = cuda::tuning::set_op_timing(backend, true); !s.ok()) return fail(s);
    for (int i = 0; i < 3; ++i)
      if (Status s = p.run(backend); !s.ok()) return fail(s);
    const auto ops = cuda::tuning::op_times_ms(backend);
    if (Status s = cuda::tuning::set_op_timing(backend, false); !s.ok()) return fail(s);
    double total = 0;
    std::string by_op;
    for (const auto& [name, t] : ops) {
      total += t / 3;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %s %.2f", name.c_str(), t / 3);
      by_op += buf;
    }
    std::printf(
        "case decode %3d @ %4d + chunk %3d: step %7.2f ms (min %.2f max %.2f), %7.0f out tok/s | "
        "graphs off, device %.2f ms:%s\n",
        c.num_decodes, c.position, c.chunk, med, ms.front(), ms.back(),
        (c.num_decodes + (c.chunk > 0)) * 1e3 / med, total, by_op.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace tokamak

int main(int argc, char** argv) { return tokamak::run(argc, argv); }
