// Hugging Face tokenizer.json import, plus the helpers shared with
// vocab_import.cpp (protobuf scan, JSON token maps, merges text).
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "convert/vocab_import.h"
#include "convert/vocab_import_detail.h"
#include "tokenizer/pre_tokenizer.h"

namespace tokamak {
namespace vocab_detail {
namespace {

// Minimal protobuf wire-format reader.
struct ProtoReader {
  std::string_view data;
  size_t pos = 0;
  bool ok = true;

  bool done() const { return pos >= data.size() || !ok; }
  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= data.size()) break;
      const auto b = static_cast<uint8_t>(data[pos++]);
      value |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return value;
    }
    ok = false;
    return 0;
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (!ok || n > data.size() - pos) {
      ok = false;
      return {};
    }
    std::string_view out = data.substr(pos, n);
    pos += n;
    return out;
  }
  // Skips a field of the given wire type.
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        break;
      case 1:
        pos += 8;
        break;
      case 2:
        bytes();
        break;
      case 5:
        pos += 4;
        break;
      default:
        ok = false;
    }
    if (pos > data.size()) ok = false;
  }
};

TokenType piece_type(std::string_view piece_message, bool* ok) {
  ProtoReader r{piece_message};
  int64_t type = 1;  // NORMAL is the default
  while (!r.done()) {
    const uint64_t tag = r.varint();
    if (tag >> 3 == 3 && (tag & 7) == 0) {
      type = static_cast<int64_t>(r.varint());
    } else {
      r.skip(tag & 7);
    }
  }
  *ok = r.ok && type >= 1 && type <= 6;
  return static_cast<TokenType>(type);
}

}  // namespace

Result<SpmModelInfo> parse_spm_model(std::string_view proto, const std::string& path) {
  SpmModelInfo info;
  ProtoReader r{proto};
  while (!r.done()) {
    const uint64_t tag = r.varint();
    const uint64_t field = tag >> 3;
    if (field == 1 && (tag & 7) == 2) {
      bool ok = false;
      info.types.push_back(piece_type(r.bytes(), &ok));
      if (!ok) {
        return make_error(ErrorCode::BadFormat, path + ": piece " +
                                                    std::to_string(info.types.size() - 1) +
                                                    " has a malformed entry or unknown type");
      }
    } else if (field == 3 && (tag & 7) == 2) {
      ProtoReader n{r.bytes()};
      while (!n.done()) {
        const uint64_t ntag = n.varint();
        if (ntag >> 3 == 3 && (ntag & 7) == 0) {
          info.add_dummy_prefix = n.varint() != 0;
        } else {
          n.skip(ntag & 7);
        }
      }
    } else {
      r.skip(tag & 7);
    }
  }
  if (!r.ok) return make_error(ErrorCode::BadFormat, path + ": malformed SentencePiece protobuf");
  return info;
}

Status fill_tokens_from_json(const nlohmann::json& token_to_id, const std::string& path,
                             Vocab& vocab, size_t num_tokens_at_least, bool allow_gaps) {
  size_t num_tokens = num_tokens_at_least;
  for (const auto& [text, id] : token_to_id.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (1ll << 31)) {
      return make_error(ErrorCode::BadFormat, path + ": token '" + text + "' has id " + id.dump() +
                                                  " (expected an integer 0..2^31-1)");
    }
    num_tokens = std::max(num_tokens, static_cast<size_t>(id.get<int64_t>()) + 1);
  }
  std::vector<std::optional<std::string>> slots(num_tokens);
  for (const auto& [text, id] : token_to_id.items()) {
    auto& slot = slots[id.get<int64_t>()];
    if (slot) {
      return make_error(ErrorCode::BadFormat,
                        path + ": tokens '" + *slot + "' and '" + text + "' share id " + id.dump());
    }
    slot = text;
  }
  vocab.tokens.clear();
  vocab.types.clear();
  for (size_t id = 0; id < num_tokens; ++id) {
    if (slots[id]) {
      vocab.tokens.push_back(std::move(*slots[id]));
      vocab.types.push_back(TokenType::Normal);
    } else if (allow_gaps) {
      vocab.tokens.push_back("[PAD" + std::to_string(id) + "]");
      vocab.types.push_back(TokenType::Unused);
    } else {
      return make_error(ErrorCode::BadFormat,
                        path + ": no token has id " + std::to_string(id) + " (ids must be 0.." +
                            std::to_string(num_tokens - 1) + " without gaps)");
    }
  }
  return {};
}

