// Median and range of repeated measurements.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

namespace tokamak {

struct Spread {
  std::vector<double> samples;  // in the order measured
  double median = 0.0;          // mean of the middle two for an even count
  double min = 0.0;
  double max = 0.0;
};

Spread summarize(std::vector<double> samples);

// {median, min, max, samples}
nlohmann::json to_json(const Spread& spread);

}  // namespace tokamak
