// The engine's step trace (TOKAMAK_ENGINE_TRACE, runtime/step_trace.h): one
// CSV row per step whose token counts add up to what the requests fed and
// sampled, and no file when the variable is unset.
#include "runtime/step_trace.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime_test_util.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

using test::AidreamsRuntime;
using test::Collector;

std::vector<std::filesystem::path> files_in(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

std::vector<std::vector<double>> read_csv(const std::filesystem::path& path, std::string* header) {
  std::ifstream in(path);
  std::getline(in, *header);
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<double> row;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

EngineOptions options() {
  EngineOptions o;
  o.policy = BatchPolicy::Paged;
  o.max_step_tokens = 16;  // the 20-token prompt takes two steps
  o.prefix_caching = false;
  return o;
}

TEST(StepTrace, RowsAddUpToTheFedAndSampledTokens) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  const std::string dir = test::scratch_dir("step_trace");
  const std::string prefix = dir + "/trace";
  ::setenv("TOKAMAK_ENGINE_TRACE", prefix.c_str(), 1);
  auto e = Engine::create(a.backend, a.tokenizer, options());
  ::unsetenv("TOKAMAK_ENGINE_TRACE");
  ASSERT_TRUE(e.ok()) << e.error().message;
  std::unique_ptr<Engine> engine = std::move(e).value();
  // (prompt length, max tokens): every request generates exactly max tokens.
  const std::vector<std::pair<int32_t, int32_t>> shapes = {{5, 6}, {20, 4}, {1, 3}};
  Collector c;
  int64_t fed = 0, sampled = 0;
  for (auto [len, max] : shapes) {
    Request r{test::reference_prompt(len - 1), test::greedy(), {}, max};
    r.ignore_eos = true;
    c.submit(*engine, std::move(r));
    fed += len + max - 1;  // the prompt, and every generated id but the last
    sampled += max;
  }
  ASSERT_TRUE(c.wait());
  const int64_t num_steps = engine->stats().num_steps;
  engine.reset();  // the trace is written when the engine stops

  const std::vector<std::filesystem::path> files = files_in(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("trace.", 0), 0u) << files[0];
  EXPECT_EQ(files[0].extension(), ".csv");
  std::string header;
  const auto rows = read_csv(files[0], &header);
  EXPECT_EQ(header,
            "start_us,gap_us,schedule_us,forward_us,post_us,tokens,sequences,decodes,sampled,"
            "running,waiting");
  ASSERT_EQ(static_cast<int64_t>(rows.size()), num_steps);
  int64_t sum_tokens = 0, sum_sampled = 0;
  double last_start = -1;
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 11u);
    EXPECT_GE(r[0], last_start);
    last_start = r[0];
    for (int i = 1; i <= 4; ++i) EXPECT_GE(r[i], 0.0);
    EXPECT_GT(r[3], 0.0);   // a forward pass takes time
    EXPECT_LE(r[6], r[5]);  // sequences <= tokens
    EXPECT_LE(r[7], r[6]);  // decodes <= sequences
    EXPECT_LE(r[8], r[6]);  // sampled <= sequences
    EXPECT_LE(r[5], options().max_step_tokens);
    sum_tokens += static_cast<int64_t>(r[5]);
    sum_sampled += static_cast<int64_t>(r[8]);
  }
  EXPECT_EQ(sum_tokens, fed);
  EXPECT_EQ(sum_sampled, sampled);
}

TEST(StepTrace, NothingIsWrittenWithoutTheVariable) {
  AidreamsRuntime a;
  ASSERT_TRUE(a.backend);
  const std::string dir = test::scratch_dir("step_trace_off");
  ::unsetenv("TOKAMAK_ENGINE_TRACE");
  {
    StepTrace trace;
    EXPECT_FALSE(trace.on());
  }
  auto e = Engine::create(a.backend, a.tokenizer, options());
  ASSERT_TRUE(e.ok()) << e.error().message;
  Collector c;
  c.submit(**e, {{1}, test::greedy(), {}, 3});
  ASSERT_TRUE(c.wait());
  e.value().reset();
  EXPECT_TRUE(files_in(dir).empty());
}

}  // namespace
}  // namespace tokamak