Status parse_merges_text(std::string_view text, const std::string& path,
                         std::vector<std::string>& merges) {
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t space = line.find(' ', 1);
    if (space == std::string_view::npos || space + 1 >= line.size()) {
      return make_error(ErrorCode::BadFormat, path + ":" + std::to_string(line_number) +
                                                  ": merge '" + std::string(line) +
                                                  "' is not two pieces separated by a space");
    }
    merges.emplace_back(line);
  }
  return {};
}

}  // namespace vocab_detail

// ----------------------------------------------------------- tokenizer.json

namespace {

using nlohmann::json;

// Every object of pre_tokenizer (or a Sequence's members) in order.
void collect_steps(const json& node, std::vector<const json*>& out) {
  if (!node.is_object()) return;
  const std::string type = node.value("type", "");
  if (type == "Sequence") {
    for (const char* key : {"pretokenizers", "decoders", "normalizers"}) {
      if (node.contains(key) && node[key].is_array()) {
        for (const json& child : node[key]) collect_steps(child, out);
      }
    }
    return;
  }
  out.push_back(&node);
}

bool has_step(const json& root, const char* section, const std::string& type) {
  if (!root.contains(section)) return false;
  std::vector<const json*> steps;
  collect_steps(root[section], steps);
  return std::any_of(steps.begin(), steps.end(),
                     [&](const json* s) { return s->value("type", "") == type; });
}

Result<std::string> detect_pre(const json& root, const std::string& path) {
  std::vector<const json*> steps;
  if (root.contains("pre_tokenizer")) collect_steps(root["pre_tokenizer"], steps);
  for (const json* step : steps) {
    if (step->value("type", "") != "Split") continue;
    const json& pattern = (*step)["pattern"];
    const std::string regex =
        pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()
            ? pattern["Regex"].get<std::string>()
            : "";
    if (regex == kLlama3Pattern) return std::string("llama-bpe");
    if (regex == kQwen2Pattern) return std::string("qwen2");
    return make_error(ErrorCode::Unsupported,
                      path + ": pre-tokenizer regex '" + regex +
                          "' is not one Tokamak knows (Llama 3, Qwen2, GPT-2); name the "
                          "pre-tokenizer explicitly if it is equivalent to one of them");
  }
  if (has_step(root, "pre_tokenizer", "ByteLevel")) return std::string("gpt-2");
  return make_error(ErrorCode::Unsupported,
                    path +
                        ": no ByteLevel or Split pre-tokenizer found; cannot tell which "
                        "pre-tokenizer this BPE vocabulary needs");
}

Status read_merges(const json& model, const std::string& path, std::vector<std::string>& merges) {
  if (!model.contains("merges") || !model["merges"].is_array()) {
    return make_error(ErrorCode::BadFormat, path + ": model.merges is missing or not an array");
  }
  for (const json& merge : model["merges"]) {
    if (merge.is_string()) {
      merges.push_back(merge.get<std::string>());
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
    } else {
      return make_error(ErrorCode::BadFormat, path + ": merge " + std::to_string(merges.size()) +
                                                  " is " + merge.dump() +
                                                  " (expected \"a b\" or [\"a\", \"b\"])");
    }
  }
  return {};
}

// The text of a token given as "text" or {"content": "text"} in tokenizer_config.json.
std::optional<std::string> config_token_text(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return std::nullopt;
}

int32_t find_token(const Vocab& vocab, const std::string& text) {
  for (int32_t id = vocab.size() - 1; id >= 0; --id) {
    if (vocab.tokens[id] == text) return id;
  }
  return -1;
}

// bos/eos/add_bos/add_eos from tokenizer_config.json beside tokenizer.json,
// or, without one, BOS from a TemplateProcessing post-processor.
void apply_config(const json& root, const std::string& path, Vocab& vocab) {
  const auto config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  auto text = vocab_detail::read_file(config_path.string());
  json config = text.ok() ? json::parse(*text, nullptr, false) : json();
  if (config.is_object()) {
    if (auto bos = config_token_text(config, "bos_token")) vocab.bos_id = find_token(vocab, *bos);
    if (auto eos = config_token_text(config, "eos_token")) vocab.eos_id = find_token(vocab, *eos);
    if (auto unk = config_token_text(config, "unk_token")) vocab.unk_id = find_token(vocab, *unk);
    if (auto pad = config_token_text(config, "pad_token")) vocab.pad_id = find_token(vocab, *pad);
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
      vocab.add_bos = config["add_bos_token"].get<bool>();
    }
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
      vocab.add_eos = config["add_eos_token"].get<bool>();
    }
    return;
  }
  const json& post = root.contains("post_processor") ? root["post_processor"] : json();
  std::vector<const json*> steps;
  collect_steps(post, steps);
  for (const json* step : steps) {
    if (step->value("type", "") != "TemplateProcessing" || !step->contains("single")) continue;
    const json& single = (*step)["single"];
    if (single.is_array() && !single.empty() && single[0].contains("SpecialToken")) {
      vocab.bos_id = find_token(vocab, single[0]["SpecialToken"].value("id", ""));
      vocab.add_bos = vocab.bos_id >= 0;
    }
  }
}

