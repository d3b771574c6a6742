#include "markdown_blocks.h"

#include <string_view>

namespace tokamak {
namespace {

// A fence line: up to 3 spaces, then 3+ backticks or tildes.
bool parse_fence(std::string_view line, char& ch, size_t& len, std::string_view& info) {
  size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') ++i;
  if (i >= line.size() || (line[i] != '`' && line[i] != '~')) return false;
  ch = line[i];
  size_t n = 0;
  while (i + n < line.size() && line[i + n] == ch) ++n;
  if (n < 3) return false;
  len = n;
  info = line.substr(i + n);
  return true;
}

std::string first_word(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_first_of(" \t{", b);
  return std::string(s.substr(b, e == std::string_view::npos ? e : e - b));
}

}  // namespace

std::vector<MarkdownBlock> split_markdown_blocks(const std::string& markdown) {
  std::vector<MarkdownBlock> out;
  MarkdownBlock cur;
  char fence_ch = 0;
  size_t fence_len = 0;
  auto flush_prose = [&] {
    if (cur.text.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
    cur = MarkdownBlock{};
  };
  size_t pos = 0;
  while (pos <= markdown.size()) {
    size_t nl = markdown.find('\n', pos);
    const bool last = nl == std::string::npos;
    std::string_view line(markdown.data() + pos, (last ? markdown.size() : nl) - pos);
    char ch = 0;
    size_t len = 0;
    std::string_view info;
    if (!cur.code && parse_fence(line, ch, len, info) &&
        (ch == '~' || info.find('`') == info.npos)) {
      flush_prose();
      cur.code = true;
      cur.closed = false;
      cur.language = first_word(info);
      fence_ch = ch;
      fence_len = len;
    } else if (cur.code && parse_fence(line, ch, len, info) && ch == fence_ch && len >= fence_len &&
               info.find_first_not_of(" \t") == std::string_view::npos) {
      if (!cur.text.empty() && cur.text.back() == '\n') cur.text.pop_back();
      cur.closed = true;
      out.push_back(cur);
      cur = MarkdownBlock{};
    } else {
      cur.text.append(line);
      if (!last) cur.text.push_back('\n');
    }
    if (last) break;
    pos = nl + 1;
  }
  if (cur.code) {
    if (!cur.text.empty() && cur.text.back() == '\n') cur.text.pop_back();
    out.push_back(cur);
  } else {
    flush_prose();
  }
  return out;
}

std::string keep_line_breaks(const std::string& prose) {
  auto blank = [](std::string_view line) {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
  };
  std::string out;
  out.reserve(prose.size() + prose.size() / 16);
  size_t pos = 0;
  while (true) {
    const size_t nl = prose.find('\n', pos);
    if (nl == std::string::npos) {
      out.append(prose, pos, std::string::npos);
      break;
    }
    const std::string_view line(prose.data() + pos, nl - pos);
    const size_t next_end = prose.find('\n', nl + 1);
    const std::string_view next(prose.data() + nl + 1,
                                (next_end == std::string::npos ? prose.size() : next_end) - nl - 1);
    out.append(line);
    if (!blank(line) && !blank(next) && line.back() != ' ') out.append("  ");
    out.push_back('\n');
    pos = nl + 1;
  }
  return out;
}

}  // namespace tokamak
