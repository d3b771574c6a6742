// Vocab::from_gguf / to_gguf: round trips through the project's GGUF writer
// and reader, defaults, validation errors, and llama.cpp-written files.
#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "test_vocabs.h"
#include "tokenizer/vocab.h"

namespace tokamak {
namespace {

using gguf::Value;

Vocab small_bpe() {
  Vocab v;
  v.kind = VocabKind::Bpe;
  v.pre = "qwen2";
  v.tokens = {"a", "b", "ab", "<|im_end|>", "<|im_start|>", "<think>", "<|endoftext|>"};
  v.types = {
      TokenType::Normal,  TokenType::Normal,      TokenType::Normal, TokenType::Control,
      TokenType::Control, TokenType::UserDefined, TokenType::Normal};  // a *normal* token with an
                                                                       // end text is no EOG
  v.merges = {"a b"};
  v.bos_id = 4;
  v.eos_id = 3;
  v.pad_id = 6;
  v.eog_ids = {2, 3};  // 2 is not implied by texts: must travel as eot_token_id
  v.add_bos = false;
  v.add_eos = true;
  v.add_space_prefix = false;
  return v;
}

// Writes with gguf::Writer, reads back with gguf::File (in memory).
struct Loaded {
  std::vector<uint8_t> bytes;
  std::unique_ptr<gguf::File> file;
};
Loaded load(const gguf::Writer& writer) {
  Loaded l;
  auto bytes = writer.write_to_memory();
  EXPECT_TRUE(bytes.ok()) << bytes.error().message;
  l.bytes = std::move(bytes).value();
  auto file = gguf::File::from_memory(l.bytes, "test.gguf");
  EXPECT_TRUE(file.ok()) << file.error().message;
  l.file = std::move(file).value();
  return l;
}

Result<Vocab> through_gguf(const Vocab& v) {
  gguf::Writer writer;
  v.to_gguf(writer);
  Loaded l = load(writer);
  return Vocab::from_gguf(*l.file);
}

void expect_same(const Vocab& a, const Vocab& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.pre, b.pre);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.types, b.types);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_id, b.eos_id);
  EXPECT_EQ(a.unk_id, b.unk_id);
  EXPECT_EQ(a.pad_id, b.pad_id);
  EXPECT_EQ(a.eog_ids, b.eog_ids);
  EXPECT_EQ(a.add_bos, b.add_bos);
  EXPECT_EQ(a.add_eos, b.add_eos);
  EXPECT_EQ(a.add_space_prefix, b.add_space_prefix);
}

TEST(VocabGguf, BpeRoundTrip) {
  const Vocab v = small_bpe();
  auto back = through_gguf(v);
  ASSERT_TRUE(back.ok()) << back.error().message;
  expect_same(*back, v);
}

TEST(VocabGguf, SpmRoundTripAndEog) {
  Vocab v;
  v.kind = VocabKind::Spm;
  v.tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81hi", "<end_of_turn>"};
  v.scores = {0, 0, 0, -1.5f, 0};
  v.types = {TokenType::Unknown, TokenType::Control, TokenType::Control, TokenType::Normal,
             TokenType::Control};
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.eog_ids = {2, 4};
  auto back = through_gguf(v);
  ASSERT_TRUE(back.ok()) << back.error().message;
  expect_same(*back, v);
}

TEST(VocabGguf, DefaultsWhenKeysAreMissing) {
  for (const char* model : {"llama", "gpt2"}) {
    gguf::Writer w;
    w.set("tokenizer.ggml.model", Value::string(model));
    w.set("tokenizer.ggml.tokens", Value::string_array({"a", "b"}));
    Loaded l = load(w);
    auto v = Vocab::from_gguf(*l.file);
    ASSERT_TRUE(v.ok()) << v.error().message;
    const bool spm = std::string(model) == "llama";
    EXPECT_EQ(v->kind, spm ? VocabKind::Spm : VocabKind::Bpe);
    EXPECT_EQ(v->add_space_prefix, spm);
    EXPECT_EQ(v->add_bos, spm);
    EXPECT_FALSE(v->add_eos);
    EXPECT_EQ(v->types, (std::vector<TokenType>{TokenType::Normal, TokenType::Normal}));
    EXPECT_EQ(v->bos_id, -1);
    EXPECT_TRUE(v->eog_ids.empty());
  }
}

