// tokamak-cli bench MODEL: prefill and decode speed against what the hardware
// can do. --device cpu (default): this machine's memory-bandwidth bound;
// --device cuda: the figures of bench/cuda_bench.h (decode vs copy bandwidth,
// prefill vs cuBLAS, latency per prompt length, graphs on/off). MODEL is a
// GGUF path or "synth:PRESET[:TYPE]", generated once into a cache folder.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "bench/cpu_bench.h"
#include "bench/cuda_bench.h"
#include "cli_common.h"
#include "commands.h"

namespace tokamak::cli {
namespace {

struct BenchCliOptions {
  std::string model;
  std::string device = "cpu";
  CpuBenchOptions bench;
  CudaBenchOptions cuda;
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

// "gemm 8.80, attention 12.10, ..." (ms), largest first, zeros left out.
std::string format_ops(OpBreakdown ops) {
  std::sort(ops.begin(), ops.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [name, ms] : ops) {
    if (ms < 0.0005) continue;
    out += fmt::format("{}{} {:.3f}", out.empty() ? "" : ", ", name, ms);
  }
  return out;
}

void print_cuda_report(const CudaBenchResult& r) {
  fmt::print(
      "model:      {} ({}, {:.1f} M params, {:.1f} MiB of weights per token, {:.1f} KiB "
      "of KV per position)\n",
      r.model_path, r.arch_name, r.num_params / 1e6, r.weight_bytes_per_token / 1048576.0,
      r.kv_bytes_per_position / 1024.0);
  fmt::print("device:     {}\n", r.device);
  fmt::print("copy bw:    {:9.1f} GB/s   (device-to-device, read + write, best of 10)\n",
             r.copy_gb_per_s);
  for (const auto& d : r.decode) {
    fmt::print(
        "decode:     {:9.1f} tok/s  {:.3f} ms/token (min {:.3f}, max {:.3f}) tg{} after "
        "pp{}, graphs {}: {:.1f} GB/s = {:.1f}% of copy bw\n",
        d.tokens_per_second, d.ms_per_token.median, d.ms_per_token.min, d.ms_per_token.max,
        r.num_decode_tokens, r.num_prompt_tokens, d.graphs ? "on " : "off", d.gb_per_s,
        100.0 * d.fraction_of_copy);
    if (!d.ms_by_op.empty()) fmt::print("  by op:    {} ms per token\n", format_ops(d.ms_by_op));
  }
  for (const auto& p : r.prefill) {
    fmt::print(
        "prefill:    {:9.1f} tok/s  pp{} (min {:.1f}, max {:.1f}): {:.1f} TFLOP/s = {:.1f}% "
        "of cuBLAS fp16 {:.1f} TFLOP/s\n",
        p.tokens_per_second.median, p.num_tokens, p.tokens_per_second.min, p.tokens_per_second.max,
        p.tflops, 100.0 * p.fraction_of_cublas, p.cublas_tflops);
    if (!p.ms_by_op.empty()) fmt::print("  by op:    {} ms\n", format_ops(p.ms_by_op));
  }
  for (const auto& l : r.latency) {
    fmt::print("latency:    {:9.3f} ms/token after {} prompt tokens (min {:.3f}, max {:.3f})\n",
               l.ms_per_token.median, l.prompt_tokens, l.ms_per_token.min, l.ms_per_token.max);
  }
  for (const auto& g : r.gemm_sweep) {
    fmt::print("gemm sweep: {:4} tokens  matmul {:8.3f} ms  gemm {:8.3f} ms\n", g.num_tokens,
               g.matmul_ms, g.gemm_ms);
  }
}

void write_json(const std::string& path, const nlohmann::json& j) {
  if (!path.empty()) write_text_file(path, j.dump(2) + "\n");
}

void run_cuda_bench_command(BenchCliOptions& o, const std::string& model_path) {
  o.cuda.model_path = model_path;
  o.cuda.num_prompt_tokens = o.bench.num_prompt_tokens;
  o.cuda.num_decode_tokens = o.bench.num_decode_tokens;
  o.cuda.repetitions = o.bench.repetitions;
  o.cuda.warmup = o.bench.warmup;
  const bool tty = isatty(STDERR_FILENO);
  if (tty) o.cuda.on_progress = [](std::string_view s) { fmt::print(stderr, "\r{:<40}", s); };
  const CudaBenchResult r = take(run_cuda_bench(o.cuda));
  if (tty) fmt::print(stderr, "\r{:<40}\r", "");
  print_cuda_report(r);
  write_json(o.json_out, to_json(r));
}

void run_bench(BenchCliOptions& o) {
  const std::string cache = o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  if (o.device != "cpu" && o.device != "cuda")
    fail(fmt::format("--device {}: expected cpu or cuda", o.device));
  o.bench.model_path = resolve_model_spec(o.model, cache);
  if (o.device == "cuda") return run_cuda_bench_command(o, o.bench.model_path);
  if (o.bandwidth_mib < 1) fail("--bandwidth-mib must be >= 1");
  o.bench.bandwidth.buffer_bytes = static_cast<uint64_t>(o.bandwidth_mib) << 20;
  o.bench.bandwidth.repetitions = std::max(o.bench.repetitions, 3);
  const bool tty = isatty(STDERR_FILENO);
  if (tty) o.bench.on_progress = [](std::string_view s) { fmt::print(stderr, "\r{:<40}", s); };
  const CpuBenchResult r = take(run_cpu_bench(o.bench));
  if (tty) fmt::print(stderr, "\r{:<40}\r", "");
  print_report(r);
  write_json(o.json_out, to_json(r));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "prefill/decode speed against the hardware's bounds (CPU or CUDA device)");
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
  cmd->add_option("--device", o->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--cuda-device", o->cuda.device, "CUDA device index")->capture_default_str();
  cmd->add_option("--prefill-lengths", o->cuda.prefill_lengths, "cuda: prefill steps to time")
      ->capture_default_str();
  cmd->add_option("--latency-prompts", o->cuda.latency_prompts,
                  "cuda: prompt lengths of the latency sweep")
      ->capture_default_str();
  cmd->add_option("--latency-tokens", o->cuda.latency_decode_tokens,
                  "cuda: decoded tokens per latency measurement")
      ->capture_default_str();
  cmd->add_option("--sweep-tokens", o->cuda.sweep_tokens,
                  "cuda: step sizes of the matmul-vs-GEMM sweep (none: skip)")
      ->capture_default_str();
  add_bench_serve_command(*cmd);
  add_bench_batched_command(*cmd);
  cmd->callback([o, cmd] {
    if (cmd->got_subcommand("serve") || cmd->got_subcommand("batched")) return;  // ran instead
    if (o->model.empty())
      fail("bench: MODEL is required (bench MODEL, bench serve MODEL or bench batched MODEL)");
    run_bench(*o);
  });
}

}  // namespace tokamak::cli
