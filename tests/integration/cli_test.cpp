// Runs the built tokamak-cli binary (path from TOKAMAK_CLI) on real files:
// greedy ids of the aidreams model, llama.cpp's tokenizer vectors, info
// --json, a piped two-turn chat, and every kind of bad input, which must end
// with a non-zero exit code and exactly one helpful line on stderr.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aidreams.h"
#include "cli_runner.h"
#include "gguf/gguf_writer.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

using test::CliRun;
using test::read_file;

namespace fs = std::filesystem;

const std::string kData = TOKAMAK_SHARED_DATA;
const std::string kAidreams = kData + "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf";
const std::string kSpmVocab = kData + "/tokenizers/gguf/vocab-llama2-spm.gguf";

fs::path scratch() {
  fs::path dir = ::tokamak::test::scratch_dir("cli_test");
  fs::create_directories(dir);
  return dir;
}

// Runs the CLI with `args` (no shell: arguments pass through exactly).
CliRun run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  return test::run_cli_in(scratch().string(), args, stdin_text);
}

std::vector<int32_t> parse_ids(const std::string& line) {
  std::vector<int32_t> ids;
  std::istringstream s(line);
  int32_t id;
  while (s >> id) ids.push_back(id);
  return ids;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(TOKAMAK_CLI).empty()) GTEST_SKIP() << "tokamak-cli was not built";
  }
};

