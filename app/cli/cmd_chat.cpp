// tokamak-cli chat MODEL: an interactive multi-turn conversation over stdin
// (a terminal or a pipe), formatted by the model's chat template (the GGUF's
// tokenizer.chat_template, else a guessed built-in; --template NAME|FILE
// overrides) and stopped by its stop sequences. Each turn renders the whole
// conversation and only prefills the tokens past what the KV cache already
// holds. /reset starts over, /exit ends.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "generate/generator.h"
#include "generation_output.h"
#include "template_option.h"

namespace tokamak::cli {
namespace {

struct ChatOptions {
  ModelOptions model;
  SamplingOptions sampling;
  int32_t max_tokens = 512;
  bool verbose = false;
  bool show_prompt = false;
  std::string template_choice;
  std::string system;
};

nlohmann::ordered_json message(const std::string& role, const std::string& content) {
  return nlohmann::ordered_json{{"role", role}, {"content", content}};
}

// What the KV cache holds, as text: the last prompt and the part of the
// reply its kept tokens spell. The next turn's rendering usually extends it,
// and then only the new text is tokenized (the reply keeps its own tokens).
struct ChatCache {
  std::string text;
  std::vector<int32_t> tokens;
};

std::vector<int32_t> conversation_tokens(const Tokenizer& tok, const ChatFormat& f,
                                         const ChatCache& cache, const std::string& prompt) {
  if (cache.tokens.empty() || !prompt.starts_with(cache.text)) {
    return chat_prompt_tokens(tok, f, prompt);
  }
  EncodeOptions eo;
  eo.add_bos = false;
  eo.add_eos = false;
  eo.parse_special = true;
  std::vector<int32_t> tokens = cache.tokens;
  const std::vector<int32_t> rest = tok.encode(prompt.substr(cache.text.size()), eo);
  tokens.insert(tokens.end(), rest.begin(), rest.end());
  return tokens;
}

// After a reply: the generated tokens whose text lies within `shown` (not
// those of a stop string or an end-of-generation token) stay in the cache.
ChatCache cache_after_reply(const Tokenizer& tok, std::vector<int32_t> prompt_tokens,
                            const std::string& prompt, const std::vector<int32_t>& history,
                            int32_t num_generated, const std::string& shown) {
  const std::vector<int32_t>& eog = tok.vocab().eog_ids;
  size_t covered = 0;
  for (size_t i = history.size() - static_cast<size_t>(num_generated); i < history.size(); ++i) {
    if (std::find(eog.begin(), eog.end(), history[i]) != eog.end()) break;
    const size_t n = tok.token_bytes(history[i]).size();
    if (covered + n > shown.size()) break;
    covered += n;
    prompt_tokens.push_back(history[i]);
  }
  return ChatCache{prompt + shown.substr(0, covered), std::move(prompt_tokens)};
}

// Keeps what the KV cache shares with `tokens` (at least one token left to
// run) and returns the rest.
std::vector<int32_t> new_tokens(Generator& gen, const std::vector<int32_t>& tokens) {
  size_t kept = static_cast<size_t>(gen.keep_common_prefix(tokens));
  if (kept == tokens.size() && kept > 0) {
    kept = static_cast<size_t>(
        gen.keep_common_prefix(std::span<const int32_t>(tokens.data(), tokens.size() - 1)));
  }
  return std::vector<int32_t>(tokens.begin() + static_cast<std::ptrdiff_t>(kept), tokens.end());
}

void run_chat(const ChatOptions& o) {
  SamplingParams params = resolve_sampling(o.sampling);
  LoadedModel m = load_model(o.model);
  const Tokenizer& tok = m.model->tokenizer();
  const ChatFormat format = cli_chat_format(model_template_info(*m.model), o.template_choice);
  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) {
    fmt::print(stderr, "chat with {} (template: {}, {}); /reset starts over, /exit ends\n",
               o.model.path, format.name, format.origin);
  }
  install_interrupt_handler();
  Generator gen(*m.backend, tok, GeneratorOptions{m.context});
  std::vector<std::string> stops = format.stops;
  stops.insert(stops.end(), o.sampling.stop.begin(), o.sampling.stop.end());
  const GenerationCallback print = make_printer(false);
  const nlohmann::ordered_json start =
      o.system.empty() ? nlohmann::ordered_json::array()
                       : nlohmann::ordered_json::array({message("system", o.system)});
  nlohmann::ordered_json messages = start;
  ChatCache cache;
  std::string line;
  for (int turn = 0;; ++turn) {
    if (interactive) write_out("> ");
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      gen.reset();
      messages = start;
      cache = ChatCache{};
      if (interactive) fmt::print(stderr, "(conversation reset)\n");
      continue;
    }
    if (line.empty()) continue;

    messages.push_back(message("user", line));
    const std::string prompt = render_chat_or_fail(format, messages, true);
    if (o.show_prompt) fmt::print(stderr, "[prompt]\n{}\n[/prompt]\n", prompt);
    const std::vector<int32_t> tokens = conversation_tokens(tok, format, cache, prompt);
    GenerationRequest req;
    req.tokens = new_tokens(gen, tokens);
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
      messages.erase(messages.end() - 1);
      continue;
    }
    messages.push_back(message("assistant", shown));
    cache =
        cache_after_reply(tok, tokens, prompt, gen.history(), stats.num_generated_tokens, shown);
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
  cmd->add_option("--template", o->template_choice,
                  "chat template: a built-in's name or a .jinja file (default: the model's own)");
  cmd->add_option("--system", o->system, "system prompt at the start of the conversation");
  cmd->add_flag("--show-prompt", o->show_prompt,
                "print each turn's rendered prompt (the whole conversation) on stderr");
  cmd->callback([o] { run_chat(*o); });
}

}  // namespace tokamak::cli
