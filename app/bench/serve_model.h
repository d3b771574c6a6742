// A model loaded for serving benchmarks: the GGUF, a backend whose KV pool
// holds what the plan needs, the tokenizer, and the configuration record the
// runs are reported and saved with (serve_report.h). The app's Benchmarks
// page loads through this; `tokamak-cli bench serve` has its own options
// parsing but the same steps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.h"
#include "bench/serve_report.h"
#include "core/result.h"
#include "model/model.h"

namespace tokamak {

struct ServeModelOptions {
  std::string model;           // as the user named it (path, demo, synth:...)
  std::string model_path;      // the GGUF file
  std::string device = "cpu";  // cpu | cuda
  int32_t num_threads = 0;     // CPU threads; <= 0: all
  int32_t kv_num_blocks = 0;   // > 0: the pool's size in blocks
  int32_t max_step_tokens = 512;
  int32_t context = 0;       // <= 0: min(model, 4096)
  std::string command_line;  // what the config records as the command
};

struct ServeModel {
  std::shared_ptr<const Model> model;
  std::shared_ptr<Backend> backend;
  std::shared_ptr<const Tokenizer> tokenizer;
  int32_t context = 0;  // positions one sequence may use
  ServeBenchConfig config;
};

// Unsupported for cuda without a CUDA build or device; the loader's and the
// backend's errors otherwise.
Result<ServeModel> load_serve_model(const ServeModelOptions& options);

// The configuration record of runs of `model` on `backend` with `context`
// positions: the model's names, the device, the KV pool (blocks and bytes),
// the version, date and machine. The model as named, the command line, the
// seed, the warm-up and the repetitions are the caller's to fill in.
ServeBenchConfig serve_bench_config(const Model& model, const Backend& backend, int32_t context,
                                    int32_t num_threads);

// Whether this build and machine can run the cuda backend.
bool serve_cuda_available();

}  // namespace tokamak
