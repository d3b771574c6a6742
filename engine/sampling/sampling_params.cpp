#include "sampling/sampling_params.h"

#include <cmath>
#include <sstream>

namespace tokamak {
namespace {

std::string bad(const char* what, double value) {
  std::ostringstream s;
  s << what << " (got " << value << ")";
  return s.str();
}

}  // namespace

std::string SamplingParams::validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f)
    return bad("temperature must be >= 0", temperature);
  if (!std::isfinite(top_p) || top_p <= 0.0f) return bad("top-p must be in (0, 1]", top_p);
  if (!std::isfinite(min_p) || min_p < 0.0f || min_p > 1.0f)
    return bad("min-p must be in [0, 1]", min_p);
  if (!std::isfinite(repeat_penalty) || repeat_penalty <= 0.0f)
    return bad("repeat penalty must be > 0", repeat_penalty);
  if (repeat_last_n < -1) return bad("repeat-last-n must be >= -1", repeat_last_n);
  if (!std::isfinite(frequency_penalty)) return bad("frequency penalty must be finite", 0);
  if (!std::isfinite(presence_penalty)) return bad("presence penalty must be finite", 0);
  return "";
}

}  // namespace tokamak
