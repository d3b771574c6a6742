#include "sampling/rng.h"

namespace tokamak {

uint64_t splitmix64(uint64_t& x) {
  x += 0x9E3779B97F4A7C15ULL;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

Pcg64::Pcg64(uint64_t seed) {
  uint64_t sm = seed;
  const uint64_t s_hi = splitmix64(sm), s_lo = splitmix64(sm);
  const uint64_t q_hi = splitmix64(sm), q_lo = splitmix64(sm);
  const u128 initstate = (static_cast<u128>(s_hi) << 64) | s_lo;
  const u128 initseq = (static_cast<u128>(q_hi) << 64) | q_lo;
  // pcg_setseq_128_srandom_r
  state_ = 0;
  inc_ = (initseq << 1) | 1u;
  step();
  state_ += initstate;
  step();
}

uint64_t Pcg64::next_u64() {
  // numpy's pcg64: advance, then output XSL-RR of the new state.
  step();
  const uint64_t xored = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
  const unsigned rot = static_cast<unsigned>(state_ >> 122);
  return (xored >> rot) | (xored << ((64u - rot) & 63u));
}

}  // namespace tokamak
