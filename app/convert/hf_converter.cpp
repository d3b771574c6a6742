// convert_hf: a Hugging Face folder (config.json, *.safetensors, tokenizer)
// -> GGUF llama / qwen2.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "convert/convert.h"
#include "convert/hf_config.h"
#include "convert/hf_tensor_map.h"
#include "convert/model_writer.h"
#include "convert/no_throw.h"
#include "convert/safetensors.h"
#include "convert/vocab_import.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/vocab.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Checks that every planned tensor exists with the right shape and that the
// folder holds nothing we would silently drop.
Status check_tensors(const std::string& dir, const HfConfig& c,
                     const std::vector<HfTensorPlan>& plan, const SafetensorsSet& st) {
  std::set<std::string> used;
  for (const auto& p : plan) {
    const SafeTensor* t = st.find(p.hf_name);
    if (t == nullptr) {
      return make_error(ErrorCode::BadFormat, fmt::format("{}: tensor {} (for {}) is missing", dir,
                                                          p.hf_name, p.gguf_name));
    }
    // HF shape is (out, in): the reverse of GGUF dims.
    std::vector<int64_t> want(p.dims.rbegin(), p.dims.rend());
    if (t->shape != want) {
      return make_error(
          ErrorCode::BadFormat,
          fmt::format("{}: tensor {} has shape [{}]; config.json implies [{}]", t->file->path(),
                      p.hf_name, fmt::join(t->shape, ", "), fmt::join(want, ", ")));
    }
    used.insert(p.hf_name);
  }
  for (const auto& [name, t] : st.tensors()) {
    if (used.count(name) != 0 || is_ignored_hf_tensor(name)) continue;
    if (c.tied_embeddings && name == "lm_head.weight") continue;  // a copy of the embeddings
    return make_error(ErrorCode::Unsupported,
                      fmt::format("{}: tensor {} has no GGUF counterpart for {} (is this a "
                                  "fine-tune with extra modules?)",
                                  t.file->path(), name, c.architecture));
  }
  return {};
}

// Rows of a (rows, row_length) tensor, optionally permuted per head.
RowSourceFn hf_rows(const SafeTensor* t, int64_t row_length, int64_t permute_head_dim) {
  if (permute_head_dim > 0 && t->shape.size() == 1) {
    // A permuted bias: one row, elements reordered.
    return [t, permute_head_dim](int64_t, int64_t, float* dst) -> Status {
      std::vector<float> src(static_cast<size_t>(t->num_values()));
      t->read_f32(0, t->num_values(), src.data());
      for (int64_t i = 0; i < t->num_values(); ++i) {
        dst[i] = src[static_cast<size_t>(permuted_source_row(i, permute_head_dim))];
      }
      return {};
    };
  }
  return [t, row_length, permute_head_dim](int64_t first, int64_t n, float* dst) -> Status {
    if (permute_head_dim == 0) {
      t->read_f32(first * row_length, n * row_length, dst);
      return {};
    }
    for (int64_t r = 0; r < n; ++r) {
      const int64_t src = permuted_source_row(first + r, permute_head_dim);
      t->read_f32(src * row_length, row_length, dst + r * row_length);
    }
    return {};
  };
}

Result<json> read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::NotFound, path.string() + ": cannot open");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::BadFormat, path.string() + ": bad JSON");
  return j;
}

// tokenizer_config.json's chat_template: a string, or a list of
// {name, template} of which "default" is taken.
std::optional<std::string> chat_template_of(const json& tc) {
  if (!tc.contains("chat_template")) return std::nullopt;
  const json& t = tc["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {
    for (const auto& e : t) {
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
          e["template"].is_string()) {
        return e["template"].get<std::string>();
      }
    }
  }
  return std::nullopt;
}

