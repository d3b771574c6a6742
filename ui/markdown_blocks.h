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

// Prose whose single line breaks are kept: a line followed by another
// non-blank line ends in a Markdown hard break ("  \n"), as a person's
// Shift+Enter lines are meant (plain Markdown would join them into one line).
// Blank lines (paragraph breaks) stay as they are.
std::string keep_line_breaks(const std::string& prose);

}  // namespace tokamak
