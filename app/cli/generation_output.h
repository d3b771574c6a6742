// Printing a generation: streamed text (or JSON lines) to stdout, the speed
// summary to stderr; and the Ctrl-C flag that cancels a generation.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "generate/generation_events.h"

namespace tokamak::cli {

// Writes TokenEvent text to stdout as it comes, or with json one object per
// line: {"type":"token","id":..,"text":..} and {"type":"done", stats..., "seed":..}.
GenerationCallback make_printer(bool json, uint64_t seed = 0);

// "prompt 12 tokens (345.6 tok/s) | generated 20 tokens (78.9 tok/s) | ttft 12.3 ms | finish:
// length"
std::string format_summary(const GenerationStats& stats);

// The flag SIGINT sets while a generation runs (installed once).
std::atomic<bool>& interrupt_flag();
void install_interrupt_handler();

}  // namespace tokamak::cli
