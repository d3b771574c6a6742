#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>

namespace tokamak {

const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

// Per-thread JIT stack and match data, reused across calls (PCRE2 objects are
// not shareable between threads while matching; the compiled code is).
struct ThreadMatchState {
  pcre2_jit_stack* jit_stack = nullptr;
  pcre2_match_context* context = nullptr;
  ThreadMatchState() {
    jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (jit_stack && context) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

ThreadMatchState& thread_match_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

Result<PreTokenizer::Spec> PreTokenizer::spec_for(const std::string& pre) {
  if (pre == "llama-bpe" || pre == "llama3") return Spec{kLlama3Pattern, true};
  if (pre == "dbrx" || pre == "smaug-bpe") return Spec{kLlama3Pattern, false};
  if (pre == "qwen2") return Spec{kQwen2Pattern, false};
  if (pre == "gpt-2" || pre == "gpt2" || pre == "default") return Spec{kGpt2Pattern, false};
  return make_error(ErrorCode::Unsupported,
                    "unsupported BPE pre-tokenizer '" + pre +
                        "' (tokenizer.ggml.pre); supported: llama-bpe, llama3, dbrx, smaug-bpe, "
                        "qwen2, gpt-2, default");
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::string& pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return make_error(ErrorCode::BadFormat, "pre-tokenizer regex does not compile at offset " +
                                                std::to_string(error_offset) + ": " +
                                                reinterpret_cast<const char*>(message));
  }
  // JIT is an optimisation: pcre2_match falls back to the interpreter without it.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer());
  pre->pattern_ = pattern;
  pre->code_ = code;
  return pre;
}

PreTokenizer::~PreTokenizer() { pcre2_code_free(as_code(code_)); }

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
  if (text.empty()) return;
  ThreadMatchState& state = thread_match_state();
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(as_code(code_), nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t last = 0;  // end of the previous word
  size_t start = 0;
  while (start < text.size()) {
    const int rc =
        pcre2_match(as_code(code_), subject, text.size(), start, 0, match, state.context);
    if (rc < 0) break;  // no further match (or a matching limit): the rest is one word
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (begin > last) words.push_back(text.substr(last, begin - last));
    if (end > begin) {
      words.push_back(text.substr(begin, end - begin));
      last = end;
      start = end;
    } else {
      last = begin;
      start = begin + 1;  // empty match: step over one byte
      while (start < text.size() && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) ++start;
    }
  }
  if (last < text.size()) words.push_back(text.substr(last));
  pcre2_match_data_free(match);
}

}  // namespace tokamak
