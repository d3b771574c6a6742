// tokamak-cli bench batched MODEL: llama.cpp's llama-batched-bench table on
// our backends (bench/batched_bench.h): for every PP x TG x B, B sequences of
// PP prompt tokens prefilled, then TG decode steps of B tokens. The figures
// compare with llama-batched-bench's column for column (S_TG = generated
// tokens/s while decoding).
#include <fmt/format.h>

#include <algorithm>

#include "bench/batched_bench.h"
#include "bench/serve_model.h"
#include "bench/serve_report.h"
#include "cli_common.h"
#include "commands.h"

namespace tokamak::cli {
namespace {

struct BatchedCliOptions {
  ModelOptions model;
  std::string cache_dir;
  std::vector<int32_t> prompt_lengths = {128};
  std::vector<int32_t> generated_lengths = {128};
  std::vector<int32_t> batch_sizes = {1, 2, 4, 8, 16, 32, 64};
  int32_t max_step_tokens = 512;
  BatchedBenchOptions bench;
  std::string json_out;
};

struct Point {
  int32_t pp, tg, b;
};

void run_batched(BatchedCliOptions& o) {
  if (o.prompt_lengths.empty() || o.generated_lengths.empty() || o.batch_sizes.empty())
    fail("bench batched: --pp, --tg and --npl each need at least one value");
  std::vector<Point> plan;  // PP outermost, B innermost
  int32_t blocks = 0;
  const int32_t block_size = KvCacheConfig{}.block_size;
  for (int32_t pp : o.prompt_lengths)
    for (int32_t tg : o.generated_lengths)
      for (int32_t b : o.batch_sizes) {
        plan.push_back({pp, tg, b});
        blocks = std::max(blocks, batched_bench_blocks(std::max(pp, 1), std::max(tg, 1),
                                                       std::max(b, 1), block_size));
      }
  const std::string model_path = resolve_model_spec(o.model.path, o.cache_dir);
  ModelOptions mo = o.model;
  mo.path = model_path;
  mo.kv_num_blocks = blocks;
  mo.max_step_tokens = o.max_step_tokens;
  LoadedModel m = load_model(mo);
  ServeBenchConfig config = serve_bench_config(*m.model, *m.backend, m.context, o.model.threads);
  config.model = o.model.path;
  config.model_path = model_path;
  config.seed = o.bench.seed;
  config.warmup_requests = o.bench.warmup;
  config.repetitions = o.bench.repetitions;
  // Every point checked before the first runs: a bad size fails at once.
  for (const Point& p : plan)
    check(check_batched_point(*m.backend, m.context, p.pp, p.tg, p.b, o.bench));
  fmt::print(stderr, "{} on {}: KV pool {} blocks of {} ({:.1f} MiB), steps of up to {} tokens\n",
             model_path, config.device, config.kv_num_blocks, config.kv_block_size,
             config.kv_pool_bytes / 1048576.0, m.backend->max_step_tokens());

  std::vector<BatchedBenchPoint> points;
  nlohmann::json json_points = nlohmann::json::array();
  for (const Point& q : plan) {
    BatchedBenchPoint p = take(run_batched_point(*m.backend, m.context, q.pp, q.tg, q.b, o.bench));
    fmt::print(stderr, "PP {} TG {} B {}: S_TG {:.1f} t/s (T_TG {:.3f} s, {:.3f}-{:.3f})\n", q.pp,
               q.tg, q.b, p.decode_tokens_per_second, p.decode_s.median, p.decode_s.min,
               p.decode_s.max);
    json_points.push_back(to_json(p));
    points.push_back(std::move(p));
  }
  fmt::print("{}", batched_report_table(points));
  if (!o.json_out.empty()) {
    const nlohmann::json report = {{"config", to_json(config)}, {"points", json_points}};
    write_text_file(o.json_out, report.dump(2) + "\n");
  }
}

}  // namespace

void add_bench_batched_command(CLI::App& bench) {
  auto o = std::make_shared<BatchedCliOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "batched",
      "llama-batched-bench's table: B sequences of PP prompt tokens, then TG decode steps");
  add_model_options(cmd, o->model);
  cmd->add_option("--cache-dir", o->cache_dir, "where synth: and demo models are kept");
  cmd->add_option("--pp", o->prompt_lengths, "prompt tokens per sequence; a list sweeps")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--tg", o->generated_lengths, "decode steps (generated tokens per sequence)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--npl", o->batch_sizes, "sequences decoded together (B); a list sweeps")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--max-step-tokens", o->max_step_tokens, "token budget of one prefill step")
      ->capture_default_str();
  cmd->add_option("--seed", o->bench.seed, "random prompt ids")->capture_default_str();
  cmd->add_option("--warmup", o->bench.warmup, "untimed rounds of each point")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", o->bench.repetitions,
                  "timed rounds of each point; medians reported")
      ->capture_default_str();
  cmd->add_option("--json-out", o->json_out, "write {config, points} as JSON to this file");
  cmd->callback([o] { run_batched(*o); });
}

}  // namespace tokamak::cli
