#include "generation_output.h"

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"

namespace tokamak::cli {
namespace {

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) { g_interrupted.store(true); }

}  // namespace

GenerationCallback make_printer(bool json, uint64_t seed) {
  return [json, seed](const GenerationEvent& e) {
    if (const auto* t = std::get_if<TokenEvent>(&e)) {
      if (json) {
        write_out(dump({{"type", "token"}, {"id", t->id}, {"text", t->text}}) + "\n");
      } else {
        write_out(t->text);
      }
      return;
    }
    const auto& s = std::get<GenerationStats>(e);
    if (!json) return;
    nlohmann::ordered_json j = {{"type", "done"},
                                {"finish_reason", s.finish_reason},
                                {"num_prompt_tokens", s.num_prompt_tokens},
                                {"num_cached_tokens", s.num_cached_tokens},
                                {"num_generated_tokens", s.num_generated_tokens},
                                {"ttft_ms", s.ttft_ms},
                                {"prefill_tokens_per_second", s.prefill_tokens_per_second},
                                {"decode_tokens_per_second", s.decode_tokens_per_second},
                                {"seed", seed}};
    if (!s.message.empty()) j["message"] = s.message;
    write_out(dump(j) + "\n");
  };
}

std::string format_summary(const GenerationStats& s) {
  std::string out = fmt::format(
      "prompt {} tokens ({:.1f} tok/s) | generated {} tokens ({:.1f} tok/s) | ttft {:.1f} ms | "
      "finish: {}",
      s.num_prompt_tokens, s.prefill_tokens_per_second, s.num_generated_tokens,
      s.decode_tokens_per_second, s.ttft_ms, s.finish_reason);
  if (s.num_cached_tokens > 0) out += fmt::format(" | {} tokens reused", s.num_cached_tokens);
  if (!s.message.empty()) out += " (" + s.message + ")";
  return out;
}

std::atomic<bool>& interrupt_flag() { return g_interrupted; }

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }

}  // namespace tokamak::cli