TEST(VocabGguf, NoneIdAsUint32MaxIsAbsent) {
  gguf::Writer w;
  w.set("tokenizer.ggml.model", Value::string("llama"));
  w.set("tokenizer.ggml.tokens", Value::string_array({"a"}));
  w.set("tokenizer.ggml.padding_token_id", Value::u32(0xFFFFFFFFu));
  Loaded l = load(w);
  auto v = Vocab::from_gguf(*l.file);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->pad_id, -1);
}

// Each malformed file fails with a message naming the key and the numbers.
struct BadCase {
  const char* name;
  std::function<void(gguf::Writer&)> edit;
  ErrorCode code;
  std::vector<std::string> message_parts;
};

TEST(VocabGguf, ClearErrors) {
  const std::vector<BadCase> cases = {
      {"unsupported model",
       [](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value::string("bert")); },
       ErrorCode::Unsupported,
       {"bert", "tokenizer.ggml.model"}},
      {"no model",
       [](gguf::Writer& w) { w.remove("tokenizer.ggml.model"); },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.model", "missing"}},
      {"no tokens",
       [](gguf::Writer& w) { w.remove("tokenizer.ggml.tokens"); },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.tokens"}},
      {"scores size",
       [](gguf::Writer& w) {
         w.set("tokenizer.ggml.scores", Value::f32_array({1, 2}));
       },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.scores", "2", "7"}},
      {"types size",
       [](gguf::Writer& w) { w.set("tokenizer.ggml.token_type", Value::i32_array({1})); },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.token_type", "1", "7"}},
      {"bad type",
       [](gguf::Writer& w) {
         w.set("tokenizer.ggml.token_type", Value::i32_array({1, 1, 1, 1, 1, 1, 9}));
       },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.token_type[6]"}},
      {"bos range",
       [](gguf::Writer& w) { w.set("tokenizer.ggml.bos_token_id", Value::u32(7)); },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.bos_token_id", "7"}},
      {"eos type",
       [](gguf::Writer& w) { w.set("tokenizer.ggml.eos_token_id", Value::string("x")); },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.eos_token_id"}},
      {"tokens type",
       [](gguf::Writer& w) { w.set("tokenizer.ggml.tokens", Value::i32_array({1})); },
       ErrorCode::BadFormat,
       {"tokenizer.ggml.tokens"}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    gguf::Writer w;
    small_bpe().to_gguf(w);
    c.edit(w);
    Loaded l = load(w);
    auto v = Vocab::from_gguf(*l.file);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, c.code) << v.error().message;
    for (const std::string& part : c.message_parts) {
      EXPECT_NE(v.error().message.find(part), std::string::npos) << v.error().message;
    }
  }
}

TEST(VocabGguf, LlamaCppLlama3File) {
  auto file = gguf::File::open(test::kTokenizerDir + "/gguf/vocab-llama3-bpe.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto v = Vocab::from_gguf(**file);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->kind, VocabKind::Bpe);
  EXPECT_EQ(v->pre, "llama-bpe");
  EXPECT_EQ(v->size(), 128256);
  EXPECT_EQ(v->merges.size(), 280146u);
  EXPECT_EQ(v->bos_id, 128000);
  EXPECT_EQ(v->eos_id, 128009);
  EXPECT_TRUE(v->add_bos);
  EXPECT_FALSE(v->add_space_prefix);
  // <|end_of_text|>, <|eom_id|>, <|eot_id|>
  EXPECT_EQ(v->eog_ids, (std::vector<int32_t>{128001, 128008, 128009}));
}

TEST(VocabGguf, LlamaCppLlama2File) {
  auto file = gguf::File::open(test::kTokenizerDir + "/gguf/vocab-llama2-spm.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto v = Vocab::from_gguf(**file);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->kind, VocabKind::Spm);
  EXPECT_EQ(v->size(), 32000);
  EXPECT_EQ(v->scores.size(), 32000u);
  EXPECT_EQ(v->unk_id, 0);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->eog_ids, (std::vector<int32_t>{2}));
  EXPECT_TRUE(v->add_space_prefix);
  EXPECT_EQ(v->types[3], TokenType::Byte);
}

}  // namespace
}  // namespace tokamak
