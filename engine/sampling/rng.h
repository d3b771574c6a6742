// Pcg64: the PCG XSL-RR 128/64 generator (O'Neill, "PCG: A Family of Simple
// Fast Space-Efficient Statistically Good Algorithms"), the same bit stream as
// numpy's PCG64 for the same (state, inc). Implemented here so that sampling
// is reproducible across platforms and standard library versions (std::
// distributions are not).
#pragma once

#include <cstdint>

namespace tokamak {

class Pcg64 {
 public:
  using u128 = unsigned __int128;

  // Seeds as pcg64_srandom(initstate, initseq), with both 128-bit values
  // expanded from `seed` by SplitMix64.
  explicit Pcg64(uint64_t seed = 0);
  // Raw state, as numpy's PCG64.state {"state": state, "inc": inc}.
  Pcg64(u128 state, u128 inc) : state_(state), inc_(inc) {}

  uint64_t next_u64();
  // Uniform in [0, 1) with 53 random bits (numpy's random() for PCG64).
  double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  u128 state() const { return state_; }
  u128 inc() const { return inc_; }

 private:
  void step() { state_ = state_ * kMultiplier + inc_; }
  static constexpr u128 kMultiplier =
      (static_cast<u128>(0x2360ED051FC65DA4ULL) << 64) | 0x4385DF649FCCF645ULL;

  u128 state_ = 0;
  u128 inc_ = 1;
};

// One step of SplitMix64 (Steele, Lea, Flood): advances x and returns a mix.
uint64_t splitmix64(uint64_t& x);

}  // namespace tokamak
