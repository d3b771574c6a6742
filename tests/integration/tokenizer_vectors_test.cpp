// llama.cpp's tokenizer test vectors (tests/reference data in
// shared/data/tokenizers/vectors), run on
//   - vocabularies this project imports (tokenizer.model, tokenizer.bin,
//     encoder.json + vocab.bpe), written to GGUF with Vocab::to_gguf +
//     gguf::Writer and read back with gguf::File + Vocab::from_gguf, and
//   - the GGUF files llama.cpp's gguf-py wrote.
// Every text must give the expected ids exactly (without BOS).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "convert/vocab_import.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {
namespace {

const std::string kData = TOKAMAK_SHARED_DATA;
const std::string kTokDir = kData + "/tokenizers";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: texts each followed by "\n__ggml_vocab_test__\n"; .out: one line of
// space-separated ids per text.
std::vector<Case> load_cases(const std::string& stem) {
  const std::string inp = read_text(stem + ".inp");
  const std::string out = read_text(stem + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(sep, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (Case& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    int32_t id = 0;
    while (ids >> id) c.ids.push_back(id);
  }
  return cases;
}

constexpr size_t kNumCases = 46;  // 46 separators / 46 lines in each file pair

const std::vector<Case>& cases_for(bool spm) {
  static const std::vector<Case> spm_cases =
      load_cases(kTokDir + "/vectors/ggml-vocab-llama-spm.gguf");
  static const std::vector<Case> bpe_cases =
      load_cases(kTokDir + "/vectors/ggml-vocab-llama-bpe.gguf");
  return spm ? spm_cases : bpe_cases;
}

// The GGUF file of an imported source, one per process (ctest runs the
// cases of this executable in parallel); the caller removes it.
std::string gguf_path(const std::string& source) {
  return std::string(TOKAMAK_TEST_TMP) + "/vectors-" + source + "-" + std::to_string(::getpid()) +
         ".gguf";
}

// Imports a source's files and writes the vocabulary as GGUF.
Result<std::string> write_imported_gguf(const std::string& source) {
  Result<Vocab> vocab = make_error(ErrorCode::InvalidArgument, "unknown source " + source);
  if (source == "spm_import_model") {
    vocab = import_sentencepiece_vocab(kTokDir + "/llama2-spm/tokenizer.model");
  } else if (source == "spm_import_bin") {
    vocab = import_llama2c_vocab(kTokDir + "/llama2-spm/tokenizer.bin");
  } else if (source == "bpe_import") {
    vocab = import_gpt2_bpe_vocab(kTokDir + "/llama3-bpe/encoder.json",
                                  kTokDir + "/llama3-bpe/vocab.bpe", "llama-bpe");
  }
  if (!vocab.ok()) return vocab.take_error();
  gguf::Writer writer;
  writer.set("general.architecture", gguf::Value::string("llama"));
  vocab->to_gguf(writer);
  const std::string path = gguf_path(source);
  TK_TRY(writer.write(path));
  return path;
}

// Imported sources: files -> Vocab -> GGUF -> gguf::File -> Vocab.
// llama.cpp sources: its GGUF -> gguf::File -> Vocab.
Result<Vocab> load_vocab(const std::string& source) {
  const bool imported = source.find("import") != std::string::npos;
  std::string path = kTokDir + (source == "spm_llamacpp" ? "/gguf/vocab-llama2-spm.gguf"
                                                         : "/gguf/vocab-llama3-bpe.gguf");
  if (imported) {
    TK_ASSIGN(path, write_imported_gguf(source));
  }
  auto file = gguf::File::open(path);
  if (imported) std::filesystem::remove(path);  // the mapping stays valid
  if (!file.ok()) return file.take_error();
  return Vocab::from_gguf(**file);
}

// One tokenizer per source, built on first use and shared by its cases.
const Tokenizer* tokenizer_for(const std::string& source, std::string* error) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  static std::map<std::string, std::string> errors;
  std::lock_guard lock(mutex);
  if (!cache.count(source) && !errors.count(source)) {
    auto vocab = load_vocab(source);
    if (!vocab.ok()) {
      errors[source] = vocab.error().message;
    } else if (auto t = Tokenizer::create(std::move(vocab).value()); !t.ok()) {
      errors[source] = t.error().message;
    } else {
      cache[source] = std::move(t).value();
    }
  }
  if (errors.count(source)) *error = errors[source];
  return cache.count(source) ? cache[source].get() : nullptr;
}

struct VectorParam {
  std::string source;
  size_t index;
};

class TokenizerVectors : public ::testing::TestWithParam<VectorParam> {};

TEST_P(TokenizerVectors, MatchesLlamaCppIds) {
  const VectorParam& p = GetParam();
  const bool spm = p.source.rfind("spm", 0) == 0;
#ifndef TOKAMAK_HAVE_SENTENCEPIECE
  if (p.source == "spm_import_model") GTEST_SKIP() << "built without libsentencepiece";
#endif
  const std::vector<Case>& cases = cases_for(spm);
  ASSERT_EQ(cases.size(), kNumCases);
  std::string error;
  const Tokenizer* tokenizer = tokenizer_for(p.source, &error);
  ASSERT_NE(tokenizer, nullptr) << error;
  const Case& c = cases[p.index];
  EncodeOptions options;
  options.add_bos = false;
  EXPECT_EQ(tokenizer->encode(c.text, options), c.ids) << "text: '" << c.text << "'";
}

std::vector<VectorParam> all_params() {
  std::vector<VectorParam> params;
  for (const char* source :
       {"spm_import_model", "spm_import_bin", "spm_llamacpp", "bpe_import", "bpe_llamacpp"}) {
    for (size_t i = 0; i < kNumCases; ++i) params.push_back({source, i});
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(All, TokenizerVectors, ::testing::ValuesIn(all_params()),
                         [](const ::testing::TestParamInfo<VectorParam>& info) {
                           return info.param.source + "_" + std::to_string(info.param.index);
                         });

// What Vocab::to_gguf wrote, read by llama.cpp's gguf-py: every tokenizer.*
// key of llama.cpp's own file is there with the same GGUF type and value.
// (vocab.bpe has one merge more than llama.cpp's Llama 3 file: its first
// line "Ġ Ġ", which that file lacks.)
TEST(TokenizerVectorFiles, WrittenVocabularyMatchesLlamaCppFilesInGgufPy) {
  if (std::system("python3 -c 'import gguf' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 with llama.cpp's gguf package is not available";
  }
  struct Pair {
    const char* source;
    const char* theirs;
    bool skip_first_merge;
  };
  for (const Pair& p : {Pair{"spm_import_model", "vocab-llama2-spm", false},
                        Pair{"spm_import_bin", "vocab-llama2-spm", false},
                        Pair{"bpe_import", "vocab-llama3-bpe", true}}) {
#ifndef TOKAMAK_HAVE_SENTENCEPIECE
    if (std::string(p.source) == "spm_import_model") continue;
#endif
    auto ours = write_imported_gguf(p.source);
    ASSERT_TRUE(ours.ok()) << ours.error().message;
    const std::string command = "python3 " + std::string(TOKAMAK_SOURCE_DIR) +
                                "/tests/reference/tokenizer_oracle.py --compare-gguf " + *ours +
                                " " + kTokDir + "/gguf/" + p.theirs + ".gguf" +
                                (p.skip_first_merge ? " --skip-first-merge" : "");
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::filesystem::remove(*ours);
  }
}

TEST(TokenizerVectorFiles, HaveTheExpectedNumberOfCases) {
  EXPECT_EQ(cases_for(true).size(), kNumCases);
  EXPECT_EQ(cases_for(false).size(), kNumCases);
  EXPECT_TRUE(cases_for(true)[2].text.empty());  // the empty text has an empty id line
  EXPECT_TRUE(cases_for(true)[2].ids.empty());
}

}  // namespace
}  // namespace tokamak
