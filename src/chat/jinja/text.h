// Unicode-aware string helpers with Python str semantics (code point indexing,
// Python's notion of whitespace, printable characters and case mapping via utf8proc).
#pragma once
#include "core/utf8.h"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::chat::jinja::text {

// Decodes UTF-8 into code points; invalid bytes map to themselves (U+0080..U+00FF range).
std::vector<char32_t> decode(std::string_view s);
std::string encode(const std::vector<char32_t>& cps, size_t begin = 0, size_t end = SIZE_MAX);
using pocketllm::append_utf8;  // core/utf8.h
size_t length(std::string_view s);  // number of code points

bool is_space(char32_t c);      // Python str.isspace()
bool is_printable(char32_t c);  // approximation of Python str.isprintable()
bool is_linebreak(char32_t c);  // str.splitlines() boundaries
bool is_alpha(char32_t c);
bool is_alnum(char32_t c);
bool is_lower_char(char32_t c);
bool is_upper_char(char32_t c);

std::string strip(std::string_view s, bool left, bool right);
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);   // str.capitalize()
std::string title_method(std::string_view s); // str.title()
std::string title_filter(std::string_view s); // jinja2's |title filter
std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit);
std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
int64_t find(std::string_view s, std::string_view sub, bool reverse);  // code point index or -1
int64_t count(std::string_view s, std::string_view sub);

}  // namespace pocketllm::chat::jinja::text
