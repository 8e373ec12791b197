// Splits template text into tokens exactly as python-jinja2's lexer does with
// trim_blocks=True and lstrip_blocks=True (newline normalization, one trailing newline
// dropped, whitespace control markers, raw blocks, comments).
#pragma once
#include <string>
#include <vector>

namespace pocketllm::chat::jinja {

enum class TokenType { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End };

struct Token {
  TokenType type;
  std::string text;  // Data text, name, unescaped string, number literal or operator
  int line;
};

std::vector<Token> tokenize(const std::string& source);

}  // namespace pocketllm::chat::jinja
