// tokamak-cli bench MODEL: CPU prefill and decode speed, with this machine's
// memory-bandwidth bound. MODEL is a GGUF path or "synth:PRESET[:TYPE]",
// generated once into a cache folder.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "bench/cpu_bench.h"
#include "cli_common.h"
#include "commands.h"

namespace tokamak::cli {
namespace {

struct BenchCliOptions {
  std::string model;
  CpuBenchOptions bench;
  int64_t bandwidth_mib = 512;
  std::string json_out;
  std::string cache_dir;
};

void print_report(const CpuBenchResult& r) {
  const auto& p = r.prefill_tokens_per_second;
  const auto& d = r.decode_tokens_per_second;
  fmt::print("model:      {} ({}, {:.1f} M params, {:.1f} MiB read per token)\n", r.model_path,
             r.arch_name, r.num_params / 1e6, r.bytes_per_token / 1048576.0);
  fmt::print("threads:    {}\n", r.num_threads);
  fmt::print("prefill:    {:9.1f} tok/s  (pp{}, median of {}, min {:.1f}, max {:.1f})\n", p.median,
             r.num_prompt_tokens, p.samples.size(), p.min, p.max);
  fmt::print("decode:     {:9.1f} tok/s  (tg{}, median of {}, min {:.1f}, max {:.1f})\n", d.median,
             r.num_decode_tokens, d.samples.size(), d.min, d.max);
  fmt::print("memory:     {:9.1f} GB/s   (streaming read, {} threads, best of {}; median {:.1f})\n",
             r.bandwidth.best_gb_per_s, r.bandwidth.num_threads, r.bandwidth.gb_per_s.size(),
             r.bandwidth.median_gb_per_s);
  fmt::print("ceiling:    {:9.1f} tok/s  (bandwidth / bytes of weights per token)\n",
             r.decode_ceiling_tokens_per_second);
  fmt::print("achieved:   {:9.1f} GB/s   ({:.1f}% of the bandwidth bound)\n", r.achieved_gb_per_s,
             r.percent_of_bound);
}

void run_bench(BenchCliOptions& o) {
  const std::string cache = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  o.bench.model_path = resolve_model_spec(o.model, cache);
  if (o.bandwidth_mib < 1) fail("--bandwidth-mib must be >= 1");
  o.bench.bandwidth.buffer_bytes = static_cast<uint64_t>(o.bandwidth_mib) << 20;
  o.bench.bandwidth.repetitions = std::max(o.bench.repetitions, 3);
  const bool tty = isatty(STDERR_FILENO);
  if (tty) o.bench.on_progress = [](std::string_view s) { fmt::print(stderr, "\r{:<40}", s); };
  const CpuBenchResult r = take(run_cpu_bench(o.bench));
  if (tty) fmt::print(stderr, "\r{:<40}\r", "");
  print_report(r);
  if (!o.json_out.empty()) {
    std::ofstream f(o.json_out);
    if (!f) fail(fmt::format("{}: cannot open for writing", o.json_out));
    f << to_json(r).dump(2) << "\n";
    if (!f) fail(fmt::format("{}: write failed", o.json_out));
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "CPU prefill/decode speed against the memory bound");
  cmd->add_option("MODEL", o->model,
                  "GGUF file, or synth:PRESET[:TYPE] (e.g. synth:tinyllama-1.1b:q8_0)");
  cmd->add_option("-p,--prompt-tokens", o->bench.num_prompt_tokens, "prefill tokens")
      ->capture_default_str();
  cmd->add_option("-n,--decode-tokens", o->bench.num_decode_tokens, "decoded tokens")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", o->bench.repetitions, "timed repetitions")
      ->capture_default_str();
  cmd->add_option("--warmup", o->bench.warmup, "untimed warm-up runs")->capture_default_str();
  cmd->add_option("-t,--threads", o->bench.num_threads, "threads (default: all)");
  cmd->add_option("--bandwidth-mib", o->bandwidth_mib, "buffer of the bandwidth test (MiB)")
      ->capture_default_str();
  cmd->add_option("--json-out", o->json_out, "also write the results as JSON to this file");
  cmd->add_option("--cache-dir", o->cache_dir, "where synth: models are kept");
  add_bench_serve_command(*cmd);
  cmd->callback([o, cmd] {
    if (cmd->got_subcommand("serve")) return;  // bench serve ran instead
    if (o->model.empty()) fail("bench: MODEL is required (bench MODEL, or bench serve MODEL)");
    run_bench(*o);
  });
}

}  // namespace tokamak::cli
