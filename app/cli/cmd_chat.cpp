// tokamak-cli chat MODEL: an interactive multi-turn conversation over stdin
// (a terminal or a pipe). Each turn only prefills its new tokens: the
// conversation so far stays in the KV cache. /reset starts over, /exit ends.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "chat_format.h"
#include "cli_common.h"
#include "commands.h"
#include "generate/generator.h"
#include "generation_output.h"

namespace tokamak::cli {
namespace {

struct ChatOptions {
  ModelOptions model;
  SamplingOptions sampling;
  int32_t max_tokens = 512;
  bool verbose = false;
};

// After a stop string: the generated tokens that produced `shown` bytes of
// text stay in the history; the rest (the stop string) is dropped. Returns
// the shown text that no kept token covers, to be prefixed to the next turn.
std::string drop_stop_tokens(Generator& gen, const Tokenizer& tok, int32_t num_generated,
                             const std::string& shown) {
  const std::vector<int32_t>& h = gen.history();
  const size_t base = h.size() - num_generated;
  size_t covered = 0, kept = 0;
  for (size_t i = base; i < h.size(); ++i) {
    const size_t n = tok.token_bytes(h[i]).size();
    if (covered + n > shown.size()) break;
    covered += n;
    ++kept;
  }
  const std::vector<int32_t> keep(h.begin(), h.begin() + base + kept);
  gen.keep_common_prefix(keep);
  return shown.substr(covered);
}

void run_chat(const ChatOptions& o) {
  SamplingParams params = resolve_sampling(o.sampling);
  LoadedModel m = load_model(o.model);
  const Tokenizer& tok = m.model->tokenizer();
  const ChatStyle style = detect_chat_style(tok.vocab());
  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) {
    fmt::print(stderr, "chat with {} (turn format: {}); /reset starts over, /exit ends\n",
               o.model.path, chat_style_name(style));
  }
  install_interrupt_handler();
  Generator gen(*m.backend, tok, GeneratorOptions{m.context});
  std::vector<std::string> stops = chat_stop_strings(style);
  stops.insert(stops.end(), o.sampling.stop.begin(), o.sampling.stop.end());
  const GenerationCallback print = make_printer(false);
  bool first = true;
  std::string carry;  // reply text not covered by kept tokens (after a stop string)
  std::string line;
  for (int turn = 0;; ++turn) {
    if (interactive) write_out("> ");
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      gen.reset();
      first = true;
      carry.clear();
      if (interactive) fmt::print(stderr, "(conversation reset)\n");
      continue;
    }
    if (line.empty()) continue;

    EncodeOptions eo;
    eo.add_bos = first;
    eo.add_eos = false;
    eo.parse_special = style != ChatStyle::Plain;
    GenerationRequest req;
    req.tokens = tok.encode(carry + user_turn_text(style, line, first), eo);
    params.seed += static_cast<uint64_t>(turn);  // a fresh stream per turn, reproducible
    req.sampling = params;
    req.stop = stops;
    req.max_tokens = o.max_tokens;
    interrupt_flag() = false;
    req.cancel = &interrupt_flag();
    std::string shown;
    const GenerationStats stats = take(gen.generate(req, [&](const GenerationEvent& e) {
      if (const auto* t = std::get_if<TokenEvent>(&e)) shown += t->text;
      print(e);
    }));
    write_out("\n");
    if (stats.finish_reason == "error") fail(stats.message);
    if (o.verbose || interactive) fmt::print(stderr, "[{}]\n", format_summary(stats));
    if (stats.finish_reason == "context") {
      fmt::print(stderr, "tokamak-cli: {}; type /reset to start a new conversation\n",
                 stats.message);
      continue;
    }
    carry = stats.finish_reason == "stop"
                ? drop_stop_tokens(gen, tok, stats.num_generated_tokens, shown)
                : std::string();
    first = false;
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat over stdin");
  add_model_options(cmd, o->model);
  cmd->add_option("-n,--max-tokens", o->max_tokens, "tokens per reply at most")
      ->capture_default_str();
  add_sampling_options(cmd, o->sampling);
  cmd->add_flag("-v,--verbose", o->verbose, "print speed figures after each reply");
  cmd->callback([o] { run_chat(*o); });
}

}  // namespace tokamak::cli