// Token text of a tokenizer_config.json special token ("<s>" or {"content": "<s>"}).
std::optional<std::string> special_text(const json& tc, const char* key) {
  if (!tc.contains(key)) return std::nullopt;
  const json& v = tc[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return std::nullopt;
}

int32_t find_token(const Vocab& v, const std::string& text) {
  for (int32_t i = 0; i < v.size(); ++i)
    if (v.tokens[static_cast<size_t>(i)] == text) return i;
  return -1;
}

Result<Vocab> load_hf_vocab(const ConvertOptions& o, const HfConfig& c,
                            std::optional<std::string>& chat_template) {
  const fs::path dir(o.input_path);
  std::string path = o.tokenizer_path;
  if (path.empty()) {
    for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
      if (fs::exists(dir / name)) {
        path = (dir / name).string();
        break;
      }
    }
  }
  if (path.empty()) {
    return make_error(ErrorCode::NotFound,
                      o.input_path + ": no tokenizer.json or tokenizer.model in the folder");
  }
  TK_ASSIGN(Vocab vocab, import_vocab(path, c.hp.arch == "qwen2" ? "qwen2" : ""));
  if (vocab.size() > c.hp.vocab_size) {
    return make_error(ErrorCode::BadFormat,
                      fmt::format("{} has {} tokens but config.json says vocab_size {}", path,
                                  vocab.size(), c.hp.vocab_size));
  }
  // Pad to the embedding rows, as llama.cpp does ("[PAD<i>]", unused).
  for (int32_t i = vocab.size(); i < c.hp.vocab_size; ++i) {
    vocab.tokens.push_back(fmt::format("[PAD{}]", i));
    if (!vocab.scores.empty()) vocab.scores.push_back(-1000.0f);
    vocab.types.push_back(TokenType::Unused);
  }
  const fs::path tc_path = dir / "tokenizer_config.json";
  if (fs::exists(tc_path)) {
    TK_ASSIGN(json tc, read_json_file(tc_path));
    chat_template = chat_template_of(tc);
    if (auto t = special_text(tc, "bos_token"); t && vocab.bos_id < 0)
      vocab.bos_id = find_token(vocab, *t);
    if (auto t = special_text(tc, "eos_token"); t && vocab.eos_id < 0)
      vocab.eos_id = find_token(vocab, *t);
    if (tc.contains("add_bos_token") && tc["add_bos_token"].is_boolean()) {
      vocab.add_bos = tc["add_bos_token"].get<bool>();
    }
  }
  // Newer folders keep the template in its own file.
  const fs::path jinja_path = dir / "chat_template.jinja";
  if (!chat_template && fs::exists(jinja_path)) {
    std::ifstream in(jinja_path);
    std::stringstream text;
    text << in.rdbuf();
    chat_template = text.str();
  }
  if (vocab.bos_id < 0 && c.bos_token_id) vocab.bos_id = *c.bos_token_id;
  if (vocab.eos_id < 0 && c.eos_token_id) vocab.eos_id = *c.eos_token_id;
  return vocab;
}

}  // namespace

static Result<ConvertReport> convert_hf_impl(const ConvertOptions& options) {
  if (options.output_path.empty()) {
    return make_error(ErrorCode::InvalidArgument, "convert: no output path given");
  }
  TK_ASSIGN(TypeMix mix, TypeMix::parse(options.type_mix));
  std::error_code ec;
  if (!fs::is_directory(options.input_path, ec)) {
    return make_error(ErrorCode::NotFound,
                      options.input_path + ": not a folder (a Hugging Face model is a folder)");
  }
  TK_ASSIGN(HfConfig config, HfConfig::read(options.input_path));
  TK_ASSIGN(SafetensorsSet st, SafetensorsSet::open_folder(options.input_path));
  // A config may say tied while lm_head exists, or untied while it is absent.
  if (!config.tied_embeddings && st.find("lm_head.weight") == nullptr) {
    config.tied_embeddings = true;
  }
  const std::vector<HfTensorPlan> plan = plan_hf_tensors(config);
  TK_TRY(check_tensors(options.input_path, config, plan, st));
  std::optional<std::string> chat_template;
  Result<Vocab> loaded = make_error(ErrorCode::Internal, "vocabulary not loaded");
  try {
    loaded = load_hf_vocab(options, config, chat_template);
  } catch (const json::exception& e) {  // tokenizer_config.json with odd value types
    return make_error(ErrorCode::BadFormat,
                      options.input_path + "/tokenizer_config.json: " + std::string(e.what()));
  }
  TK_ASSIGN(Vocab vocab, std::move(loaded));

  config.hp.name = options.name.empty()
                       ? fs::path(options.input_path).lexically_normal().filename().string()
                       : options.name;
  if (config.hp.name.empty())
    config.hp.name = fs::path(options.input_path).parent_path().filename().string();
  ModelWriter w(mix, options.num_threads, config.hp.num_layers, config.tied_embeddings);
  const TensorType base = mix.base_type();
  const bool quantized =
      base != TensorType::F32 && base != TensorType::F16 && base != TensorType::BF16;
  write_model_metadata(w.writer(), config.hp, mix.file_type(), quantized);
  vocab.to_gguf(w.writer());
  if (chat_template) w.writer().set("tokenizer.chat_template", gguf::Value::string(*chat_template));
  if (config.hp.llama3_rope) {
    const std::vector<float> factors = llama3_rope_factors(config.hp);
    w.add_f32("rope_freqs.weight", {static_cast<int64_t>(factors.size())}, factors);
  }
  for (const auto& p : plan) {
    const SafeTensor* t = st.find(p.hf_name);
    w.add(p.gguf_name, p.dims, hf_rows(t, p.dims[0], p.permute_head_dim));
  }
  TK_ASSIGN(WriteReport written, w.write(options.output_path, options.on_progress));

  ConvertReport report;
  static_cast<WriteReport&>(report) = std::move(written);
  report.notes.insert(report.notes.begin(), config.notes.begin(), config.notes.end());
  report.source_format = "hf";
  report.arch_name = config.hp.arch;
  report.type_mix = mix.name();
  return report;
}

Result<ConvertReport> convert_hf(const ConvertOptions& options) {
  return no_throw(options.input_path, [&] { return convert_hf_impl(options); });
}

Result<ConvertReport> convert_model(const ConvertOptions& options) {
  std::error_code ec;
  if (!fs::exists(options.input_path, ec)) {
    return make_error(ErrorCode::NotFound, options.input_path + ": no such file or folder");
  }
  if (fs::is_directory(options.input_path, ec)) return convert_hf(options);
  return convert_llama2c(options);
}

}  // namespace tokamak
