// tokamak-cli convert INPUT -o OUT.gguf: llama2.c checkpoints and Hugging
// Face folders to GGUF (a thin wrapper over app/convert/convert.h).
#include <fmt/format.h>

#include <filesystem>

#include "cli_common.h"
#include "commands.h"
#include "convert/convert.h"
#include "convert/type_mix.h"

namespace tokamak::cli {
namespace {

struct ConvertCliOptions {
  ConvertOptions convert;
  bool quiet = false;
};

std::string type_counts_text(const std::map<std::string, int64_t>& counts) {
  std::string out;
  for (const auto& [type, n] : counts)
    out += fmt::format("{}{} x{}", out.empty() ? "" : ", ", type, n);
  return out;
}

void run_convert(ConvertCliOptions& o) {
  ConvertOptions& c = o.convert;
  namespace fs = std::filesystem;
  if (!fs::exists(c.input_path)) fail(fmt::format("{}: no such file or folder", c.input_path));
  if (c.output_path.empty()) fail("no output file given: use -o OUT.gguf");
  if (!o.quiet) {
    c.on_progress = [](std::string_view name, int64_t i, int64_t n) {
      fmt::print(stderr, "\r[{}/{}] {:<40}", i + 1, n, name);
    };
  }
  const ConvertReport r = take(convert_model(c));
  if (!o.quiet) fmt::print(stderr, "\n");
  fmt::print("wrote {} ({} {} model, {} tensors, {:.2f} M params, {} bytes, {}) in {:.2f} s\n",
             r.output_path, r.source_format, r.arch_name, r.num_tensors, r.num_params / 1e6,
             r.file_size_bytes, type_counts_text(r.type_counts), r.seconds);
  for (const auto& note : r.notes) fmt::print("note: {}\n", note);
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto o = std::make_shared<ConvertCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert a llama2.c checkpoint or a Hugging Face folder to GGUF");
  cmd->add_option("INPUT", o->convert.input_path,
                  "llama2.c checkpoint (.bin) or Hugging Face model folder")
      ->required();
  cmd->add_option("-o,--output", o->convert.output_path, "output .gguf file")->required();
  cmd->add_option("--tokenizer", o->convert.tokenizer_path,
                  "llama2.c tokenizer.bin (required for llama2.c), or a tokenizer override");
  cmd->add_option("--type", o->convert.type_mix,
                  "weight types: " + fmt::format("{}", fmt::join(TypeMix::names(), ", ")))
      ->capture_default_str();
  cmd->add_option("--name", o->convert.name, "general.name (default: the input's name)");
  cmd->add_option("-t,--threads", o->convert.num_threads, "threads (default: all)");
  cmd->add_flag("-q,--quiet", o->quiet, "no progress output");
  cmd->callback([o] { run_convert(*o); });
}

}  // namespace tokamak::cli
