// The tokenizers on small in-memory vocabularies whose results can be worked
// out by hand (see the comments): merge order, byte fallback, special tokens,
// decoding and streaming.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "tokenizer/byte_unicode.h"

namespace tokamak {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// SPM: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then pieces with scores.
struct ToySpm {
  Vocab vocab;
  int32_t id(const std::string& text) const {
    for (int32_t i = 0; i < vocab.size(); ++i) {
      if (vocab.tokens[i] == text) return i;
    }
    ADD_FAILURE() << "no token " << text;
    return -1;
  }
  static int32_t byte(uint8_t b) { return 3 + b; }
};

ToySpm make_spm() {
  ToySpm t;
  Vocab& v = t.vocab;
  v.kind = VocabKind::Spm;
  auto add = [&](std::string text, float score, TokenType type) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, TokenType::Unknown);
  add("<s>", 0, TokenType::Control);
  add("</s>", 0, TokenType::Control);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    add(name, 0, TokenType::Byte);
  }
  for (const char* c : {"\xE2\x96\x81", "h", "e", "l", "o"}) add(c, -100, TokenType::Normal);
  // "▁hello": ▁h (10) first, then ▁he (9), ll (8), llo (7); el (5) and lo (1)
  // go stale. Result ▁he + llo.
  add("\xE2\x96\x81h", 10, TokenType::Normal);
  add("\xE2\x96\x81he", 9, TokenType::Normal);
  add("ll", 8, TokenType::Normal);
  add("llo", 7, TokenType::Normal);
  add("el", 5, TokenType::Normal);
  add("lo", 1, TokenType::Normal);
  add("<tool>", 0, TokenType::UserDefined);
  add("<|end|>", 0, TokenType::Control);
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.eog_ids = {2, v.size() - 1};
  return t;
}

std::unique_ptr<Tokenizer> create(Vocab v) {
  auto t = Tokenizer::create(std::move(v));
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? std::move(t).value() : nullptr;
}

EncodeOptions opts(bool add_bos, bool parse_special) {
  EncodeOptions o;
  o.add_bos = add_bos;
  o.parse_special = parse_special;
  return o;
}

TEST(SpmTokenizer, MergesHighestScoreFirst) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->encode("hello", opts(true, false)),
            (std::vector<int32_t>{1, toy.id("\xE2\x96\x81he"), toy.id("llo")}));
  EXPECT_EQ(t->encode("hello", opts(false, false)),
            (std::vector<int32_t>{toy.id("\xE2\x96\x81he"), toy.id("llo")}));
}

TEST(SpmTokenizer, EmptyTextIsOnlyBos) {
  auto t = create(make_spm().vocab);
  EXPECT_EQ(t->encode("", opts(true, false)), (std::vector<int32_t>{1}));
  EXPECT_TRUE(t->encode("", opts(false, false)).empty());
}

TEST(SpmTokenizer, NoBosWhenTheVocabSaysNot) {
  ToySpm toy = make_spm();
  toy.vocab.add_bos = false;
  auto t = create(toy.vocab);
  EXPECT_TRUE(t->encode("", opts(true, false)).empty());
}

TEST(SpmTokenizer, UnknownCharactersFallBackToByteTokens) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  // "hé": ▁h, then é = C3 A9 is no piece -> two byte tokens.
  EXPECT_EQ(
      t->encode("h\xC3\xA9", opts(false, false)),
      (std::vector<int32_t>{toy.id("\xE2\x96\x81h"), ToySpm::byte(0xC3), ToySpm::byte(0xA9)}));
}

TEST(SpmTokenizer, ByteFallbackWithoutByteTokensUsesUnk) {
  ToySpm toy = make_spm();
  for (int b = 0; b < 256; ++b) toy.vocab.tokens[3 + b] = "byte" + std::to_string(b);
  auto t = create(toy.vocab);
  EXPECT_EQ(t->encode("x", opts(false, false)), (std::vector<int32_t>{toy.id("\xE2\x96\x81"), 0}));
}

