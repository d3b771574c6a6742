#include "template/jinja_lexer.h"

#include <algorithm>
#include <array>

#include "template/jinja_error.h"
#include "template/jinja_value.h"

namespace tokamak::jinja {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// \r\n and \r become \n; one trailing newline is dropped (keep_trailing_newline=False).
std::string normalize(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t start = find_tag(pos);
      std::string text = src_.substr(pos, start - pos);
      if (start == src_.size()) {
        emit(Token::Type::Text, std::move(text), pos);
        break;
      }
      const char kind = src_[start + 1];
      size_t p = start + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (sign != '+' && kind != '{') {
        lstrip(text, line_starting);
      }
      if (!text.empty()) emit(Token::Type::Text, std::move(text), pos);
      size_t after = 0;
      if (kind == '#') {
        after = comment(start, p);
      } else {
        emit(kind == '%' ? Token::Type::BlockBegin : Token::Type::VarBegin,
             kind == '%' ? "{%" : "{{", start);
        after = tag(start, p, kind == '%');
      }
      line_starting = after > 0 && src_[after - 1] == '\n';
      pos = after;
    }
    emit(Token::Type::End, "", src_.size());
    return std::move(tokens_);
  }

 private:
  // Offset of the next "{{", "{%" or "{#" at or after pos (size() if none).
  size_t find_tag(size_t pos) const {
    for (size_t i = pos; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return src_.size();
  }

  // lstrip_blocks: spaces and tabs between a line start and a block or comment tag go.
  static void lstrip(std::string& text, bool line_starting) {
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting) return;
    if (l_pos == text.size()) return;
    for (size_t i = l_pos; i < text.size(); ++i) {
      if (!is_space(text[i])) return;
    }
    text.resize(l_pos);
  }

  // After a closing tag: `-` eats all whitespace; plain block and comment
  // tags eat one newline (trim_blocks); `+` keeps everything.
  size_t after_close(size_t after, char sign, bool trims) const {
    if (sign == '-') {
      while (after < src_.size() && is_space(src_[after])) ++after;
    } else if (sign != '+' && trims && after < src_.size() && src_[after] == '\n') {
      ++after;
    }
    return after;
  }

  size_t comment(size_t start, size_t p) const {
    const size_t end = src_.find("#}", p);
    if (end == std::string::npos) fail_at(start, "unclosed comment: expected '#}'");
    char sign = 0;
    if (end > p && (src_[end - 1] == '-' || src_[end - 1] == '+')) sign = src_[end - 1];
    return after_close(end + 2, sign, true);
  }

  // Tokens inside {% %} or {{ }} up to the closing tag; returns the offset after it.
  size_t tag(size_t start, size_t p, bool block) {
    const char close = block ? '%' : '}';
    std::vector<char> balance;
    for (;;) {
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (p >= src_.size()) {
        fail_at(start, block ? "unclosed tag: expected '%}'" : "unclosed tag: expected '}}'");
      }
      if (balance.empty()) {
        char sign = 0;
        size_t q = p;
        if (src_[q] == '-' || (block && src_[q] == '+')) sign = src_[q++];
        if (q + 1 < src_.size() && src_[q] == close && src_[q + 1] == '}') {
          emit(block ? Token::Type::BlockEnd : Token::Type::VarEnd, block ? "%}" : "}}", p);
          return after_close(q + 2, sign, block);
        }
      }
      p = token(p, balance);
    }
  }

  size_t token(size_t p, std::vector<char>& balance) {
    const char c = src_[p];
    if (is_name_start(c)) {
      size_t q = p;
      while (q < src_.size() && is_name_char(src_[q])) ++q;
      emit(Token::Type::Name, src_.substr(p, q - p), p);
      return q;
    }
    if (c == '\'' || c == '"') return string_literal(p);
    if (is_digit(c)) return number(p);
    static constexpr std::array<std::string_view, 6> kTwo = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwo) {
      if (src_.compare(p, 2, op) == 0) {
        emit(Token::Type::Op, std::string(op), p);
        return p + 2;
      }
    }
    static constexpr std::string_view kOne = "+-/*%~[](){}><=.:|,;";
    if (kOne.find(c) == std::string_view::npos) {
      fail_at(p, std::string("unexpected character '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail_at(p, std::string("unexpected '") + c + "'");
      if (balance.back() != c) {
        fail_at(p, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      }
      balance.pop_back();
    }
    emit(Token::Type::Op, std::string(1, c), p);
    return p + 1;
  }

  size_t digits(size_t q) const {
    while (q < src_.size() && (is_digit(src_[q]) ||
                               (src_[q] == '_' && q + 1 < src_.size() && is_digit(src_[q + 1])))) {
      ++q;
    }
    return q;
  }

  size_t number(size_t p) {
    size_t q = digits(p);
    bool is_float = false;
    if (q + 1 < src_.size() && src_[q] == '.' && is_digit(src_[q + 1])) {
      q = digits(q + 1);
      is_float = true;
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
      if (r < src_.size() && is_digit(src_[r])) {
        q = digits(r);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = p; i < q; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    emit(is_float ? Token::Type::Float : Token::Type::Int, std::move(text), p);
    return q;
  }

  size_t string_literal(size_t p) {
    const char quote = src_[p];
    std::string value;
    size_t q = p + 1;
    for (;;) {
      if (q >= src_.size()) fail_at(p, "unterminated string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) fail_at(p, "unterminated string literal");
      q = escape(q, value);
    }
    emit(Token::Type::String, std::move(value), p);
    return q + 1;
  }

  // Python's unicode-escape for the escape sequence at src_[q] == '\\'.
  size_t escape(size_t q, std::string& value) const {
    const char e = src_[q + 1];
    switch (e) {
      case '\n':
        return q + 2;
      case '\\':
        value += '\\';
        return q + 2;
      case '\'':
        value += '\'';
        return q + 2;
      case '"':
        value += '"';
        return q + 2;
      case 'a':
        value += '\a';
        return q + 2;
      case 'b':
        value += '\b';
        return q + 2;
      case 'f':
        value += '\f';
        return q + 2;
      case 'n':
        value += '\n';
        return q + 2;
      case 'r':
        value += '\r';
        return q + 2;
      case 't':
        value += '\t';
        return q + 2;
      case 'v':
        value += '\v';
        return q + 2;
      default:
        break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t cp = 0;
      size_t r = q + 1;
      for (int k = 0; k < 3 && r < src_.size() && src_[r] >= '0' && src_[r] <= '7'; ++k, ++r) {
        cp = cp * 8 + static_cast<uint32_t>(src_[r] - '0');
      }
      append_utf8(value, cp);
      return r;
    }
    const int num_hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (num_hex == 0) {  // unknown escapes stay as written
      value += '\\';
      return q + 1;
    }
    uint32_t cp = 0;
    for (int k = 0; k < num_hex; ++k) {
      const size_t r = q + 2 + static_cast<size_t>(k);
      const int h = r < src_.size() ? hex_value(src_[r]) : -1;
      if (h < 0) fail_at(q, std::string("truncated \\") + e + " escape in a string literal");
      cp = cp * 16 + static_cast<uint32_t>(h);
    }
    if (cp > 0x10FFFF) fail_at(q, "\\U escape beyond U+10FFFF in a string literal");
    append_utf8(value, cp);
    return q + 2 + static_cast<size_t>(num_hex);
  }

  void locate(size_t offset, int& line, int& column) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    line = static_cast<int>(it - line_starts_.begin());
    column = static_cast<int>(offset - *(it - 1)) + 1;
  }

  void emit(Token::Type type, std::string text, size_t offset) {
    Token t{type, std::move(text), 1, 1};
    locate(offset, t.line, t.column);
    tokens_.push_back(std::move(t));
  }

  [[noreturn]] void fail_at(size_t offset, std::string message) const {
    int line = 1, column = 1;
    locate(offset, line, column);
    fail(std::move(message), line, column);
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

std::string describe(const Token& t) {
  switch (t.type) {
    case Token::Type::End:
      return "the end of the template";
    case Token::Type::Text:
      return "text";
    case Token::Type::String:
      return "a string";
    default:
      return "'" + t.text + "'";
  }
}

}  // namespace tokamak::jinja
