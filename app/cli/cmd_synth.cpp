// tokamak-cli synth PRESET -o OUT.gguf: a random-weight model with the
// shapes of a real one (a thin wrapper over app/synth/synth.h).
#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "convert/type_mix.h"
#include "synth/synth.h"

namespace tokamak::cli {
namespace {

struct SynthCliOptions {
  SynthOptions synth;
  bool list = false;
  bool quiet = false;
};

void list_presets() {
  for (const SynthPreset& p : synth_presets()) {
    fmt::print("{:<20} {}\n", p.name, p.description);
  }
}

void run_synth(SynthCliOptions& o) {
  if (o.list) return list_presets();
  SynthOptions& s = o.synth;
  if (s.preset.empty()) fail("no preset given (tokamak-cli synth --list shows them)");
  if (!find_synth_preset(s.preset)) {
    fail(fmt::format("unknown synth preset '{}' (tokamak-cli synth --list shows them)", s.preset));
  }
  if (s.output_path.empty()) fail("no output file given: use -o OUT.gguf");
  if (!o.quiet) {
    s.on_progress = [](std::string_view name, int64_t i, int64_t n) {
      fmt::print(stderr, "\r[{}/{}] {:<40}", i + 1, n, name);
    };
  }
  const SynthReport r = take(synthesize(s));
  if (!o.quiet) fmt::print(stderr, "\n");
  fmt::print(
      "wrote {} (preset {}, {}, seed {}, {} tensors, {:.2f} M params, {} bytes) in {:.2f} s\n",
      r.output_path, r.preset, r.type_mix, r.seed, r.num_tensors, r.num_params / 1e6,
      r.file_size_bytes, r.seconds);
  for (const auto& note : r.notes) fmt::print("note: {}\n", note);
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto o = std::make_shared<SynthCliOptions>();
  o->synth.preset.clear();
  CLI::App* cmd =
      app.add_subcommand("synth", "Write a random-weight GGUF model with a real model's shapes");
  cmd->add_option("PRESET", o->synth.preset, "preset name (see --list)");
  cmd->add_option("-o,--output", o->synth.output_path, "output .gguf file");
  cmd->add_option("--type", o->synth.type_mix,
                  "weight types: " + fmt::format("{}", fmt::join(TypeMix::names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--vocab", o->synth.vocab,
                  "\"byte\" or a tokenizer file (tokenizer.model, tokenizer.json, ...)")
      ->capture_default_str();
  cmd->add_option("--seed", o->synth.seed, "weight seed")->capture_default_str();
  cmd->add_option("--layers", o->synth.num_layers, "override the number of layers");
  cmd->add_option("--name", o->synth.name, "general.name");
  cmd->add_option("-t,--threads", o->synth.num_threads, "threads (default: all)");
  cmd->add_flag("--list", o->list, "list the presets");
  cmd->add_flag("-q,--quiet", o->quiet, "no progress output");
  cmd->callback([o] { run_synth(*o); });
}

}  // namespace tokamak::cli
