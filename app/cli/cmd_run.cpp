// tokamak-cli run MODEL -p TEXT: one generation from a raw-text prompt (no
// chat template), streamed to stdout; the speed summary goes to stderr.
#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "generate/generator.h"
#include "generation_output.h"

namespace tokamak::cli {
namespace {

struct RunOptions {
  ModelOptions model;
  SamplingOptions sampling;
  std::string prompt;
  int32_t max_tokens = 256;
  bool json = false;
  bool special = false;
};

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const std::string& text, bool special) {
  EncodeOptions eo;
  eo.add_bos = true;
  eo.add_eos = false;
  eo.parse_special = special;
  std::vector<int32_t> ids = tok.encode(text, eo);
  if (ids.empty()) {
    if (tok.bos_id() < 0) fail("the prompt is empty and the model has no BOS token to start from");
    ids.push_back(tok.bos_id());  // start from BOS alone
  }
  return ids;
}

void run_run(const RunOptions& o) {
  const SamplingParams params = resolve_sampling(o.sampling);
  LoadedModel m = load_model(o.model);
  const Tokenizer& tok = m.model->tokenizer();
  GenerationRequest req;
  req.tokens = prompt_tokens(tok, o.prompt, o.special);
  req.sampling = params;
  req.stop = o.sampling.stop;
  req.max_tokens = o.max_tokens;
  if (static_cast<int32_t>(req.tokens.size()) > m.context) {
    fail(
        fmt::format("the prompt has {} tokens but the context holds {}; shorten it or raise "
                    "--ctx-size",
                    req.tokens.size(), m.context));
  }
  install_interrupt_handler();
  req.cancel = &interrupt_flag();
  Generator gen(*m.backend, tok, GeneratorOptions{m.context});
  const GenerationStats stats = take(gen.generate(req, make_printer(o.json, params.seed)));
  if (stats.finish_reason == "error") fail(stats.message);
  if (!o.json) {
    write_out("\n");
    fmt::print(stderr, "{} | seed {}\n", format_summary(stats), params.seed);
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a raw prompt");
  add_model_options(cmd, o->model);
  cmd->add_option("-p,--prompt", o->prompt, "prompt text (empty: start from BOS alone)");
  cmd->add_option("-n,--max-tokens", o->max_tokens, "tokens to generate at most (<= 0: no limit)")
      ->capture_default_str();
  add_sampling_options(cmd, o->sampling);
  cmd->add_flag("--json", o->json, "one JSON object per line per token, then a done object");
  cmd->add_flag("--special", o->special, "parse special-token text in the prompt");
  cmd->callback([o] { run_run(*o); });
}

}  // namespace tokamak::cli
