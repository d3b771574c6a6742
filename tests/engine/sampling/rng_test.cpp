#include "sampling/rng.h"

#include <gtest/gtest.h>

namespace tokamak {
namespace {

using u128 = Pcg64::u128;

constexpr u128 make128(uint64_t hi, uint64_t lo) { return (static_cast<u128>(hi) << 64) | lo; }

// Expected values from numpy 2.4 (an independent implementation of PCG64):
//   bg = numpy.random.PCG64(); bg.state = {'bit_generator': 'PCG64',
//     'state': {'state': 0x0123456789ABCDEF_FEDCBA9876543210,
//               'inc': (0x0F1E2D3C4B5A6978_8796A5B4C3D2E1F0 << 1) | 1},
//     'has_uint32': 0, 'uinteger': 0}
//   bg.random_raw(5); numpy.random.Generator(bg).random(3) from the same state
TEST(Pcg64, MatchesNumpyRawStream) {
  const u128 state = make128(0x0123456789ABCDEFULL, 0xFEDCBA9876543210ULL);
  const u128 inc = (make128(0x0F1E2D3C4B5A6978ULL, 0x8796A5B4C3D2E1F0ULL) << 1) | 1;
  Pcg64 rng(state, inc);
  EXPECT_EQ(rng.next_u64(), 0x4184d1993da1033fULL);
  EXPECT_EQ(rng.next_u64(), 0xc06f4b3188cd863aULL);
  EXPECT_EQ(rng.next_u64(), 0x9174a0ca660dd5e7ULL);
  EXPECT_EQ(rng.next_u64(), 0xcacc42dc9c008336ULL);
  EXPECT_EQ(rng.next_u64(), 0xddfa9865b3faf6b3ULL);
}

TEST(Pcg64, DoublesMatchNumpyRandom) {
  const u128 state = make128(0x0123456789ABCDEFULL, 0xFEDCBA9876543210ULL);
  const u128 inc = (make128(0x0F1E2D3C4B5A6978ULL, 0x8796A5B4C3D2E1F0ULL) << 1) | 1;
  Pcg64 rng(state, inc);
  EXPECT_DOUBLE_EQ(rng.next_double(), 0.2559329032061477);
  EXPECT_DOUBLE_EQ(rng.next_double(), 0.7516982074674186);
  EXPECT_DOUBLE_EQ(rng.next_double(), 0.5681858533990216);
}

// Reference outputs of SplitMix64 from seed 0 (Vigna's splitmix64.c).
TEST(SplitMix64, ReferenceValues) {
  uint64_t x = 0;
  EXPECT_EQ(splitmix64(x), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(x), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(splitmix64(x), 0x06c45d188009454fULL);
}

TEST(Pcg64, SeedingIsDeterministicAndSeedsDiffer) {
  Pcg64 a(42), b(42), c(43);
  EXPECT_TRUE(a.inc() & 1);  // the increment must be odd
  bool any_diff = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    any_diff |= x != c.next_u64();
  }
  EXPECT_TRUE(any_diff);
}

TEST(Pcg64, DoublesAreInUnitInterval) {
  Pcg64 rng(7);
  double sum = 0.0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.next_double();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Mean of U[0,1) is 0.5 with standard error 1/sqrt(12 n) = 0.00065.
  EXPECT_NEAR(sum / n, 0.5, 0.004);
}

}  // namespace
}  // namespace tokamak
