#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <random>

#include "core/half.h"
#include "core/result.h"
#include "core/tensor_type.h"
#include "core/thread_pool.h"

namespace tokamak {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(ErrorCode::InvalidArgument, "must be positive");
  return v;
}

Result<int> doubled(int v) {
  TK_ASSIGN(int x, parse_positive(v));
  return 2 * x;
}

TEST(Result, CarriesValueOrError) {
  auto ok = doubled(21);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::InvalidArgument);
  EXPECT_EQ(bad.error().message, "must be positive");
}

TEST(TensorType, KnowsGgmlTable) {
  EXPECT_EQ(traits(TensorType::Q4_K).type_size, 144u);
  EXPECT_EQ(traits(TensorType::Q6_K).type_size, 210u);
  EXPECT_EQ(traits(TensorType::Q8_0).type_size, 34u);
  EXPECT_EQ(row_size_bytes(TensorType::Q4_0, 64), 36u);
  EXPECT_FALSE(tensor_type_traits(4).has_value());  // removed from ggml
  EXPECT_FALSE(tensor_type_traits(1000).has_value());
  EXPECT_EQ(parse_tensor_type("q4_k"), TensorType::Q4_K);
  EXPECT_FALSE(is_supported_weight_type(TensorType::Q5_K));
  EXPECT_TRUE(is_supported_weight_type(TensorType::BF16));
}

TEST(Half, Fp16RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_fp16(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(Half, Fp16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // rounds up to inf
  EXPECT_EQ(f32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
  EXPECT_EQ(f32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (zero)
  EXPECT_EQ(f32_to_fp16(std::ldexp(1.5f, -24)), 0x0002);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-70000.f, 70000.f);
  for (int i = 0; i < 100000; ++i) {
    const float f = d(rng);
    const uint16_t h = f32_to_fp16(f);
    if (std::fabs(f) >= 65520.f) continue;
    // The nearest half: no neighbour is strictly closer.
    const float got = fp16_to_f32(h);
    const float up = fp16_to_f32(static_cast<uint16_t>(h + 1));
    const float down = fp16_to_f32(static_cast<uint16_t>(h - 1));
    ASSERT_LE(std::fabs(got - f), std::fabs(up - f));
    ASSERT_LE(std::fabs(got - f), std::fabs(down - f));
  }
}

TEST(Half, Bf16) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)), 0x3f80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
  ThreadPool pool(4);
  for (int64_t n : {0, 1, 3, 1000, 4097}) {
    std::vector<std::atomic<int>> hits(n);
    for (int rep = 0; rep < 50; ++rep)
      pool.parallel_for(n, 7, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 50);
  }
}

TEST(ThreadPool, RunGivesEveryThreadItsIndex) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> seen(3);
  pool.run([&](int t, int n) {
    EXPECT_EQ(n, 3);
    seen[t]++;
  });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
}

}  // namespace
}  // namespace tokamak
