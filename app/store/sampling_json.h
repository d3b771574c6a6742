// Sampling settings as the JSON the store keeps in conversation settings and
// generation records: every SamplingParams field plus max_tokens, keys sorted,
// seed as a number (exact up to 2^64 - 1).
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "sampling/sampling_params.h"

namespace tokamak {

struct SamplingSettings {
  SamplingParams params;
  int32_t max_tokens = 512;
};

std::string sampling_settings_json(const SamplingSettings& settings);
// Missing keys keep their defaults; a key of the wrong type or invalid
// parameters (SamplingParams::validate) -> InvalidArgument naming it.
Result<SamplingSettings> parse_sampling_settings(const std::string& json);

}  // namespace tokamak