TEST(SpmTokenizer, ControlTokensOnlyWithParseSpecial) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  const int32_t he = toy.id("\xE2\x96\x81he");
  const int32_t llo = toy.id("llo");
  // Parsed: a space prefix goes again before the text after a special token.
  EXPECT_EQ(t->encode("hello</s>hello", opts(false, true)),
            (std::vector<int32_t>{he, llo, 2, he, llo}));
  // Not parsed: "</s>" is text made of byte tokens.
  std::vector<int32_t> expected = {he, llo};
  for (char c : std::string("</s>")) expected.push_back(ToySpm::byte(c));
  // "hello" without a space prefix: ll (8), then llo (7); "el" goes stale.
  expected.push_back(toy.id("h"));
  expected.push_back(toy.id("e"));
  expected.push_back(toy.id("llo"));
  EXPECT_EQ(t->encode("hello</s>hello", opts(false, false)), expected);
}

TEST(SpmTokenizer, UserDefinedTokensAreAlwaysRecognised) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  const std::vector<int32_t> expected = {toy.id("\xE2\x96\x81he"), toy.id("llo"), toy.id("<tool>")};
  EXPECT_EQ(t->encode("hello<tool>", opts(false, false)), expected);
  EXPECT_EQ(t->encode("hello<tool>", opts(false, true)), expected);
}

TEST(SpmTokenizer, TokenBytesAndDecode) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  EXPECT_EQ(t->token_bytes(toy.id("\xE2\x96\x81he")), " he");
  EXPECT_EQ(t->token_bytes(ToySpm::byte(0xC3)), "\xC3");
  EXPECT_EQ(t->token_bytes(2), "");
  EXPECT_EQ(t->token_bytes(2, true), "</s>");
  EXPECT_EQ(t->token_bytes(-1), "");
  EXPECT_EQ(t->token_bytes(t->vocab().size()), "");
  // The prefix space is dropped; BOS decodes to nothing.
  for (std::string text : {"hello h\xC3\xA9llo", "  hello", "h\n\xF0\x9F\x98\x80"}) {
    EXPECT_EQ(t->decode(t->encode(text, opts(true, false))), text);
  }
  EXPECT_EQ(t->decode(t->encode("hello", opts(true, false)), true), "<s>hello");
}

TEST(SpmTokenizer, EndOfGeneration) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  EXPECT_TRUE(t->is_end_of_generation(2));
  EXPECT_TRUE(t->is_end_of_generation(toy.id("<|end|>")));
  EXPECT_FALSE(t->is_end_of_generation(1));
  EXPECT_FALSE(t->is_end_of_generation(-1));
}

