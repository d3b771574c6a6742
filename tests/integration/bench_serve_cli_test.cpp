// Runs the built `tokamak-cli bench serve` (path from TOKAMAK_CLI) on the
// real aidreams260K model on the CPU: all five policies on one workload, a
// concurrency sweep, open loop, the JSON/CSV/database outputs, and bad input
// ending in one error line; `bench batched` (llama-batched-bench's table).
#include <SQLiteCpp/SQLiteCpp.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aidreams.h"
#include "cli_runner.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

using test::CliRun;
using test::read_file;

// Runs the CLI with `args` (no shell), stdin from /dev/null.
CliRun run_cli(const std::vector<std::string>& args) {
  return test::run_cli_in(test::scratch_dir("bench_serve_cli"), args);
}

std::vector<std::string> base_args(const std::string& dir) {
  return {"bench",
          "serve",
          test::kAidreamsGguf,
          "--device",
          "cpu",
          "-t",
          "1",
          "--warmup",
          "1",
          "--json-out",
          dir + "/out.json",
          "--csv-out",
          dir + "/out.csv",
          "--db",
          dir + "/tokamak.db"};
}

class BenchServeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(TOKAMAK_CLI).empty()) GTEST_SKIP() << "tokamak-cli was not built";
  }
};

TEST_F(BenchServeCli, AllFivePoliciesAccountForEveryRequest) {
  const std::string dir = test::scratch_dir("five");
  std::vector<std::string> args = base_args(dir);
  for (const char* a :
       {"--policy", "none,static,dynamic,continuous,paged", "--workload", "random:4-24:2-10",
        "--requests", "16", "--concurrency", "4", "--batch-size", "3", "--max-sequences", "4"}) {
    args.push_back(a);
  }
  const CliRun r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The table: a header and one line per policy.
  for (const char* p : {"none", "static", "dynamic", "continuous", "paged"}) {
    EXPECT_NE(r.out.find(std::string("\n") + p + " "), std::string::npos) << p << "\n" << r.out;
  }
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/out.json"));
  ASSERT_EQ(j["runs"].size(), 5u);
  EXPECT_EQ(j["config"]["device"], "cpu");
  const char* policies[] = {"none", "static", "dynamic", "continuous", "paged"};
  for (size_t i = 0; i < 5; ++i) {
    const nlohmann::json& run = j["runs"][i];
    EXPECT_EQ(run["policy"], policies[i]);
    EXPECT_EQ(run["num_requests"], 16);
    EXPECT_EQ(run["num_completed"], 16) << run.dump();
    EXPECT_EQ(run["num_errors"], 0);
    EXPECT_EQ(run["num_unaccounted"], 0);
    EXPECT_EQ(run["num_duplicate_ends"], 0);
    EXPECT_EQ(run["num_token_mismatches"], 0);
    EXPECT_LE(run["peak_running"].get<int>(), 4);
    EXPECT_GT(run["requests_per_second"].get<double>(), 0.0);
    // The timeline ends at the run's token count; the CPU has no energy figure.
    ASSERT_GE(run["timeline"].size(), 2u);
    EXPECT_EQ(run["timeline"].back()["num_output_tokens"], run["num_output_tokens"]);
    EXPECT_EQ(run["energy"]["status"], "unavailable");
    EXPECT_EQ(run["energy"]["joules_per_output_token"], "unavailable");
  }
  // Same seed, same workload: every policy generated the same number of tokens.
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_EQ(j["runs"][i]["num_output_tokens"], j["runs"][0]["num_output_tokens"]);
    EXPECT_EQ(j["runs"][i]["num_prompt_tokens"], j["runs"][0]["num_prompt_tokens"]);
  }
  std::istringstream csv(read_file(dir + "/out.csv"));
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 6);
  SQLite::Database db(dir + "/tokamak.db", SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM bench_sessions").getInt(), 1);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM bench_runs").getInt(), 5);
  EXPECT_EQ(db.execAndGet("SELECT group_concat(policy, ',') FROM (SELECT policy FROM bench_runs "
                          "ORDER BY position)")
                .getString(),
            "none,static,dynamic,continuous,paged");
}

