#include "bench/spread.h"

#include <algorithm>

namespace tokamak {

Spread summarize(std::vector<double> samples) {
  Spread s;
  s.samples = samples;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  s.median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

nlohmann::json to_json(const Spread& spread) {
  return {{"median", spread.median},
          {"min", spread.min},
          {"max", spread.max},
          {"samples", spread.samples}};
}

}  // namespace tokamak
