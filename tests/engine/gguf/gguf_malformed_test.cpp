// Malformed GGUF input: each case starts from a valid file written by the
// Writer, corrupts or truncates it, and checks the exact message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "gguf_test_util.h"

namespace tokamak::gguf {
namespace {

using test::after_string;
using test::bytes_of;
using test::open_error;
using test::peek;
using test::poke;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t k2To60 = uint64_t{1} << 60;

std::vector<uint8_t> small_file() { return bytes_of(test::small_writer()); }

TEST(GgufMalformed, ValidFileOpens) { EXPECT_EQ(open_error(small_file()), "OK"); }

TEST(GgufMalformed, BadMagicShowsTheBytes) {
  auto b = small_file();
  b[3] = 'X';
  EXPECT_EQ(open_error(b),
            "model.gguf: not a GGUF file: the first 4 bytes are 47 47 55 58 (\"GGUX\"), expected "
            "47 47 55 46 (\"GGUF\")");
  const std::vector<uint8_t> elf = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  EXPECT_EQ(open_error(elf),
            "model.gguf: not a GGUF file: the first 4 bytes are 7f 45 4c 46 (\".ELF\"), expected "
            "47 47 55 46 (\"GGUF\")");
}

TEST(GgufMalformed, EmptyAndTinyFiles) {
  EXPECT_EQ(open_error({}),
            "model.gguf: file truncated while reading the magic at offset 0: need 4 bytes, only 0 "
            "remain (file is 0 bytes)");
  EXPECT_EQ(open_error({'G', 'G', 'U', 'F', 3, 0}),
            "model.gguf: file truncated while reading the version at offset 4: need 4 bytes, only "
            "2 remain (file is 6 bytes)");
}

TEST(GgufMalformed, UnsupportedVersions) {
  auto b = small_file();
  poke<uint32_t>(b, 4, 1);
  auto r = File::from_memory(b, "model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Unsupported);
  EXPECT_THAT(r.error().message, StartsWith("model.gguf: unsupported GGUF version 1 (GGUF v1 used "
                                            "32-bit counts"));
  poke<uint32_t>(b, 4, 4);
  EXPECT_EQ(open_error(b),
            "model.gguf: unsupported GGUF version 4 (supported versions are 2 and 3)");
  poke<uint32_t>(b, 4, 0);
  EXPECT_EQ(open_error(b),
            "model.gguf: unsupported GGUF version 0 (supported versions are 2 and 3)");
}

TEST(GgufMalformed, BigEndian) {
  auto b = small_file();
  poke<uint32_t>(b, 4, 0x03000000);  // version 3 written big-endian
  EXPECT_EQ(open_error(b),
            "model.gguf: big-endian GGUF not supported (the version field holds version 3 "
            "byte-swapped); convert the file to little-endian");
}

TEST(GgufMalformed, TruncatedHeaderFields) {
  auto b = small_file();
  EXPECT_EQ(open_error({b.begin(), b.begin() + 12}),
            "model.gguf: file truncated while reading the tensor count at offset 8: need 8 bytes, "
            "only 4 remain (file is 12 bytes)");
  EXPECT_EQ(open_error({b.begin(), b.begin() + 20}),
            "model.gguf: file truncated while reading the metadata count at offset 16: need 8 "
            "bytes, only 4 remain (file is 20 bytes)");
  // Cut right after the type tag of llama.block_count: its u32 value is missing.
  const size_t value_at = after_string(b, "llama.block_count") + 4;
  std::vector<uint8_t> cut(b.begin(), b.begin() + value_at + 2);
  EXPECT_EQ(open_error(cut),
            "model.gguf: file truncated while reading the u32 value of key "
            "llama.block_count at offset " +
                std::to_string(value_at) +
                ": need 4 bytes, only 2 remain (file "
                "is " +
                std::to_string(cut.size()) + " bytes)");
  // Cut inside the dimensions of a tensor.
  const size_t dims_at = after_string(b, "blk.0.attn_q.weight") + 4;
  cut.assign(b.begin(), b.begin() + dims_at + 8 + 3);
  EXPECT_EQ(open_error(cut),
            "model.gguf: file truncated while reading dimension 1 of tensor "
            "blk.0.attn_q.weight at offset " +
                std::to_string(dims_at + 8) +
                ": need 8 bytes, only 3 remain "
                "(file is " +
                std::to_string(cut.size()) + " bytes)");
}

TEST(GgufMalformed, EveryTruncationFailsCleanly) {
  const auto b = small_file();
  for (size_t n = 0; n < b.size(); ++n) {
    const std::vector<uint8_t> cut(b.begin(), b.begin() + n);
    auto r = File::from_memory(cut, "model.gguf");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes opened";
    EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
    EXPECT_THAT(r.error().message, StartsWith("model.gguf: "));
  }
}

TEST(GgufMalformed, StringLengthPastEnd) {
  auto b = small_file();
  const size_t len_at = after_string(b, "general.architecture") + 4;
  poke<uint64_t>(b, len_at, 1000000);
  EXPECT_EQ(open_error(b),
            "model.gguf: the string value of key general.architecture has length "
            "1000000 at offset " +
                std::to_string(len_at) + ", past the end of the file (only " +
                std::to_string(b.size() - len_at - 8) + " bytes remain)");
  // The length of a key itself (first key starts at offset 24).
  b = small_file();
  poke<uint64_t>(b, 24, k2To60);
  EXPECT_THAT(open_error(b), StartsWith("model.gguf: the key of metadata entry 0 has length "
                                        "1152921504606846976 at offset 24, past the end"));
}

TEST(GgufMalformed, ArrayLengthPastEndFailsFast) {
  auto b = small_file();
  const size_t count_at = after_string(b, "tokenizer.ggml.tokens") + 4 + 4;
  ASSERT_EQ(peek<uint64_t>(b, count_at), 4u);
  poke<uint64_t>(b, count_at, k2To60);
  // Reserving from the count would throw bad_alloc or exhaust memory; the
  // reader must compare it with the bytes left before allocating anything.
  const std::string message = open_error(b);
  EXPECT_EQ(message,
            "model.gguf: array key tokenizer.ggml.tokens has length 1152921504606846976 "
            "(string items) at offset " +
                std::to_string(count_at) + ", past the end of the file (only " +
                std::to_string(b.size() - count_at - 8) +
                " bytes remain, each item needs at least 8)");
  // A string inside the array.
  b = small_file();
  const size_t item2_at = after_string(b, "</s>") - 4 - 8;
  poke<uint64_t>(b, item2_at, 999999);
  EXPECT_THAT(open_error(b), StartsWith("model.gguf: the string value of item 2 of key "
                                        "tokenizer.ggml.tokens has length 999999 at offset "));
}

TEST(GgufMalformed, AbsurdCountsFailFast) {
  auto b = small_file();
  poke<uint64_t>(b, 16, k2To60);  // metadata count
  EXPECT_EQ(open_error(b),
            "model.gguf: metadata count 1152921504606846976 is impossible: each "
            "entry needs at least 13 bytes and only " +
                std::to_string(b.size() - 24) + " bytes follow the header");
  b = small_file();
  poke<uint64_t>(b, 8, k2To60);  // tensor count
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor count 1152921504606846976 is impossible: each "
            "tensor info needs at least 24 bytes and only " +
                std::to_string(b.size() - 24) + " bytes follow the header");
  // Plausible-looking but still too large for the file.
  b = small_file();
  poke<uint64_t>(b, 16, b.size());
  EXPECT_THAT(open_error(b), HasSubstr("is impossible"));
}

TEST(GgufMalformed, TensorDimensions) {
  auto b = small_file();
  const size_t q = after_string(b, "blk.0.attn_q.weight");
  poke<uint32_t>(b, q, 5);
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor blk.0.attn_q.weight has 5 dimensions, at most 4 are supported");

  b = small_file();
  const size_t norm = after_string(b, "output_norm.weight");
  poke<uint64_t>(b, norm + 4, 0);
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor output_norm.weight has dimension 0 of size 0 (shape [0]); every "
            "dimension must be at least 1");
  poke<int64_t>(b, norm + 4, -5);
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor output_norm.weight has dimension 0 of size -5 (shape [-5]); every "
            "dimension must be at least 1");

