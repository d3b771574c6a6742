#include "model/model_info.h"

#include <set>

#include "gguf/gguf_file.h"

namespace tokamak {

uint64_t ModelInfo::kv_cache_bytes(int64_t context, int64_t element_bytes) const {
  if (!architecture_supported || context <= 0) return 0;
  return static_cast<uint64_t>(context) *
         static_cast<uint64_t>(spec.kv_bytes_per_token(element_bytes));
}

Result<ModelInfo> ModelInfo::describe(const gguf::File& file) {
  ModelInfo info;
  info.path = file.path();
  info.file_size_bytes = file.file_size();
  info.gguf_version = file.version();
  TK_ASSIGN(info.arch_name, file.get_string_or("general.architecture", ""));
  TK_ASSIGN(info.name, file.get_string_or("general.name", ""));
  auto spec = ModelSpec::from_gguf(file);
  info.architecture_supported = spec.ok();
  if (spec.ok()) info.spec = std::move(spec).value();

  std::set<std::string> unsupported;
  for (const gguf::TensorInfo& t : file.tensors()) {
    const std::string type_name(tensor_type_name(t.type));
    const int64_t n = t.num_values();
    info.num_params += n;
    info.type_counts[type_name] += 1;
    info.type_params[type_name] += n;
    info.weights_bytes += t.size_bytes;
    if (!is_supported_weight_type(t.type)) unsupported.insert(type_name);
  }
  for (const std::string& type_name : unsupported)
    info.unsupported_types += (info.unsupported_types.empty() ? "" : ", ") + type_name;

  TK_ASSIGN(info.tokenizer_model, file.get_string_or("tokenizer.ggml.model", ""));
  if (const gguf::Value* tokens = file.find("tokenizer.ggml.tokens")) {
    if (const gguf::Array* a = tokens->as_array())
      info.vocab_size = static_cast<int64_t>(a->items.size());
  }
  if (info.vocab_size == 0 && info.architecture_supported) info.vocab_size = info.spec.vocab_size;
  if (!info.arch_name.empty()) {
    TK_ASSIGN(info.context_length, file.get_int_or(info.arch_name + ".context_length", 0));
  }
  info.has_chat_template = file.find("tokenizer.chat_template") != nullptr;
  return info;
}

}  // namespace tokamak