TEST(StreamDecoder, EmitsOnlyWholeCharacters) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  StreamDecoder d(*t);
  EXPECT_EQ(d.push(1), "");                           // BOS
  EXPECT_EQ(d.push(toy.id("\xE2\x96\x81he")), "he");  // leading space dropped once
  EXPECT_EQ(d.push(toy.id("\xE2\x96\x81he")), " he");
  // U+1F600 as four byte tokens.
  EXPECT_EQ(d.push(ToySpm::byte(0xF0)), "");
  EXPECT_EQ(d.push(ToySpm::byte(0x9F)), "");
  EXPECT_EQ(d.push(ToySpm::byte(0x98)), "");
  EXPECT_EQ(d.push(ToySpm::byte(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  StreamDecoder d(*t);
  EXPECT_EQ(d.push(ToySpm::byte(0xFF)), kFffd);
  EXPECT_EQ(d.push(ToySpm::byte(0xF0)), "");  // may still become valid
  EXPECT_EQ(d.push(toy.id("h")), kFffd + "h");
  EXPECT_EQ(d.push(ToySpm::byte(0xE2)), "");
  EXPECT_EQ(d.push(ToySpm::byte(0x82)), "");
  EXPECT_EQ(d.flush(), kFffd);  // cut-off sequence at the end
  EXPECT_EQ(d.push(-5), "");    // out-of-range ids are ignored, never a crash
  EXPECT_EQ(d.push(1 << 30), "");
}

TEST(StreamDecoder, RenderSpecial) {
  const ToySpm toy = make_spm();
  auto t = create(toy.vocab);
  StreamDecoder d(*t, /*render_special=*/true);
  EXPECT_EQ(d.push(1), "<s>");
  EXPECT_EQ(d.push(toy.id("\xE2\x96\x81he")), "he");
}

// Byte-level BPE: ids 0..255 are the byte characters (in byte order), then
// merged tokens. Merges by rank: he(0) ll(1) hell(2) hello(3) Ġh(4) Ġhe(5).
// " hello": Ġ h e l l o -> he first (rank 0 beats Ġh's 4), so Ġh never
// forms: Ġ he ll o -> Ġ hell o -> Ġ hello.
Vocab make_bpe() {
  Vocab v;
  v.kind = VocabKind::Bpe;
  v.pre = "gpt-2";
  v.add_bos = false;
  v.add_space_prefix = false;
  for (int b = 0; b < 256; ++b) {
    v.tokens.emplace_back(byte_unicode().encode(static_cast<uint8_t>(b)));
    v.types.push_back(TokenType::Normal);
  }
  for (const char* t : {"he", "ll", "hell", "hello", "\xC4\xA0h", "\xC4\xA0he"}) {
    v.tokens.emplace_back(t);
    v.types.push_back(TokenType::Normal);
  }
  v.merges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 h", "\xC4\xA0h e"};
  v.tokens.emplace_back("<|endoftext|>");
  v.types.push_back(TokenType::Control);
  v.eos_id = v.size() - 1;
  v.bos_id = v.size() - 1;
  return v;
}

TEST(BpeTokenizer, MergesLowestRankFirst) {
  auto t = create(make_bpe());
  ASSERT_TRUE(t);
  const int32_t hello = 259, space = ' ';  // ' ' is byte 0x20 -> id 32
  EXPECT_EQ(t->encode("hello hello", opts(true, false)),
            (std::vector<int32_t>{hello, space, hello}));
  EXPECT_TRUE(t->encode("", opts(true, false)).empty());
}

TEST(BpeTokenizer, SpecialTokensOnlyWithParseSpecial) {
  auto t = create(make_bpe());
  const int32_t eot = t->vocab().size() - 1;
  EXPECT_EQ(t->encode("he<|endoftext|>", opts(false, true)), (std::vector<int32_t>{256, eot}));
  const auto plain = t->encode("he<|endoftext|>", opts(false, false));
  EXPECT_EQ(plain.size(), 1u + 2 + 9 + 2);  // he, <|, endoftext as bytes, |>
  EXPECT_EQ(t->decode(plain), "he<|endoftext|>");
  EXPECT_EQ(t->decode({256, eot}), "he");
  EXPECT_EQ(t->decode({256, eot}, true), "he<|endoftext|>");
}

TEST(BpeTokenizer, RoundTripsAnyBytesExactly) {
  auto t = create(make_bpe());
  for (std::string text : {std::string("hello \n\t world 123 !!"),
                           std::string("\xF0\x9F\x98\x80 h\xC3\xA9"), std::string("a\0b", 3)}) {
    EXPECT_EQ(t->decode(t->encode(text, opts(false, false))), text);
  }
  // Invalid UTF-8 is kept byte for byte by the encoder; decode repairs it.
  const auto ids = t->encode(
      "a\xFF"
      "b",
      opts(false, false));
  EXPECT_EQ(ids, (std::vector<int32_t>{'a', 0xFF, 'b'}));
  EXPECT_EQ(t->decode(ids), "a" + kFffd + "b");
}

TEST(BpeTokenizer, UnsupportedPreTokenizerIsNamed) {
  Vocab v = make_bpe();
  v.pre = "klingon";
  auto t = Tokenizer::create(v);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::Unsupported);
  EXPECT_NE(t.error().message.find("klingon"), std::string::npos);
}

TEST(Tokenizer, RejectsInconsistentVocab) {
  Vocab v = make_bpe();
  v.types.pop_back();
  EXPECT_FALSE(Tokenizer::create(v).ok());
  v = make_bpe();
  v.eos_id = v.size();
  auto t = Tokenizer::create(v);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("eos"), std::string::npos);
  EXPECT_FALSE(Tokenizer::create(Vocab{}).ok());
}

}  // namespace
}  // namespace tokamak