  b = small_file();
  poke<uint64_t>(b, q + 4, uint64_t{1} << 32);
  poke<uint64_t>(b, q + 12, uint64_t{1} << 32);
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor blk.0.attn_q.weight has shape [4294967296, 4294967296] whose "
            "number of values overflows int64");

  // 2^62 F64 values fit int64 but not 2^64 bytes.
  b = small_file();
  poke<uint64_t>(b, q + 4, uint64_t{1} << 31);
  poke<uint64_t>(b, q + 12, uint64_t{1} << 31);
  poke<uint32_t>(b, q + 20, static_cast<uint32_t>(TensorType::F64));
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor blk.0.attn_q.weight of type F64 and shape "
            "[2147483648, 2147483648] is larger than 2^64 bytes");
}

TEST(GgufMalformed, TensorDataOutOfBounds) {
  Writer w;
  w.add_tensor("blk.3.attn_q.weight", {1024, 4}, TensorType::F32, std::vector<uint8_t>(16384, 1));
  auto b = bytes_of(w);
  b.resize(b.size() - 4096);
  auto r = File::from_memory(b, "model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::BadFormat);
  EXPECT_THAT(r.error().message,
              StartsWith("model.gguf: tensor blk.3.attn_q.weight extends 4096 bytes past the end "
                         "of the file (16384 bytes at offset 0 of the data section"));

  // An offset far past the end.
  b = small_file();
  const size_t off_at = after_string(b, "output_norm.weight") + 4 + 8 + 4;
  poke<uint64_t>(b, off_at, uint64_t{1} << 40);
  EXPECT_THAT(open_error(b), HasSubstr("tensor output_norm.weight extends "));
  // An offset near 2^64: the end does not wrap around.
  poke<uint64_t>(b, off_at, ~uint64_t{31});
  EXPECT_THAT(open_error(b), HasSubstr("tensor output_norm.weight extends 1844674407370955"));
}

TEST(GgufMalformed, MisalignedTensorOffset) {
  auto b = small_file();
  const size_t off_at = after_string(b, "output_norm.weight") + 4 + 8 + 4;
  const auto offset = peek<uint64_t>(b, off_at);
  poke<uint64_t>(b, off_at, offset + 4);
  EXPECT_EQ(open_error(b), "model.gguf: tensor output_norm.weight has data offset " +
                               std::to_string(offset + 4) + ", not a multiple of the alignment 32");
}

TEST(GgufMalformed, RowNotMultipleOfBlock) {
  Writer w;
  w.add_tensor("tok_embd.weight", {64}, TensorType::Q8_0, std::vector<uint8_t>(68, 0));
  auto b = bytes_of(w);
  poke<uint64_t>(b, after_string(b, "tok_embd.weight") + 4, 48);
  EXPECT_EQ(open_error(b),
            "model.gguf: tensor tok_embd.weight of type Q8_0 has rows of 48 values "
            "(shape [48]), not a multiple of the block size 32");
}

TEST(GgufMalformed, UnknownTensorType) {
  auto b = small_file();
  const size_t type_at = after_string(b, "blk.0.attn_q.weight") + 4 + 16;
  poke<uint32_t>(b, type_at, 1234);
  EXPECT_EQ(open_error(b), "model.gguf: tensor blk.0.attn_q.weight has unknown type 1234");
  poke<uint32_t>(b, type_at, 4);  // Q4_2, removed from ggml
  EXPECT_EQ(open_error(b), "model.gguf: tensor blk.0.attn_q.weight has unknown type 4");
}

TEST(GgufMalformed, KnownButUnsupportedTypesLoad) {
  Writer w;
  w.add_tensor("blk.0.ffn_down.weight", {256, 2}, TensorType::Q5_K, std::vector<uint8_t>(352, 7));
  w.add_tensor("x", {32}, TensorType::IQ4_NL, std::vector<uint8_t>(18, 1));
  const auto b = bytes_of(w);
  auto r = File::from_memory(b);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->tensors()[0].type, TensorType::Q5_K);
  EXPECT_EQ((*r)->tensors()[0].size_bytes, 352u);
  EXPECT_FALSE(is_supported_weight_type((*r)->tensors()[0].type));
}