// SentencePiece-style BPE (byte_fallback, "▁" for spaces) as an SPM vocab:
// a merged piece scores -(rank of the first merge that makes it), so higher
// scores merge first as lower ranks do in BPE.
void to_spm_vocab(const json& model, Vocab& vocab) {
  vocab.kind = VocabKind::Spm;
  vocab.scores.assign(vocab.tokens.size(), 0.0f);
  std::unordered_map<std::string, int32_t> index;
  for (int32_t id = 0; id < vocab.size(); ++id) index.emplace(vocab.tokens[id], id);
  std::vector<bool> scored(vocab.tokens.size(), false);
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    std::string joined = vocab.merges[rank];
    joined.erase(joined.find(' ', 1), 1);
    auto it = index.find(joined);
    if (it == index.end() || scored[it->second]) continue;
    scored[it->second] = true;
    vocab.scores[it->second] = -static_cast<float>(rank + 1);
  }
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (!scored[id]) vocab.scores[id] = -static_cast<float>(vocab.merges.size() + 1 + id);
    if (vocab.types[id] == TokenType::Normal &&
        vocab_detail::is_byte_token_text(vocab.tokens[id])) {
      vocab.types[id] = TokenType::Byte;
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    vocab.unk_id = find_token(vocab, model["unk_token"].get<std::string>());
    if (vocab.unk_id >= 0) vocab.types[vocab.unk_id] = TokenType::Unknown;
  }
  vocab.merges.clear();
  vocab.add_space_prefix = true;
  vocab.add_bos = true;
}

}  // namespace

Result<Vocab> import_hf_tokenizer_json(const std::string& path, const std::string& pre_hint) {
  TK_ASSIGN(const std::string text, vocab_detail::read_file(path));
  const json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object() || !root.contains("model")) {
    return make_error(ErrorCode::BadFormat, path + ": not a Hugging Face tokenizer.json");
  }
  const json& model = root["model"];
  const std::string type = model.value("type", "");
  if (type != "BPE") {
    return make_error(ErrorCode::Unsupported,
                      path + ": model type '" + type + "' is not supported (only BPE)");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return make_error(ErrorCode::BadFormat, path + ": model.vocab is missing or not an object");
  }
  const bool byte_fallback = model.value("byte_fallback", false);
  const bool byte_level =
      has_step(root, "pre_tokenizer", "ByteLevel") || has_step(root, "decoder", "ByteLevel");
  if (!byte_level && !byte_fallback) {
    return make_error(ErrorCode::Unsupported,
                      path + ": BPE without ByteLevel and without byte_fallback is not supported");
  }
  Vocab vocab;
  size_t num_tokens = 0;
  const json added = root.contains("added_tokens") ? root["added_tokens"] : json::array();
  for (const json& t : added) num_tokens = std::max<size_t>(num_tokens, t.value("id", 0) + 1);
  TK_TRY(vocab_detail::fill_tokens_from_json(model["vocab"], path, vocab, num_tokens, true));
  for (const json& t : added) {
    const int64_t id = t.value("id", -1);
    if (id < 0 || !t.contains("content") || !t["content"].is_string()) {
      return make_error(ErrorCode::BadFormat, path + ": added token " + t.dump() + " is malformed");
    }
    vocab.tokens[id] = t["content"].get<std::string>();
    vocab.types[id] = t.value("special", false) ? TokenType::Control : TokenType::UserDefined;
  }
  TK_TRY(read_merges(model, path, vocab.merges));
  if (byte_level) {
    vocab.kind = VocabKind::Bpe;
    if (pre_hint.empty()) {
      TK_ASSIGN(vocab.pre, detect_pre(root, path));
    } else {
      vocab.pre = pre_hint;
    }
    vocab.add_space_prefix = false;
    vocab.add_bos = false;
  } else {
    to_spm_vocab(model, vocab);
  }
  apply_config(root, path, vocab);
  if (vocab.eos_id >= 0) vocab.eog_ids = {vocab.eos_id};
  TK_TRY(vocab_detail::validate(vocab, path));
  return vocab;
}

}  // namespace tokamak
