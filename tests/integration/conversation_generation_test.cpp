// A real generation streamed into the conversation store as the app does it:
// the trained aidreams260K model on the CPU backend, greedy from BOS, its
// token texts saved in batches while a reader on another connection watches,
// then finished with the record the Generator reports. The saved answer must
// be the text of llama2.c's reference ids (greedy_from_bos.txt).
#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "aidreams.h"
#include "cpu/cpu_backend.h"
#include "generate/generator.h"
#include "model/model.h"
#include "scratch_dir.h"
#include "store/conversation_export.h"
#include "store/conversation_store.h"
#include "store/model_fingerprint.h"
#include "store/sampling_json.h"
#include "store/sha256.h"

namespace tokamak {
namespace {

std::unique_ptr<ConversationStore> open_store(const std::string& path, StoreRole role) {
  DatabaseOptions o;
  o.path = path;
  auto s = ConversationStore::open(o, role);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(s).value() : nullptr;
}

TEST(ConversationGeneration, AStreamedGreedyAnswerIsSavedWithItsRecord) {
  constexpr int32_t kNumTokens = 64;
  constexpr int32_t kTokensPerSave = 8;  // stands in for the app's 250 ms cadence
  const std::vector<int32_t> reference = test::aidreams_greedy_ids();
  ASSERT_EQ(reference.size(), test::kAidreamsNumGreedyIds);
  auto model = Model::load(test::kAidreamsGguf);
  ASSERT_TRUE(model.ok()) << model.error().message;
  CpuBackendOptions bo;
  bo.num_threads = 2;
  auto backend = make_cpu_backend(*model, bo);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  const Tokenizer& tokenizer = (*model)->tokenizer();
  Generator generator(**backend, tokenizer);

  const std::string path = test::scratch_dir("conversation_generation") + "/db";
  auto writer = open_store(path, StoreRole::Writer);
  auto reader = open_store(path, StoreRole::Reader);
  ASSERT_TRUE(writer && reader);
  const int64_t conv = writer->create_conversation("aidreams").value();
  const int64_t question = writer->add_message(conv, 0, MessageRole::User, "").value();
  const int64_t answer = writer->begin_answer(conv, question).value();

  SamplingSettings settings;
  settings.params.temperature = 0;
  settings.params.seed = 42;
  settings.max_tokens = kNumTokens;
  GenerationRequest request{{tokenizer.bos_id()}, settings.params, {}, kNumTokens};
  std::string pending, streamed;
  int32_t num_tokens = 0, num_saves = 0;
  std::vector<std::string> seen_by_reader;
  auto result = generator.generate(request, [&](const GenerationEvent& e) {
    const auto* t = std::get_if<TokenEvent>(&e);
    if (!t) return;
    pending += t->text;
    streamed += t->text;
    if (++num_tokens % kTokensPerSave == 0) {
      EXPECT_TRUE(writer->append_answer(answer, pending).ok());
      pending.clear();
      ++num_saves;
      seen_by_reader.push_back(reader->message(answer).value().content);
    }
  });
  ASSERT_TRUE(result.ok()) << result.error().message;
  const GenerationStats& stats = *result;

  GenerationRecord record;
  auto fingerprint = fingerprint_model(test::kAidreamsGguf);
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.error().message;
  record.model_path = fingerprint->path;
  record.model_size_bytes = fingerprint->size_bytes;
  record.model_header_sha256 = fingerprint->header_sha256;
  record.template_name = "none";
  record.template_sha256 = sha256_hex("");
  record.sampling_json = sampling_settings_json(settings);
  record.seed = settings.params.seed;
  record.engine_version = "test";
  record.device = "cpu";
  record.set_stats(stats);
  ASSERT_TRUE(writer->finish_answer(answer, pending, record).ok());

  // The saved text is the reference ids' text, and each save the reader saw
  // was a growing prefix of it.
  const std::vector<int32_t> first(reference.begin(), reference.begin() + kNumTokens);
  const std::string expected = tokenizer.decode(first);
  const Message saved = reader->message(answer).value();
  EXPECT_EQ(saved.content, expected);
  EXPECT_EQ(saved.content, streamed);
  EXPECT_EQ(saved.status, MessageStatus::Complete);
  ASSERT_EQ(num_saves, kNumTokens / kTokensPerSave);
  for (size_t i = 0; i < seen_by_reader.size(); ++i) {
    EXPECT_EQ(expected.rfind(seen_by_reader[i], 0), 0u) << i;
    if (i > 0) {
      EXPECT_GT(seen_by_reader[i].size(), seen_by_reader[i - 1].size());
    }
  }

  const auto back = reader->record(answer).value();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->num_prompt_tokens, 1);
  EXPECT_EQ(back->num_generated_tokens, kNumTokens);
  EXPECT_EQ(back->finish_reason, "length");
  EXPECT_GT(back->ttft_ms, 0.0);
  EXPECT_GT(back->decode_tokens_per_second, 0.0);
  EXPECT_EQ(back->model_header_sha256,
            "e5ffcfbfc848af556b7ee860dbeaa755386ab193cdbff2d9767a89940d6fe33a");
  EXPECT_EQ(parse_sampling_settings(back->sampling_json).value().params.temperature, 0.0f);

  // Searchable and exported with its figures.
  std::string word;  // the first word of four or more letters
  for (size_t i = 0; i < expected.size() && word.size() < 4; ++i) {
    if (std::isalpha(static_cast<unsigned char>(expected[i]))) {
      word += expected[i];
    } else if (word.size() < 4) {
      word.clear();
    }
  }
  ASSERT_GE(word.size(), 4u) << expected;
  const auto hits = reader->search(word).value();
  ASSERT_EQ(hits.size(), 1u) << word;
  EXPECT_EQ(hits[0].message_id, answer);
  const std::string jsonl =
      export_conversation_jsonl(*reader, conv, ExportScope::CurrentBranch).value();
  const auto last = nlohmann::json::parse(jsonl.substr(jsonl.rfind('\n', jsonl.size() - 2) + 1));
  EXPECT_EQ(last["content"], expected);
  EXPECT_EQ(last["generation"]["num_generated_tokens"], kNumTokens);
  EXPECT_EQ(last["generation"]["finish_reason"], "length");
}

}  // namespace
}  // namespace tokamak
