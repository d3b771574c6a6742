// prefetch_weights: reads the whole data section of a real GGUF, reports
// progress in whole chunks that add up to the data section's size, and stops
// when asked to.
#include "model/weight_prefetch.h"

#include <gtest/gtest.h>

#include <vector>

#include "aidreams.h"

namespace tokamak {
namespace {

std::unique_ptr<gguf::File> aidreams() {
  auto f = gguf::File::open(test::kAidreamsGguf);
  EXPECT_TRUE(f.ok()) << f.error().message;
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(WeightPrefetch, ReadsTheDataSectionInChunksWithProgress) {
  auto file = aidreams();
  ASSERT_TRUE(file);
  const uint64_t data_bytes = file->file_size() - file->data_offset();
  ASSERT_GT(data_bytes, 0u);
  // The tensors lie in the data section: its size covers the last one.
  uint64_t tensor_end = 0;
  for (const auto& t : file->tensors()) tensor_end = std::max(tensor_end, t.offset + t.size_bytes);
  EXPECT_GE(data_bytes, tensor_end);

  PrefetchOptions o;
  o.chunk_bytes = 64 * 1024;
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  auto r = prefetch_weights(
      *file,
      [&](uint64_t done, uint64_t total) {
        calls.emplace_back(done, total);
        return true;
      },
      o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value(), data_bytes);
  const uint64_t num_chunks = (data_bytes + o.chunk_bytes - 1) / o.chunk_bytes;
  ASSERT_EQ(calls.size(), num_chunks + 1);
  EXPECT_EQ(calls.front().first, 0u);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, data_bytes);
    EXPECT_EQ(calls[i].first, std::min<uint64_t>(i * o.chunk_bytes, data_bytes)) << i;
  }
  EXPECT_EQ(calls.back().first, data_bytes);
}

TEST(WeightPrefetch, StopsWhenProgressSaysSo) {
  auto file = aidreams();
  ASSERT_TRUE(file);
  PrefetchOptions o;
  o.chunk_bytes = 4096;
  int num_calls = 0;
  auto r = prefetch_weights(
      *file, [&](uint64_t, uint64_t) { return ++num_calls < 3; }, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::Cancelled);
  EXPECT_NE(r.error().message.find(test::kAidreamsGguf), std::string::npos);
  EXPECT_EQ(num_calls, 3);  // no call after the one that said stop
}

TEST(WeightPrefetch, WorksWithoutProgressAndRefusesZeroSizes) {
  auto file = aidreams();
  ASSERT_TRUE(file);
  auto r = prefetch_weights(*file, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), file->file_size() - file->data_offset());
  PrefetchOptions o;
  o.chunk_bytes = 0;
  auto bad = prefetch_weights(*file, {}, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
}

}  // namespace
}  // namespace tokamak