TEST_F(Cli, Version) {
  const CliRun r = run_cli({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tokamak-cli "), std::string::npos);
}

TEST_F(Cli, RunGreedyJsonGivesTheReferenceIds) {
  const CliRun r = run_cli({"run", kAidreams, "--temp", "0", "-n", "20", "-p", "", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  ASSERT_GE(expected.size(), 20u);
  std::vector<int32_t> ids;
  std::string text;
  nlohmann::json done;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("type") == "token") {
      ids.push_back(j.at("id").get<int32_t>());
      text += j.at("text").get<std::string>();
    } else {
      done = j;
    }
  }
  EXPECT_EQ(ids, std::vector<int32_t>(expected.begin(), expected.begin() + 20));
  EXPECT_EQ(text.rfind("\"Echoes of vectors unfold", 0), 0u) << text;
  EXPECT_EQ(done.at("type"), "done");
  EXPECT_EQ(done.at("finish_reason"), "length");
  EXPECT_EQ(done.at("num_generated_tokens"), 20);
  EXPECT_EQ(done.at("num_prompt_tokens"), 1);
  EXPECT_GT(done.at("decode_tokens_per_second").get<double>(), 0.0);
}

TEST_F(Cli, RunPlainTextStreamsAndSummarisesOnStderr) {
  const CliRun r =
      run_cli({"run", kAidreams, "--temp", "0", "-n", "20", "-p", "", "--stop", "gentle"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\"Echoes of vectors unfold, a \n");
  EXPECT_NE(r.err.find("finish: stop"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
}

TEST_F(Cli, SeededSamplingIsReproducible) {
  const std::vector<std::string> args = {"run", kAidreams, "--temp", "1.0",  "--seed", "42",
                                         "-n",  "30",      "-p",     "Once", "--json"};
  const CliRun a = run_cli(args), b = run_cli(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto ids = [](const std::string& out) {
    std::vector<int> v;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.at("type") == "token") v.push_back(j.at("id").get<int>());
    }
    return v;
  };
  EXPECT_EQ(ids(a.out), ids(b.out));
  EXPECT_FALSE(ids(a.out).empty());
}

// llama.cpp's tokenizer test set for the Llama 2 vocabulary (no BOS).
TEST_F(Cli, TokenizeMatchesLlamaCppVectors) {
  const std::string inp = read_file(kData + "/tokenizers/vectors/ggml-vocab-llama-spm.gguf.inp");
  const std::string outp = read_file(kData + "/tokenizers/vectors/ggml-vocab-llama-spm.gguf.out");
  std::vector<std::string> texts;
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0;;) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> expected;
  std::istringstream lines(outp);
  for (std::string line; std::getline(lines, line);) expected.push_back(line);
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GE(texts.size(), 40u);
  int checked = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) continue;  // an empty argument is the one case we skip
    const CliRun r = run_cli({"tokenize", kSpmVocab, texts[i], "--no-bos"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(parse_ids(r.out), parse_ids(expected[i])) << "text " << i << ": " << texts[i];
    ++checked;
  }
  EXPECT_GE(checked, 40);
  // With BOS (the vocabulary adds one): id 1 first.
  const CliRun r = run_cli({"tokenize", kSpmVocab, "Hello world"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_ids(r.out), (std::vector<int32_t>{1, 15043, 3186}));
}

TEST_F(Cli, InfoJsonDescribesTheModel) {
  const CliRun r = run_cli({"info", kAidreams, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  // Tensor count and parameter sum as gguf-py's GGUFReader reads them.
  EXPECT_EQ(j.at("architecture"), "llama");
  EXPECT_EQ(j.at("num_params"), 263744);
  EXPECT_EQ(j.at("tensor_types").at("F32").at("num_tensors"), 39);
  EXPECT_EQ(j.at("vocab_size"), 512);
  EXPECT_EQ(j.at("context_length"), 128);
  EXPECT_EQ(j.at("num_layers"), 4);
  EXPECT_EQ(j.at("dim"), 64);
  EXPECT_EQ(j.at("has_chat_template"), false);
  EXPECT_EQ(j.at("file_size_bytes").get<uint64_t>(), fs::file_size(kAidreams));
  // K+V, 4 layers x 64 values x 4 bytes x 128 positions.
  EXPECT_EQ(j.at("kv_cache_bytes_f32"), 2 * 4 * 64 * 4 * 128);
}

struct TurnSummary {
  int prompt = 0, generated = 0, reused = 0;
  std::string finish;
};

// Parses the -v summaries: "[prompt P tokens (...) | generated G tokens (...) | ttft ... |
// finish: F | R tokens reused]".
std::vector<TurnSummary> parse_summaries(const std::string& err) {
  std::vector<TurnSummary> out;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    TurnSummary t;
    EXPECT_EQ(std::sscanf(line.c_str(), "[prompt %d tokens", &t.prompt), 1) << line;
    const size_t g = line.find("| generated ");
    if (g != std::string::npos) std::sscanf(line.c_str() + g, "| generated %d", &t.generated);
    const size_t f = line.find("finish: ");
    if (f != std::string::npos) {
      t.finish = line.substr(f + 8, line.find_first_of(" ]", f + 8) - (f + 8));
    }
    const size_t r = line.find("| ", f);
    if (r != std::string::npos) std::sscanf(line.c_str() + r, "| %d tokens reused", &t.reused);
    out.push_back(t);
  }
  return out;
}

// Two turns piped in: the second turn reuses the first turn's KV entries. Its
// cached prefix is the first prompt plus every generated token that was fed
// back (all but the last).
TEST_F(Cli, PipedChatTwoTurnsReusesTheCache) {
  const CliRun r = run_cli({"chat", kAidreams, "--temp", "0", "-n", "8", "-v"},
                           "Hello\nTell me more\n/exit\nnever read\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto turns = parse_summaries(r.err);
  ASSERT_EQ(turns.size(), 2u) << r.err;
  EXPECT_EQ(turns[0].reused, 0);
  EXPECT_EQ(turns[0].finish, "length");
  EXPECT_EQ(turns[0].generated, 8);
  EXPECT_EQ(turns[1].reused, turns[0].prompt + turns[0].generated - 1) << r.err;
  std::istringstream out(r.out);
  std::vector<std::string> replies;
  for (std::string line; std::getline(out, line);) replies.push_back(line);
  EXPECT_EQ(replies.size(), 2u) << r.out;
}

// A stop string inside a reply: the tokens that made it are dropped from the
// conversation, the reply's text up to it is kept.
TEST_F(Cli, PipedChatDropsStopStringTokens) {
  const CliRun r = run_cli({"chat", kAidreams, "--temp", "0", "-n", "30", "-v", "--stop", "e"},
                           "Hello\nTell me more\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto turns = parse_summaries(r.err);
  ASSERT_EQ(turns.size(), 2u) << r.err;
  EXPECT_EQ(turns[0].finish, "stop");
  EXPECT_EQ(r.out.find('e'), std::string::npos) << r.out;
  // Reused: the first prompt plus the generated tokens before the one holding the stop.
  EXPECT_GE(turns[1].reused, turns[0].prompt);
  EXPECT_LE(turns[1].reused, turns[0].prompt + turns[0].generated - 1);
}

// A vocabulary with <|start_header_id|> gets Llama-3 turns: the first turn is
// <|begin_of_text|> <|start_header_id|> user <|end_header_id|> "\n\n" Hello
// <|eot_id|> <|start_header_id|> assistant <|end_header_id|> "\n\n" = 11 tokens.
TEST_F(Cli, PipedChatUsesLlama3TurnsWhenTheVocabHasThem) {
  const CliRun r = run_cli(
      {"chat", kData + "/tokenizers/gguf/vocab-llama3-bpe.gguf", "--temp", "0", "-n", "3", "-v"},
      "Hello\nAgain\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.rfind("[prompt 11 tokens", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("tokens reused"), std::string::npos) << r.err;
}

std::vector<int32_t> json_token_ids(const std::string& out) {
  std::vector<int32_t> ids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("type") == "token") ids.push_back(j.at("id").get<int32_t>());
  }
  return ids;
}

// convert (llama2.c -> GGUF) then run: the converted file decodes the same ids.
TEST_F(Cli, ConvertThenRunGivesTheReferenceIds) {
  const std::string dir = kData + "/models/aidreams260K";
  const std::string out = (scratch() / "aidreams-converted.gguf").string();
  const CliRun c = run_cli({"convert", dir + "/aidreams260K.bin", "--tokenizer",
                            dir + "/tok512.bin", "-o", out, "--type", "f32", "-q"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("wrote "), std::string::npos) << c.out;
  const CliRun r = run_cli({"run", out, "--temp", "0", "-n", "30", "-p", "", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<int32_t> expected = ::tokamak::test::aidreams_greedy_ids();
  EXPECT_EQ(json_token_ids(r.out), std::vector<int32_t>(expected.begin(), expected.begin() + 30));
}

TEST_F(Cli, SynthThenInfoAndRun) {
  const std::string out = (scratch() / "synth-tiny-q8_0.gguf").string();
  const CliRun s = run_cli({"synth", "tiny", "-o", out, "--type", "q8_0", "-q"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const CliRun i = run_cli({"info", out, "--json"});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  const auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j.at("architecture"), "llama");
  EXPECT_TRUE(j.at("tensor_types").contains("Q8_0"));
  const CliRun r = run_cli({"run", out, "-n", "5", "-p", "hi", "--seed", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_token_ids(r.out).size(), 5u);
  const CliRun list = run_cli({"synth", "--list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("tinyllama-1.1b"), std::string::npos);
}

// Every bad input: non-zero exit, exactly one line on stderr, a message that
// says what is wrong.
void expect_one_error_line(const CliRun& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal";
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_EQ(r.err.rfind("tokamak-cli: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "wanted '" << fragment << "' in: " << r.err;
}

class CliBadInput : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    dir_ = scratch() / "bad";
    fs::create_directories(dir_);
  }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  fs::path dir_;
};

TEST_F(CliBadInput, MissingFile) {
  const std::string p = (dir_ / "nope.gguf").string();
  for (const char* cmd : {"run", "info", "tokenize", "chat", "bench"}) {
    std::vector<std::string> args = {cmd, p};
    if (std::string(cmd) == "tokenize") args.push_back("hi");
    SCOPED_TRACE(cmd);
    expect_one_error_line(run_cli(args), "nope.gguf: no such file");
  }
}

TEST_F(CliBadInput, Directory) {
  expect_one_error_line(run_cli({"run", dir_.string(), "-p", "x"}), "is a directory");
  expect_one_error_line(run_cli({"info", dir_.string()}), "is a directory");
}

TEST_F(CliBadInput, EmptyFile) {
  const std::string p = write("empty.gguf", "");
  expect_one_error_line(run_cli({"run", p}), "empty");
  expect_one_error_line(run_cli({"info", p}), "empty");
}

TEST_F(CliBadInput, RandomBytes) {
  std::string bytes;
  uint64_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    bytes.push_back(static_cast<char>(x >> 56));
  }
  const std::string p = write("random.gguf", bytes);
  expect_one_error_line(run_cli({"run", p}), "random.gguf");
  expect_one_error_line(run_cli({"info", p, "--json"}), "random.gguf");
  expect_one_error_line(run_cli({"tokenize", p, "hi"}), "random.gguf");
}

TEST_F(CliBadInput, TruncatedRealModel) {
  const std::string whole = read_file(kAidreams);
  for (size_t size : {size_t{10}, size_t{100}, whole.size() / 2, whole.size() - 1}) {
    SCOPED_TRACE(size);
    const std::string p = write("truncated.gguf", whole.substr(0, size));
    expect_one_error_line(run_cli({"run", p, "-n", "1"}), "truncated.gguf");
  }
}

TEST_F(CliBadInput, UnsupportedArchitecture) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("mamba"));
  w.add_tensor("token_embd.weight", {4, 2}, TensorType::F32, std::vector<uint8_t>(32, 0));
  const std::string p = (dir_ / "mamba.gguf").string();
  ASSERT_TRUE(w.write(p).ok());
  expect_one_error_line(run_cli({"run", p}), "mamba");
  const CliRun info = run_cli({"info", p});  // info still describes it
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("not supported"), std::string::npos) << info.out;
}

TEST_F(CliBadInput, BadFlags) {
  expect_one_error_line(run_cli({"run", kAidreams, "--no-such-flag"}), "--no-such-flag");
  expect_one_error_line(run_cli({"run", kAidreams, "--temp", "warm"}), "warm");
  expect_one_error_line(run_cli({"run", kAidreams, "--temp", "-1"}), "temperature");
  expect_one_error_line(run_cli({"run", kAidreams, "--top-p", "0"}), "top-p");
  expect_one_error_line(run_cli({"run", kAidreams, "--device", "tpu"}), "tpu");
  expect_one_error_line(run_cli({"run", kAidreams, "--device", "cuda"}), "no CUDA backend");
  expect_one_error_line(run_cli({"run", kAidreams, "-c", "100000"}), "context length of 128");
  expect_one_error_line(run_cli({"frobnicate"}), "frobnicate");
  expect_one_error_line(run_cli({}), "subcommand");
  expect_one_error_line(run_cli({"run"}), "MODEL");
  expect_one_error_line(run_cli({"synth", "no-such-preset", "-o", (dir_ / "x.gguf").string()}),
                        "no-such-preset");
  expect_one_error_line(run_cli({"convert", (dir_ / "none.bin").string(), "-o", "x.gguf"}),
                        "none.bin");
  expect_one_error_line(run_cli({"bench", "synth:no-such-preset"}), "no-such-preset");
}

TEST_F(CliBadInput, PromptLongerThanTheContext) {
  std::string prompt;
  for (int i = 0; i < 200; ++i) prompt += "word ";
  expect_one_error_line(run_cli({"run", kAidreams, "-p", prompt}), "context");
}

}  // namespace
}  // namespace tokamak
