// Jinja lexer: template text → tokens, with jinja2's whitespace rules as
// transformers configures them (trim_blocks, lstrip_blocks, `-` and `+`
// modifiers, one trailing newline of the template dropped, \r\n and \r read
// as \n). Comments are dropped here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tokamak::jinja {

struct Token {
  enum class Type {
    Text,
    VarBegin,
    VarEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Int,
    Float,
    Op,
    End
  };
  Type type = Type::End;
  std::string text;  // Text: the data; Name/Op: the spelling; String: the unescaped value
  int line = 1;
  int column = 1;
};

// Throws TemplateError (with location) on an unterminated tag, comment or
// string, or a character that starts no token.
std::vector<Token> tokenize(std::string_view source);

// How a token reads in an error message: 'endif', '%}', end of template.
std::string describe(const Token& t);

}  // namespace tokamak::jinja