TEST(GgufMalformed, DuplicateKeys) {
  Writer w;
  w.set("dup.a", Value::u32(1));
  w.set("dup.b", Value::string("x"));
  auto b = bytes_of(w);
  b[after_string(b, "dup.b") - 1] = 'a';
  EXPECT_EQ(open_error(b), "model.gguf: duplicate metadata key dup.a (entries 0 and 1)");
}

TEST(GgufMalformed, DuplicateTensorNames) {
  Writer w;
  w.add_tensor("t.a", {8}, TensorType::F32, std::vector<uint8_t>(32, 0));
  w.add_tensor("t.c", {8}, TensorType::F32, std::vector<uint8_t>(32, 0));
  w.add_tensor("t.b", {8}, TensorType::F32, std::vector<uint8_t>(32, 0));
  auto b = bytes_of(w);
  b[after_string(b, "t.b") - 1] = 'a';
  EXPECT_EQ(open_error(b), "model.gguf: duplicate tensor name t.a (tensors 0 and 2)");
}

TEST(GgufMalformed, Alignment) {
  Writer w(3, 64);
  w.add_tensor("t", {8}, TensorType::F32, std::vector<uint8_t>(32, 0));
  auto b = bytes_of(w);
  const size_t value_at = after_string(b, "general.alignment") + 4;
  ASSERT_EQ(peek<uint32_t>(b, value_at), 64u);
  poke<uint32_t>(b, value_at, 48);
  EXPECT_EQ(open_error(b), "model.gguf: general.alignment is 48, expected a nonzero power of two");
  poke<uint32_t>(b, value_at, 0);
  EXPECT_EQ(open_error(b), "model.gguf: general.alignment is 0, expected a nonzero power of two");

  Writer w2;
  w2.set("general.alignmenX", Value::u64(32));
  b = bytes_of(w2);
  b[after_string(b, "general.alignmenX") - 1] = 't';
  EXPECT_EQ(open_error(b), "model.gguf: general.alignment has type u64, expected u32");
}

