// Splits an answer's Markdown into prose and fenced code blocks, so the chat
// view renders prose with Text.MarkdownText and code in a monospace block
// with its own copy button. Works on partial text while streaming: an
// unclosed fence is a code block that is still growing.
#pragma once

#include <string>
#include <vector>

namespace tokamak {

struct MarkdownBlock {
  bool code = false;
  std::string language;  // the info string's first word ("cpp"), code blocks only
  std::string text;      // prose as Markdown; code without its fences
  bool closed = true;    // code: the closing fence was seen
};

std::vector<MarkdownBlock> split_markdown_blocks(const std::string& markdown);

}  // namespace tokamak
