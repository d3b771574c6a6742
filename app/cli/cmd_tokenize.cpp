// tokamak-cli tokenize MODEL TEXT: the token ids of TEXT, space-separated.
// Reads only the vocabulary, so any GGUF file with tokenizer.ggml.* works.
#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace tokamak::cli {
namespace {

struct TokenizeOptions {
  std::string path;
  std::string text;
  bool no_bos = false;
  bool special = false;
  bool pieces = false;
};

void run_tokenize(const TokenizeOptions& o) {
  auto file = take(gguf::File::open(resolve_model_spec(o.path)));
  Vocab vocab = take(Vocab::from_gguf(*file));
  auto tok = take(Tokenizer::create(std::move(vocab)));
  EncodeOptions eo;
  eo.add_bos = !o.no_bos;
  eo.add_eos = !o.no_bos;  // --no-bos: the bare text, without any added special token
  eo.parse_special = o.special;
  const std::vector<int32_t> ids = tok->encode(o.text, eo);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  fmt::print("{}\n", out);
  if (o.pieces) {
    for (int32_t id : ids) {
      fmt::print("{:>8} {:?}\n", id, tok->vocab().tokens[static_cast<size_t>(id)]);
    }
  }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("MODEL", o->path, "GGUF file with a vocabulary")->required();
  cmd->add_option("TEXT", o->text, "text to tokenize")->required();
  cmd->add_flag("--no-bos", o->no_bos, "do not add BOS (nor EOS)");
  cmd->add_flag("--special", o->special, "parse special-token text such as <s>");
  cmd->add_flag("--pieces", o->pieces, "also print each token's piece, one per line");
  cmd->callback([o] { run_tokenize(*o); });
}

}  // namespace tokamak::cli
