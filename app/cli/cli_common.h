// Shared pieces of the tokamak-cli commands: the error type that main()
// turns into one "tokamak-cli: error: <message>" line, model loading with
// checks that give a clear message for every bad input, and the options that
// several commands share.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/result.h"
#include "model/model.h"
#include "sampling/sampling_params.h"

namespace tokamak::cli {

// Thrown by commands; main() prints what() as the one error line.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message);
// Returns the value of a successful Result or fails with its message.
template <class T>
T take(Result<T> r) {
  if (!r.ok()) fail(r.error().message);
  return std::move(r).value();
}
inline void check(const Status& s) {
  if (!s.ok()) fail(s.error().message);
}

// Writes `text` to `path` (replacing it); fails naming the file.
void write_text_file(const std::string& path, const std::string& text);

// Fails with a clear message when `path` does not exist, is a directory,
// is empty or cannot be read.
void check_model_path(const std::string& path);

// Where generated models (the demo model, synth: presets) are kept:
// $TOKAMAK_CACHE_DIR, else $XDG_CACHE_HOME/tokamak, else ~/.cache/tokamak.
std::string default_cache_dir();

// A model argument: a GGUF path (checked with check_model_path), "demo" (the
// built-in demo model, generated once), or "synth:PRESET[:TYPE]" (a
// random-weight model of a real shape, generated once). Returns the path.
std::string resolve_model_spec(const std::string& spec, const std::string& cache_dir = "");
inline constexpr const char* kModelHelp =
    "GGUF model file, 'demo' (built-in demo model) or synth:PRESET[:TYPE] (e.g. "
    "synth:tinyllama-1.1b:q8_0)";

struct ModelOptions {
  std::string path;
  std::string device = "auto";  // cpu | cuda | auto
  int threads = 0;              // <= 0: all hardware threads
  int32_t context = 0;          // <= 0: min(model context, 4096)
  // Backend sizes for serving many sequences (bench serve); <= 0: the
  // backend's defaults (a KV pool for one sequence of the context).
  int32_t kv_num_blocks = 0;
  int32_t max_step_tokens = 0;
};
void add_model_options(CLI::App* cmd, ModelOptions& o);

struct LoadedModel {
  std::shared_ptr<const Model> model;
  std::unique_ptr<Backend> backend;
  int32_t context = 0;  // positions the generation may use
};
LoadedModel load_model(const ModelOptions& o);

struct SamplingOptions {
  SamplingParams params;
  int64_t seed = -1;  // < 0: random
  std::vector<std::string> stop;
};
void add_sampling_options(CLI::App* cmd, SamplingOptions& o);
// The params with the seed resolved (random when none was given).
SamplingParams resolve_sampling(const SamplingOptions& o);

// Writes and flushes (streaming output).
void write_out(const std::string& text);

}  // namespace tokamak::cli