TEST_F(BenchServeCli, SweepsRunTheCrossProductInOrder) {
  const std::string dir = test::scratch_dir("sweep");
  std::vector<std::string> args = base_args(dir);
  for (const char* a : {"--policy", "paged,none", "--workload", "fixed:8:4,fixed:16:4",
                        "--requests", "6", "--concurrency", "1,3", "--no-db"}) {
    args.push_back(a);
  }
  const CliRun r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/out.json"));
  ASSERT_EQ(j["runs"].size(), 8u);
  size_t i = 0;
  for (const char* w : {"fixed:8:4", "fixed:16:4"}) {
    for (int c : {1, 3}) {
      for (const char* p : {"paged", "none"}) {
        const nlohmann::json& run = j["runs"][i++];
        EXPECT_EQ(run["workload"], w);
        EXPECT_EQ(run["concurrency"], c);
        EXPECT_EQ(run["policy"], p);
        EXPECT_EQ(run["num_completed"], 6);
        EXPECT_EQ(run["num_output_tokens"], 24);
      }
    }
  }
  EXPECT_FALSE(std::ifstream(dir + "/tokamak.db").good());  // --no-db
}

TEST_F(BenchServeCli, OpenLoopAtARate) {
  const std::string dir = test::scratch_dir("open");
  std::vector<std::string> args = base_args(dir);
  for (const char* a : {"--policy", "continuous", "--workload", "fixed:8:4", "--requests", "10",
                        "--rate", "500", "--no-db", "--repetitions", "3"}) {
    args.push_back(a);
  }
  const CliRun r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/out.json"));
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["rate"], 500.0);
  EXPECT_EQ(j["runs"][0]["concurrency"], 0);
  EXPECT_EQ(j["runs"][0]["num_completed"], 10);
  EXPECT_EQ(j["runs"][0]["repetitions"]["count"], 3);
  EXPECT_EQ(j["config"]["repetitions"], 3);
}

TEST_F(BenchServeCli, BadInputEndsInOneErrorLine) {
  const std::string dir = test::scratch_dir("bad");
  const std::vector<std::vector<std::string>> cases = {
      {"--workload", "fixed:8"},     {"--policy", "fifo"},
      {"--workload", "fixed:200:8"},  // longer than aidreams' 128 positions
      {"--concurrency", "0"},        {"--workload", "lmi", "--scale", "2"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = base_args(dir);
    args.insert(args.end(), extra.begin(), extra.end());
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.exit_code, 1) << extra[1];
    EXPECT_EQ(r.err.rfind("tokamak-cli: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(BenchServeCli, BatchedPrintsLlamaBatchedBenchsTableAndJson) {
  const std::string dir = test::scratch_dir("batched");
  const CliRun r = run_cli({"bench", "batched", test::kAidreamsGguf, "--device", "cpu", "-t", "1",
                            "--pp", "16,32", "--tg", "8", "--npl", "1,3", "-r", "2", "--json-out",
                            dir + "/batched.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("|     PP |     TG |    B |    N_KV |   T_PP s |  S_PP t/s |"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2 + 4) << r.out;  // header, rule, 4 rows
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/batched.json"));
  EXPECT_EQ(j["config"]["device"], "cpu");
  ASSERT_EQ(j["points"].size(), 4u);
  const nlohmann::json& last = j["points"][3];  // PP 32, TG 8, B 3
  EXPECT_EQ(last["prompt_tokens"], 32);
  EXPECT_EQ(last["batch_size"], 3);
  EXPECT_EQ(last["kv_tokens"], 3 * 40);
  EXPECT_EQ(last["decode_s"]["samples"].size(), 2u);
  EXPECT_GT(last["decode_tokens_per_second"].get<double>(), 0.0);

  // Sizes the context cannot hold: one error line naming the numbers.
  const CliRun bad = run_cli({"bench", "batched", test::kAidreamsGguf, "--device", "cpu", "--pp",
                              "120", "--tg", "16", "--npl", "2"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("PP 120 + TG 16 = 136 positions exceed the context of 128"),
            std::string::npos)
      << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
}

}  // namespace
}  // namespace tokamak
