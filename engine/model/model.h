// A loaded model: the mapped GGUF file, its spec, weight views, tokenizer
// and chat template. Immutable after load; shared by backends and sessions.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "gguf/gguf_file.h"
#include "model/model_spec.h"
#include "model/model_weights.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {

class Model {
 public:
  // Opens, validates and binds a model. Unsupported architectures and tensor
  // types are refused here, with their names.
  static Result<std::shared_ptr<const Model>> load(const std::string& path);
  // The same for a file already opened (gguf::File::from_memory in tests; the
  // caller keeps the memory alive as long as the Model).
  static Result<std::shared_ptr<const Model>> from_file(std::unique_ptr<gguf::File> file);

  const gguf::File& file() const { return *file_; }
  const ModelSpec& spec() const { return spec_; }
  const ModelWeights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // tokenizer.chat_template, when the file has one.
  const std::optional<std::string>& chat_template() const { return chat_template_; }

 private:
  Model() = default;
  std::unique_ptr<gguf::File> file_;
  ModelSpec spec_;
  ModelWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<std::string> chat_template_;
};

}  // namespace tokamak
