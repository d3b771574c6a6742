// The llama2.c layout on hand-made headers (the integration test converts the
// real aidreams260K checkpoint).
#include "convert/llama2c_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "convert/model_metadata.h"

namespace tokamak {
namespace {

std::vector<uint8_t> header(std::vector<int32_t> h, size_t total_bytes) {
  std::vector<uint8_t> bytes(std::max<size_t>(total_bytes, 28));
  std::memcpy(bytes.data(), h.data(), 28);
  return bytes;
}

TEST(Llama2cLayout, UnsharedClassifierAndGqa) {
  // dim 8, hidden 16, 2 layers, 4 heads, 2 kv heads, vocab -10 (own wcls), seq 4.
  const int64_t dim = 8, hidden = 16, layers = 2, kv_dim = 4, vocab = 10, head = 2, seq = 4;
  const int64_t floats =
      vocab * dim +
      layers * (dim + dim * dim + 2 * kv_dim * dim + dim * dim + dim + 3 * dim * hidden) + dim +
      seq * head + vocab * dim;
  auto bytes = header({8, 16, 2, 4, 2, -10, 4}, 28 + floats * 4);
  auto L = llama2c_layout("m.bin", bytes.data(), bytes.size());
  ASSERT_TRUE(L.ok()) << L.error().message;
  EXPECT_FALSE(L->shared_classifier);
  EXPECT_EQ(L->hp.vocab_size, 10);
  EXPECT_EQ(L->hp.kv_dim(), 4);
  EXPECT_EQ(L->wk - L->wq, layers * dim * dim);
  EXPECT_EQ(L->wv - L->wk, layers * kv_dim * dim);
  EXPECT_EQ(L->wcls, floats - vocab * dim);
  EXPECT_EQ(L->num_floats, floats);
}

TEST(Llama2cLayout, SizeMismatchGivesBothSizesWithCommas) {
  auto bytes = header({288, 768, 6, 6, 6, 32000, 256}, 1000);
  auto L = llama2c_layout("/x/stories15M.bin", bytes.data(), bytes.size());
  ASSERT_FALSE(L.ok());
  EXPECT_EQ(L.error().code, ErrorCode::BadFormat);
  // stories15M.bin is 60,816,028 bytes.
  EXPECT_EQ(L.error().message,
            "stories15M.bin: expected 60,816,028 bytes for dim 288, hidden_dim 768, 6 layers, 6 "
            "heads, 6 kv heads, vocab 32000 (shared classifier), seq_len 256 but the file has "
            "1,000 bytes");
}

TEST(Llama2cLayout, GarbageHeaderIsNotACheckpoint) {
  auto bytes = header({0x46554747, 3, 0, 0, 0, 0, 0}, 64);  // a GGUF file
  auto L = llama2c_layout("model.gguf", bytes.data(), bytes.size());
  ASSERT_FALSE(L.ok());
  EXPECT_NE(L.error().message.find("not a llama2.c checkpoint"), std::string::npos)
      << L.error().message;
  L = llama2c_layout("tiny.bin", bytes.data(), 10);
  ASSERT_FALSE(L.ok());
  EXPECT_NE(L.error().message.find("too short"), std::string::npos);
}

TEST(ModelMetadata, WithCommas) {
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(1000), "1,000");
  EXPECT_EQ(with_commas(1234567), "1,234,567");
  EXPECT_EQ(with_commas(123456789012ull), "123,456,789,012");
}

}  // namespace
}  // namespace tokamak
