#include "convert/vocab_import.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#ifdef TOKAMAK_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

#include "convert/vocab_import_detail.h"

namespace tokamak {

namespace fs = std::filesystem;

namespace vocab_detail {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::NotFound, path + ": cannot open for reading");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::IoError, path + ": read failed");
  return buffer.str();
}

bool is_byte_token_text(const std::string& text) {
  if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return false;
  return std::isxdigit(static_cast<unsigned char>(text[3])) &&
         std::isxdigit(static_cast<unsigned char>(text[4]));
}

Status validate(const Vocab& vocab, const std::string& path) {
  const int32_t n = vocab.size();
  for (auto [name, id] : {std::pair{"bos", vocab.bos_id}, std::pair{"eos", vocab.eos_id},
                          std::pair{"unknown", vocab.unk_id}, std::pair{"padding", vocab.pad_id}}) {
    if (id < -1 || id >= n) {
      return make_error(ErrorCode::BadFormat, path + ": " + name + " token id " +
                                                  std::to_string(id) + " is outside the " +
                                                  std::to_string(n) + "-token vocabulary");
    }
  }
  return {};
}

}  // namespace vocab_detail

using vocab_detail::read_file;

// ---------------------------------------------------------------- llama2.c

Result<Vocab> import_llama2c_vocab(const std::string& path) {
  TK_ASSIGN(const std::string bytes, read_file(path));
  auto fail = [&](const std::string& what) {
    return make_error(ErrorCode::BadFormat, path + ": not a llama2.c tokenizer.bin: " + what);
  };
  if (bytes.size() < 4) return fail("shorter than its 4-byte header");
  int32_t max_token_length = 0;
  std::memcpy(&max_token_length, bytes.data(), 4);
  if (max_token_length <= 0 || max_token_length > 1 << 16) {
    return fail("max_token_length " + std::to_string(max_token_length) + " is implausible");
  }
  Vocab vocab;
  vocab.kind = VocabKind::Spm;
  size_t pos = 4;
  while (pos < bytes.size()) {
    const size_t index = vocab.tokens.size();
    if (bytes.size() - pos < 8) return fail("token " + std::to_string(index) + " is cut off");
    float score = 0;
    int32_t length = 0;
    std::memcpy(&score, bytes.data() + pos, 4);
    std::memcpy(&length, bytes.data() + pos + 4, 4);
    pos += 8;
    if (length < 0 || length > max_token_length ||
        static_cast<size_t>(length) > bytes.size() - pos) {
      return fail("token " + std::to_string(index) + " has length " + std::to_string(length) +
                  " (max_token_length " + std::to_string(max_token_length) + ", " +
                  std::to_string(bytes.size() - pos) + " bytes left)");
    }
    std::string text = bytes.substr(pos, length);
    pos += length;
    // llama2.c's export wrote ' ' for "▁" and "\n<s>\n" / "\n</s>\n" for BOS/EOS.
    TokenType type = TokenType::Normal;
    if (index == 0) {
      type = TokenType::Unknown;
    } else if (index == 1 || index == 2) {
      type = TokenType::Control;
      text = index == 1 ? "<s>" : "</s>";
    } else if (vocab_detail::is_byte_token_text(text)) {
      type = TokenType::Byte;
    } else {
      std::string escaped;
      for (char c : text) {
        if (c == ' ') {
          escaped += "\xE2\x96\x81";
        } else {
          escaped.push_back(c);
        }
      }
      text = std::move(escaped);
    }
    vocab.tokens.push_back(std::move(text));
    vocab.scores.push_back(score);
    vocab.types.push_back(type);
  }
  if (vocab.tokens.size() < 3) return fail("fewer than 3 tokens (<unk>, <s>, </s>)");
  vocab.unk_id = 0;
  vocab.bos_id = 1;
  vocab.eos_id = 2;
  vocab.eog_ids = {2};
  vocab.add_bos = true;
  vocab.add_space_prefix = true;
  return vocab;
}

// ------------------------------------------------------------ SentencePiece

#ifdef TOKAMAK_HAVE_SENTENCEPIECE
Result<Vocab> import_sentencepiece_vocab(const std::string& path) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.Load(path);
  if (!status.ok()) {
    return make_error(ErrorCode::BadFormat,
                      path + ": libsentencepiece cannot load it: " + status.ToString());
  }
  // Piece types and add_dummy_prefix are read from the protobuf itself
  // (libsentencepiece has no accessor for user-defined pieces).
  TK_ASSIGN(const vocab_detail::SpmModelInfo info,
            vocab_detail::parse_spm_model(processor.serialized_model_proto(), path));
  const int num_pieces = processor.GetPieceSize();
  if (static_cast<size_t>(num_pieces) != info.types.size()) {
    return make_error(ErrorCode::BadFormat, path + ": libsentencepiece reports " +
                                                std::to_string(num_pieces) + " pieces, the model " +
                                                "protobuf lists " +
                                                std::to_string(info.types.size()));
  }
  Vocab vocab;
  vocab.kind = VocabKind::Spm;
  for (int id = 0; id < num_pieces; ++id) {
    vocab.tokens.push_back(processor.IdToPiece(id));
    vocab.scores.push_back(processor.GetScore(id));
    vocab.types.push_back(info.types[id]);
  }
  vocab.unk_id = processor.unk_id();
  vocab.bos_id = processor.bos_id();
  vocab.eos_id = processor.eos_id();
  vocab.pad_id = processor.pad_id();
  if (vocab.eos_id >= 0) vocab.eog_ids = {vocab.eos_id};
  vocab.add_bos = vocab.bos_id >= 0;
  vocab.add_eos = false;
  vocab.add_space_prefix = info.add_dummy_prefix;
  TK_TRY(vocab_detail::validate(vocab, path));
  return vocab;
}
#else
Result<Vocab> import_sentencepiece_vocab(const std::string& path) {
  return make_error(ErrorCode::Unsupported,
                    path +
                        ": this build lacks libsentencepiece, so tokenizer.model files cannot "
                        "be read (install libsentencepiece-dev and reconfigure, or convert "
                        "from tokenizer.json / tokenizer.bin)");
}
#endif