TEST(GgufMalformed, UnknownValueType) {
  auto b = small_file();
  const size_t type_at = after_string(b, "llama.block_count");
  poke<uint32_t>(b, type_at, 13);
  EXPECT_EQ(open_error(b),
            "model.gguf: key llama.block_count has unknown value type 13 at offset " +
                std::to_string(type_at) + " (known types are 0 to 12)");
  b = small_file();
  const size_t elem_at = after_string(b, "tokenizer.ggml.tokens") + 4;
  poke<uint32_t>(b, elem_at, 77);
  EXPECT_EQ(open_error(b),
            "model.gguf: array key tokenizer.ggml.tokens has unknown element type "
            "77 at offset " +
                std::to_string(elem_at) + " (known types are 0 to 12)");
}

Value nest(int levels) {
  Value v = Value::i32_array({1, 2});
  for (int i = 1; i < levels; ++i) v = Value::array(Array{ValueType::Array, {v}});
  return v;
}

TEST(GgufMalformed, NestingDepthLimit) {
  Writer ok;
  ok.set("deep", nest(64));
  const auto b64 = bytes_of(ok);
  auto r = File::from_memory(b64);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*(*r)->find("deep"), nest(64));

  Writer too_deep;
  too_deep.set("deep", nest(65));
  auto w = too_deep.write_to_memory();
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error().message, HasSubstr("nested more than 64 deep"));

  // Hand-made: 100000 nested array headers must not overflow the stack.
  std::vector<uint8_t> b = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
  for (uint64_t v : {uint64_t{0}, uint64_t{1}}) b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 8);
  const uint64_t key_len = 4;
  b.insert(b.end(), (const uint8_t*)&key_len, (const uint8_t*)&key_len + 8);
  b.insert(b.end(), {'d', 'e', 'e', 'p', 9, 0, 0, 0});
  for (int i = 0; i < 100000; ++i) {
    b.insert(b.end(), {9, 0, 0, 0});              // element type: array
    b.insert(b.end(), {1, 0, 0, 0, 0, 0, 0, 0});  // one item
  }
  std::string path;
  for (int i = 0; i < 64; ++i) path += "[0]";
  // header 24 + key 12 + type tag 4, then 64 array headers of 12 bytes each.
  EXPECT_EQ(open_error(b), "model.gguf: item " + path +
                               " of key deep has arrays nested more than 64 deep at offset " +
                               std::to_string(24 + 12 + 4 + 64 * 12));
}

// Random corruption never crashes or hangs; whatever opens is internally
// consistent (tensor data inside the buffer).
TEST(GgufMalformed, RandomCorruptionIsHandled) {
  const auto valid = small_file();
  std::mt19937 rng(1234);
  int num_opened = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto b = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng() % b.size();
      b[at] = (rng() % 3 == 0) ? 0xff : static_cast<uint8_t>(rng());
    }
    if (rng() % 5 == 0) b.resize(rng() % b.size());
    auto r = File::from_memory(b, "model.gguf");
    if (!r.ok()) {
      EXPECT_THAT(r.error().message, StartsWith("model.gguf: "));
      continue;
    }
    ++num_opened;
    for (const auto& t : (*r)->tensors()) {
      ASSERT_GE(t.data, b.data());
      ASSERT_LE(t.data + t.size_bytes, b.data() + b.size());
    }
  }
  EXPECT_GT(num_opened, 0);
}

TEST(GgufMalformed, OpenMissingFileAndDirectory) {
  auto r = File::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::NotFound);
  EXPECT_EQ(r.error().message,
            "/nonexistent/dir/model.gguf: cannot open: No such file or directory");
  auto d = File::open(TOKAMAK_TEST_TMP);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, std::string(TOKAMAK_TEST_TMP) + ": not a regular file");
}

}  // namespace
}  // namespace tokamak::gguf
