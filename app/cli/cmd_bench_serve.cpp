// tokamak-cli bench serve MODEL: the batching policies side by side under
// load. The model is loaded once; each point of the sweep (workload x
// concurrency x batch size x policy, policy innermost) runs on a fresh Engine
// over the same backend. Results go to the terminal, --json-out, --csv-out
// and the app's database (unless --no-db).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "bench/serve_bench.h"
#include "bench/serve_model.h"
#include "bench/serve_record.h"
#include "bench/serve_report.h"
#include "bench/workload.h"
#include "cli_common.h"
#include "commands.h"
#include "store/benchmark_store.h"
#include "store/database.h"

namespace tokamak::cli {
namespace {

struct ServeCliOptions {
  ModelOptions model;
  std::string cache_dir;
  std::vector<std::string> policies = {"none", "static", "dynamic", "continuous", "paged"};
  std::vector<std::string> workloads = {"fixed:128:128"};
  int32_t num_requests = 0;          // 0: lmi 5000 x scale, else 64
  std::vector<int32_t> concurrency;  // empty: lmi 50, else 8
  double rate = 0.0;
  std::vector<int32_t> batch_sizes = {8};
  int32_t max_sequences = 64;
  int32_t max_step_tokens = 512;
  double max_batch_delay_ms = 50.0;
  int32_t kv_blocks = 0;  // 0: sequences running at once x the longest request
  bool no_prefix_caching = false;
  double scale = 1.0;
  uint64_t seed = 1;
  int32_t warmup = 2;
  int32_t repetitions = 1;
  double stall_timeout_s = 600.0;
  std::string json_out;
  std::string csv_out;
  std::string db;
  bool no_db = false;
};

struct Plan {
  std::vector<BatchPolicy> policies;
  std::vector<WorkloadSpec> workloads;
  std::vector<ServePoint> points;
  int32_t longest_request = 0;  // prompt + output tokens
  int32_t most_running = 0;     // sequences that can run at once in any point
};

Plan make_plan(const ServeCliOptions& o) {
  Plan plan;
  for (const std::string& p : o.policies) plan.policies.push_back(take(parse_policy(p)));
  if (!(o.scale > 0.0 && o.scale <= 1.0))
    fail(fmt::format("--scale {}: expected 0 < scale <= 1", o.scale));
  if (o.rate < 0.0) fail(fmt::format("--rate {}: expected >= 0 requests/s", o.rate));
  for (const std::string& w : o.workloads) {
    WorkloadSpec spec = take(parse_workload(w));
    if (spec.kind == WorkloadSpec::Kind::Lmi && spec.scale == 1.0) spec.scale = o.scale;
    plan.longest_request = std::max(plan.longest_request, longest_request_tokens(spec));
    plan.workloads.push_back(spec);
  }
  for (const WorkloadSpec& w : plan.workloads) {
    const bool lmi = w.kind == WorkloadSpec::Kind::Lmi;
    const int32_t n =
        o.num_requests > 0
            ? o.num_requests
            : (lmi ? std::max<int32_t>(1, std::lround(kLmi.num_requests * w.scale)) : 64);
    std::vector<int32_t> conc = o.concurrency;
    if (conc.empty()) conc = {lmi ? kLmi.concurrency : 8};
    if (o.rate > 0.0) conc = {0};
    for (int32_t c : conc) {
      if (o.rate == 0.0 && c < 1) fail(fmt::format("--concurrency {}: expected >= 1", c));
      for (int32_t b : o.batch_sizes) {
        if (b < 1) fail(fmt::format("--batch-size {}: expected >= 1", b));
        for (BatchPolicy p : plan.policies) {
          ServePoint point;
          point.policy = p;
          point.workload = w;
          point.num_requests = n;
          point.concurrency = c;
          point.rate = o.rate;
          point.batch_size = b;
          point.max_sequences = o.max_sequences;
          // Closed loop: never more running than clients; open loop: up to max_sequences.
          plan.most_running = std::max(
              plan.most_running, o.rate > 0.0 ? o.max_sequences : std::min(c, o.max_sequences));
          plan.points.push_back(point);
        }
      }
    }
  }
  return plan;
}

std::string point_label(const ServePoint& p) {
  const std::string load =
      p.rate > 0 ? fmt::format("rate {:g}/s", p.rate) : fmt::format("c={}", p.concurrency);
  return fmt::format("{} {} {} b={}", policy_name(p.policy), p.workload.name(), load, p.batch_size);
}

void save_to_db(const ServeCliOptions& o, const std::vector<ServeRunResult>& runs,
                const ServeBenchConfig& config) {
  DatabaseOptions dbo;
  dbo.path = o.db;
  auto db = Database::open(dbo);
  if (!db.ok()) {
    fail(
        fmt::format("the results were not saved to the database: {} (--db FILE to use another, "
                    "--no-db to skip)",
                    db.error().message));
  }
  const BenchSessionRecord s = bench_session_record(runs, config);
  BenchmarkStore store(**db);
  const int64_t id = take(store.save(s));
  fmt::print(stderr, "saved as benchmark session {} in {}\n", id, (*db)->path());
}

std::string describe_command(const ServeCliOptions& o) {
  std::string s = fmt::format("bench serve {} --policy {} --workload {}", o.model.path,
                              fmt::join(o.policies, ","), fmt::join(o.workloads, ","));
  if (o.num_requests > 0) s += fmt::format(" --requests {}", o.num_requests);
  if (!o.concurrency.empty()) s += fmt::format(" --concurrency {}", fmt::join(o.concurrency, ","));
  if (o.rate > 0) s += fmt::format(" --rate {}", o.rate);
  s += fmt::format(" --batch-size {} --max-sequences {} --device {}", fmt::join(o.batch_sizes, ","),
                   o.max_sequences, o.model.device);
  if (o.scale != 1.0) s += fmt::format(" --scale {}", o.scale);
  if (o.repetitions != 1) s += fmt::format(" --repetitions {}", o.repetitions);
  return s;
}

ServeBenchConfig make_config(const ServeCliOptions& o, const LoadedModel& m,
                             const std::string& model_path) {
  ServeBenchConfig c = serve_bench_config(*m.model, *m.backend, m.context, o.model.threads);
  c.model = o.model.path;
  c.model_path = model_path;
  c.seed = o.seed;
  c.warmup_requests = o.warmup;
  c.repetitions = o.repetitions;
  c.command_line = describe_command(o);
  return c;
}

std::function<void(const ServePoint&, const LoadProgress&)> progress_line(size_t index,
                                                                          size_t count) {
  if (!isatty(STDERR_FILENO)) return nullptr;
  return [index, count](const ServePoint& point, const LoadProgress& p) {
    fmt::print(stderr, "\r[{}/{}] {:<40} {}/{} done, {} errors, {} tokens, {:.1f} s\x1b[K",
               index + 1, count, point_label(point), p.num_ended, p.num_requests, p.num_errors,
               p.num_output_tokens, p.elapsed_s);
  };
}

void run_serve(ServeCliOptions& o) {
  const Plan plan = make_plan(o);
  const std::string model_path = resolve_model_spec(o.model.path, o.cache_dir);
  ModelOptions mo = o.model;
  mo.path = model_path;
  const int32_t block_size = KvCacheConfig{}.block_size;
  if (o.kv_blocks > 0) {
    mo.kv_num_blocks = o.kv_blocks;
  } else {
    // Room for every sequence that can run at once at the longest request:
    // the pool never limits the policies unless --kv-blocks says so.
    const int32_t per_seq = (plan.longest_request + block_size - 1) / block_size;
    mo.kv_num_blocks = std::max(1, plan.most_running) * per_seq;
  }
  mo.max_step_tokens = o.max_step_tokens;
  LoadedModel m;
  try {
    m = load_model(mo);
  } catch (const CliError& e) {
    fail(fmt::format("{} (KV pool of {} blocks of {} tokens; --kv-blocks N for another size)",
                     e.what(), mo.kv_num_blocks, block_size));
  }
  const int32_t model_ctx = m.model->spec().context_length;
  int32_t context = o.model.context > 0 ? o.model.context : std::min(model_ctx, 4096);
  if (model_ctx > 0) context = std::min(context, model_ctx);
  m.context = context;
  if (plan.longest_request > context) {
    fail(fmt::format(
        "the longest request ({} prompt + generated tokens) does not fit the context "
        "of {} positions (model: {}; shorter workloads{})",
        plan.longest_request, context, model_ctx, o.scale == 1.0 ? "" : " or a smaller --scale"));
  }
  const ServeBenchConfig config = make_config(o, m, model_path);

  auto backend = std::shared_ptr<Backend>(std::move(m.backend));
  auto tokenizer = std::shared_ptr<const Tokenizer>(m.model, &m.model->tokenizer());
  const PromptVocab vocab = prompt_vocab(*tokenizer);
  ServeBenchOptions so;
  so.engine.max_step_tokens = o.max_step_tokens;
  so.engine.max_batch_delay_ms = o.max_batch_delay_ms;
  so.engine.max_context = context;
  so.engine.prefix_caching = !o.no_prefix_caching;
  so.sampling.temperature = 0.0f;  // greedy: the same tokens whatever the policy
  so.seed = o.seed;
  so.warmup_requests = o.warmup;
  so.max_context = context;
  so.stall_timeout_s = o.stall_timeout_s;
  fmt::print(stderr, "{} on {}: {} runs, KV pool {} blocks of {} tokens ({:.1f} MiB), context {}\n",
             model_path, config.device, plan.points.size(), config.kv_num_blocks,
             config.kv_block_size, config.kv_pool_bytes / 1048576.0, context);

  std::vector<ServeRunResult> runs;
  std::string failure;
  for (size_t i = 0; i < plan.points.size() && failure.empty(); ++i) {
    so.on_progress = progress_line(i, plan.points.size());
    auto r = run_serve_point_repeated(backend, tokenizer, vocab, plan.points[i], so, o.repetitions);
    if (so.on_progress) fmt::print(stderr, "\r\x1b[K");
    if (!r.ok()) {
      failure = fmt::format("{}: {}", point_label(plan.points[i]), r.error().message);
      break;
    }
    const ServeMetrics& mt = r->metrics;
    fmt::print(stderr, "[{}/{}] {}: {:.2f} req/s, {:.1f} out tok/s, {} errors\n", i + 1,
               plan.points.size(), point_label(plan.points[i]), mt.requests_per_second,
               mt.output_tokens_per_second, mt.num_errors);
    runs.push_back(std::move(r).value());
  }
  fmt::print("{}", serve_report_table(runs));
  if (!o.json_out.empty() || !o.csv_out.empty()) {
    const nlohmann::json report = serve_report_json(runs, config);  // timelines included
    if (!o.json_out.empty()) write_text_file(o.json_out, report.dump(2) + "\n");
    if (!o.csv_out.empty()) write_text_file(o.csv_out, serve_report_csv_from_json(report));
  }
  if (!o.no_db && !runs.empty()) save_to_db(o, runs, config);
  if (!failure.empty()) fail(failure);
  for (const ServeRunResult& r : runs) {
    if (r.num_unaccounted_all > 0) {
      fail(fmt::format("{}: {} requests did not end exactly once (over {} repetitions)",
                       point_label(r.point), r.num_unaccounted_all,
                       r.requests_per_second_spread.samples.size()));
    }
  }
}

}  // namespace

void add_bench_serve_command(CLI::App& bench) {
  auto o = std::make_shared<ServeCliOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "serve", "the batching policies side by side under load (closed or open loop)");
  add_model_options(cmd, o->model);
  cmd->add_option("--cache-dir", o->cache_dir, "where synth: and demo models are kept");
  cmd->add_option("--policy", o->policies,
                  "policies to run in turn: none,static,dynamic,"
                  "continuous,paged")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--workload", o->workloads,
                  "fixed:IN:OUT, random:IN_MIN-IN_MAX:OUT_MIN-OUT_MAX, lmi or lmi:SCALE; a list "
                  "sweeps (e.g. prompt lengths)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--requests", o->num_requests,
                  "requests per run (default: lmi 5000 x --scale, else 64)");
  cmd->add_option("--concurrency", o->concurrency,
                  "closed-loop clients; a list sweeps (default: lmi 50, else 8)")
      ->delimiter(',');
  cmd->add_option("--rate", o->rate, "open loop: Poisson arrivals at this many requests/s");
  cmd->add_option("--batch-size", o->batch_sizes, "static/dynamic batch size; a list sweeps")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--max-sequences", o->max_sequences, "sequences running at once")
      ->capture_default_str();
  cmd->add_option("--max-step-tokens", o->max_step_tokens, "token budget of one step")
      ->capture_default_str();
  cmd->add_option("--max-batch-delay-ms", o->max_batch_delay_ms, "dynamic: longest wait")
      ->capture_default_str();
  cmd->add_option("--kv-blocks", o->kv_blocks,
                  "KV pool in blocks of 16 tokens (default: the most sequences that can run at "
                  "once, min(clients, --max-sequences), x the longest request)");
  cmd->add_flag("--no-prefix-caching", o->no_prefix_caching, "do not reuse equal prompt prefixes");
  cmd->add_option("--scale", o->scale, "lmi: scale of the request count and token lengths")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "prompts and arrival times")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed requests before each run")->capture_default_str();
  cmd->add_option("--repetitions", o->repetitions,
                  "runs of each point; the median by requests/s is reported, with the range")
      ->capture_default_str();
  cmd->add_option("--stall-timeout", o->stall_timeout_s,
                  "give up a run after this many seconds without an engine event")
      ->capture_default_str();
  cmd->add_option("--json-out", o->json_out, "write {\"runs\": [...]} as JSON to this file");
  cmd->add_option("--csv-out", o->csv_out, "write one CSV row per run to this file");
  cmd->add_option("--db", o->db, "the database to save the runs in (default: the app's)");
  cmd->add_flag("--no-db", o->no_db, "do not save the runs in the database");
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace tokamak::cli
