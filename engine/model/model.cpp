#include "model/model.h"

#include <utility>

namespace tokamak {

Result<std::shared_ptr<const Model>> Model::load(const std::string& path) {
  TK_ASSIGN(std::unique_ptr<gguf::File> file, gguf::File::open(path));
  return from_file(std::move(file));
}

Result<std::shared_ptr<const Model>> Model::from_file(std::unique_ptr<gguf::File> file) {
  std::shared_ptr<Model> model(new Model());
  TK_ASSIGN(model->spec_, ModelSpec::from_gguf(*file));
  TK_ASSIGN(model->weights_, ModelWeights::bind(*file, model->spec_));
  TK_ASSIGN(Vocab vocab, Vocab::from_gguf(*file));
  if (vocab.size() != model->spec_.vocab_size)
    return make_error(ErrorCode::BadFormat, file->path() + ": the vocabulary has " +
                                                std::to_string(vocab.size()) +
                                                " tokens but token_embd.weight has " +
                                                std::to_string(model->spec_.vocab_size) + " rows");
  TK_ASSIGN(model->tokenizer_, Tokenizer::create(std::move(vocab)));
  if (file->find("tokenizer.chat_template") != nullptr) {
    TK_ASSIGN(std::string tmpl, file->get_string("tokenizer.chat_template"));
    model->chat_template_ = std::move(tmpl);
  }
  model->file_ = std::move(file);
  return std::shared_ptr<const Model>(std::move(model));
}

}  // namespace tokamak