// ------------------------------------------------------ encoder.json + vocab.bpe

namespace {

// Llama 3.x's 256 special tokens, from id 128000 (Meta's list).
std::string llama3_special_token(int index) {
  switch (index) {
    case 0:
      return "<|begin_of_text|>";
    case 1:
      return "<|end_of_text|>";
    case 2:
      return "<|reserved_special_token_0|>";
    case 3:
      return "<|reserved_special_token_1|>";
    case 4:
      return "<|finetune_right_pad_id|>";
    case 5:
      return "<|reserved_special_token_2|>";
    case 6:
      return "<|start_header_id|>";
    case 7:
      return "<|end_header_id|>";
    case 8:
      return "<|eom_id|>";
    case 9:
      return "<|eot_id|>";
    case 10:
      return "<|python_tag|>";
    default:
      return "<|reserved_special_token_" + std::to_string(index - 8) + "|>";
  }
}

constexpr int32_t kLlama3NumRegular = 128000;
constexpr int kLlama3NumSpecial = 256;

}  // namespace

Result<Vocab> import_gpt2_bpe_vocab(const std::string& encoder_json_path,
                                    const std::string& vocab_bpe_path, const std::string& pre) {
  TK_ASSIGN(const std::string encoder_text, read_file(encoder_json_path));
  nlohmann::json encoder = nlohmann::json::parse(encoder_text, nullptr, false);
  if (encoder.is_discarded() || !encoder.is_object()) {
    return make_error(ErrorCode::BadFormat,
                      encoder_json_path + ": not a JSON object of token -> id");
  }
  Vocab vocab;
  vocab.kind = VocabKind::Bpe;
  vocab.pre = pre.empty() ? (encoder.size() == kLlama3NumRegular ? "llama-bpe" : "gpt-2") : pre;
  TK_TRY(vocab_detail::fill_tokens_from_json(encoder, encoder_json_path, vocab));
  TK_ASSIGN(const std::string merges_text, read_file(vocab_bpe_path));
  TK_TRY(vocab_detail::parse_merges_text(merges_text, vocab_bpe_path, vocab.merges));

  vocab.add_space_prefix = false;
  vocab.add_bos = false;
  if (vocab.pre == "llama-bpe" && vocab.size() == kLlama3NumRegular) {
    for (int i = 0; i < kLlama3NumSpecial; ++i) {
      vocab.tokens.push_back(llama3_special_token(i));
      vocab.types.push_back(TokenType::Control);
    }
    vocab.bos_id = kLlama3NumRegular;      // <|begin_of_text|>
    vocab.eos_id = kLlama3NumRegular + 9;  // <|eot_id|>
    vocab.eog_ids = {kLlama3NumRegular + 1, kLlama3NumRegular + 8, kLlama3NumRegular + 9};
    vocab.add_bos = true;
  }
  return vocab;
}

// ------------------------------------------------------------ by file name

Result<Vocab> import_vocab(const std::string& path, const std::string& pre_hint) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    const bool has_json = fs::exists(p / "tokenizer.json");
    // Like llama.cpp's converter, prefer the SentencePiece model (its scores
    // are the real ones); a tokenizer.model that is not one (Llama 3's
    // tiktoken file) falls back to tokenizer.json.
    if (fs::exists(p / "tokenizer.model")) {
      auto vocab = import_sentencepiece_vocab((p / "tokenizer.model").string());
      if (vocab.ok() || !has_json) return vocab;
    }
    if (has_json) return import_hf_tokenizer_json((p / "tokenizer.json").string(), pre_hint);
    if (fs::exists(p / "encoder.json") && fs::exists(p / "vocab.bpe")) {
      return import_gpt2_bpe_vocab((p / "encoder.json").string(), (p / "vocab.bpe").string(),
                                   pre_hint);
    }
    if (fs::exists(p / "tokenizer.bin"))
      return import_llama2c_vocab((p / "tokenizer.bin").string());
    return make_error(ErrorCode::NotFound,
                      path +
                          ": no tokenizer.json, tokenizer.model, encoder.json + vocab.bpe or "
                          "tokenizer.bin in this folder");
  }
  if (!fs::exists(p, ec)) return make_error(ErrorCode::NotFound, path + ": no such file or folder");
  const std::string name = p.filename().string();
  const std::string ext = p.extension().string();
  if (name == "encoder.json" || name == "vocab.bpe") {
    return import_gpt2_bpe_vocab((p.parent_path() / "encoder.json").string(),
                                 (p.parent_path() / "vocab.bpe").string(), pre_hint);
  }
  if (ext == ".json") return import_hf_tokenizer_json(path, pre_hint);
  if (ext == ".model") return import_sentencepiece_vocab(path);
  if (ext == ".bin") return import_llama2c_vocab(path);
  return make_error(ErrorCode::Unsupported,
                    path +
                        ": unknown tokenizer file (expected tokenizer.json, tokenizer.model, "
                        "encoder.json/vocab.bpe or a llama2.c tokenizer.bin)");
}

}  // namespace tokamak
