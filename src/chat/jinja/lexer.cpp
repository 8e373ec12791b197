#include "chat/jinja/lexer.h"

#include <cstring>

#include "chat/jinja/text.h"
#include "core/error.h"

namespace pocketllm::chat::jinja {

namespace {

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Length of the (possibly multi-byte) whitespace character at s[i], 0 if none (Python's \s).
size_t space_at(const std::string& s, size_t i) {
  if (i >= s.size()) return 0;
  if (ascii_space(s[i]) || (s[i] >= 0x1C && s[i] <= 0x1F)) return 1;
  if (static_cast<unsigned char>(s[i]) < 0x80) return 0;
  size_t n = 1;
  while (i + n < s.size() && n < 4 && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
  auto cps = text::decode(std::string_view(s).substr(i, n));
  return (cps.size() == 1 && text::is_space(cps[0])) ? n : 0;
}

size_t skip_spaces(const std::string& s, size_t i) {
  while (size_t n = space_at(s, i)) i += n;
  return i;
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python's str.rstrip() for the text before a "{%-" marker.
std::string rstrip_text(const std::string& t) { return text::strip(t, false, true); }

// Decodes a Python string literal body (unicode-escape semantics as jinja2 applies them).
std::string unescape(const std::string& body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    char e = body[++i];
    auto hex = [&](size_t digits) -> char32_t {
      if (i + digits >= body.size()) fail("chat template line {}: truncated \\x escape", line);
      char32_t v = 0;
      for (size_t k = 1; k <= digits; ++k) {
        char h = body[i + k];
        int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
        if (d < 0) fail("chat template line {}: invalid escape in string literal", line);
        v = v * 16 + static_cast<char32_t>(d);
      }
      i += digits;
      return v;
    };
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\n': break;  // line continuation
      case 'x': text::append_utf8(out, hex(2)); break;
      case 'u': text::append_utf8(out, hex(4)); break;
      case 'U': {
        char32_t v = hex(8);
        if (v > 0x10FFFF) fail("chat template line {}: invalid \\U escape", line);
        text::append_utf8(out, v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          char32_t v = static_cast<char32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<char32_t>(body[++i] - '0');
          text::append_utf8(out, v);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) {
      size_t f = find_tag(pos_);
      if (f == std::string::npos) {
        emit_data(s_.substr(pos_));
        break;
      }
      std::string data = s_.substr(pos_, f - pos_);
      char kind = s_[f + 1];
      size_t after = f + 2;
      char sign = (after < s_.size() && (s_[after] == '-' || s_[after] == '+')) ? s_[after] : 0;
      size_t raw_end = kind == '%' ? match_raw_begin(f) : 0;
      data = lstrip_data(data, sign, kind != '{');
      emit_data(data);
      line_ += count_newlines(s_, pos_, f);
      line_starting_ = false;
      if (sign) ++after;
      if (raw_end) {
        lex_raw(raw_end);
      } else if (kind == '#') {
        lex_comment(after);
      } else {
        lex_tag(after, kind == '%');
      }
    }
    tokens_.push_back({TokenType::End, "", line_});
    return std::move(tokens_);
  }

 private:
  static int count_newlines(const std::string& s, size_t b, size_t e) {
    int n = 0;
    for (size_t i = b; i < e && i < s.size(); ++i) n += s[i] == '\n';
    return n;
  }

  size_t find_tag(size_t from) const {
    for (size_t i = s_.find('{', from); i != std::string::npos; i = s_.find('{', i + 1)) {
      if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // "{%[-+]?\s*raw\s*(-%}\s*|%})" at f: returns the position after it, 0 if no match.
  size_t match_raw_begin(size_t f) const {
    size_t i = f + 2;
    if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) ++i;
    i = skip_spaces(s_, i);
    if (s_.compare(i, 3, "raw") != 0) return 0;
    i = skip_spaces(s_, i + 3);
    if (s_.compare(i, 3, "-%}") == 0) return skip_spaces(s_, i + 3);
    if (s_.compare(i, 2, "%}") == 0) return i + 2;
    return 0;
  }

  // Whitespace control before a tag: "-" strips all, lstrip_blocks strips the line's indentation.
  std::string lstrip_data(const std::string& data, char sign, bool is_block_or_comment) const {
    if (sign == '-') return rstrip_text(data);
    if (sign == '+' || !is_block_or_comment) return data;
    size_t nl = data.rfind('\n');
    size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if (l_pos == 0 && !line_starting_) return data;
    if (l_pos == data.size()) return data;
    size_t i = l_pos;
    while (size_t n = space_at(data, i)) i += n;
    return i == data.size() ? data.substr(0, l_pos) : data;
  }

  void emit_data(const std::string& d) {
    if (!d.empty()) tokens_.push_back({TokenType::Data, d, line_});
  }

  // Consumes a block end ("%}") variant starting at i; updates pos_ and line_starting_.
  void finish_block_end(size_t i, char sign_before) {
    if (sign_before == '-') {
      size_t e = skip_spaces(s_, i);
      line_starting_ = e > i && s_[e - 1] == '\n';
      line_ += count_newlines(s_, i, e);
      pos_ = e;
    } else if (sign_before == '+') {
      line_starting_ = false;
      pos_ = i;
    } else if (i < s_.size() && s_[i] == '\n') {  // trim_blocks
      line_starting_ = true;
      ++line_;
      pos_ = i + 1;
    } else {
      line_starting_ = false;
      pos_ = i;
    }
  }

  void lex_comment(size_t i) {
    size_t f = s_.find("#}", i);
    if (f == std::string::npos) fail("chat template line {}: missing end of comment tag", line_);
    char sign = (f > i && (s_[f - 1] == '-' || s_[f - 1] == '+')) ? s_[f - 1] : 0;
    line_ += count_newlines(s_, i, f);
    finish_block_end(f + 2, sign);
  }

  void lex_raw(size_t i) {
    // Content runs to "{%[-+]?\s*endraw\s*(+%}|-%}\s*|%}\n?)".
    for (size_t f = s_.find("{%", i); f != std::string::npos; f = s_.find("{%", f + 1)) {
      size_t j = f + 2;
      char sign = (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) ? s_[j] : 0;
      if (sign) ++j;
      j = skip_spaces(s_, j);
      if (s_.compare(j, 6, "endraw") != 0) continue;
      j = skip_spaces(s_, j + 6);
      char end_sign = 0;
      if (s_.compare(j, 3, "+%}") == 0 || s_.compare(j, 3, "-%}") == 0) {
        end_sign = s_[j];
        j += 3;
      } else if (s_.compare(j, 2, "%}") == 0) {
        j += 2;
      } else {
        continue;
      }
      line_starting_ = false;
      emit_data(lstrip_data(s_.substr(i, f - i), sign, true));
      line_ += count_newlines(s_, i, j);
      finish_block_end(j, end_sign);
      return;
    }
    fail("chat template line {}: missing end of raw directive", line_);
  }

  void lex_tag(size_t i, bool block) {
    tokens_.push_back({block ? TokenType::BlockBegin : TokenType::VarBegin, "", line_});
    std::vector<char> balance;
    while (true) {
      if (i >= s_.size()) fail("chat template line {}: unexpected end of template inside a tag", line_);
      if (balance.empty()) {
        if (block) {
          if (s_.compare(i, 3, "-%}") == 0 || s_.compare(i, 3, "+%}") == 0) {
            tokens_.push_back({TokenType::BlockEnd, "", line_});
            finish_block_end(i + 3, s_[i]);
            return;
          }
          if (s_.compare(i, 2, "%}") == 0) {
            tokens_.push_back({TokenType::BlockEnd, "", line_});
            finish_block_end(i + 2, 0);
            return;
          }
        } else {
          if (s_.compare(i, 3, "-}}") == 0) {
            tokens_.push_back({TokenType::VarEnd, "", line_});
            finish_block_end(i + 3, '-');
            return;
          }
          if (s_.compare(i, 2, "}}") == 0) {
            tokens_.push_back({TokenType::VarEnd, "", line_});
            line_starting_ = false;
            pos_ = i + 2;
            return;
          }
        }
      }
      if (size_t n = space_at(s_, i)) {
        line_ += s_[i] == '\n';
        i += n;
        continue;
      }
      char c = s_[i];
      if (is_digit(c)) {
        i = lex_number(i);
      } else if (is_name_start(c)) {
        size_t b = i;
        while (i < s_.size() && is_name_char(s_[i])) ++i;
        tokens_.push_back({TokenType::Name, s_.substr(b, i - b), line_});
      } else if (c == '\'' || c == '"') {
        size_t b = ++i;
        while (i < s_.size() && s_[i] != c) i += s_[i] == '\\' ? 2 : 1;
        if (i >= s_.size()) fail("chat template line {}: unterminated string literal", line_);
        std::string body = s_.substr(b, i - b);
        tokens_.push_back({TokenType::String, unescape(body, line_), line_});
        line_ += count_newlines(s_, b, i);
        ++i;
      } else {
        i = lex_operator(i, balance);
      }
    }
  }

  size_t lex_number(size_t i) {
    size_t b = i;
    auto digits = [&](size_t& k) {
      size_t start = k;
      while (k < s_.size() && (is_digit(s_[k]) || (s_[k] == '_' && k > start && k + 1 < s_.size() && is_digit(s_[k + 1]))))
        ++k;
      return k > start;
    };
    digits(i);
    bool is_float = false;
    bool after_dot = b > 0 && s_[b - 1] == '.';
    if (!after_dot) {
      size_t k = i;
      if (k + 1 < s_.size() && s_[k] == '.' && is_digit(s_[k + 1])) {
        ++k;
        digits(k);
        is_float = true;
        i = k;
      }
      if (i < s_.size() && s_[i] == 'e') {
        size_t k2 = i + 1;
        if (k2 < s_.size() && (s_[k2] == '+' || s_[k2] == '-')) ++k2;
        if (k2 < s_.size() && is_digit(s_[k2])) {
          digits(k2);
          is_float = true;
          i = k2;
        }
      }
    }
    std::string lit;
    for (size_t k = b; k < i; ++k)
      if (s_[k] != '_') lit += s_[k];
    tokens_.push_back({is_float ? TokenType::Float : TokenType::Integer, lit, line_});
    return i;
  }

  size_t lex_operator(size_t i, std::vector<char>& balance) {
    static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : two)
      if (s_.compare(i, 2, op) == 0) {
        tokens_.push_back({TokenType::Operator, op, line_});
        return i + 2;
      }
    char c = s_[i];
    if (!std::strchr("+-*/%~[](){}<>=.:|,;", c))
      fail("chat template line {}: unexpected character '{}'", line_, std::string(1, c));
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c);
    } else if (c == ')' || c == ']' || c == '}') {
      char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (balance.empty() || balance.back() != open)
        fail("chat template line {}: unexpected '{}'", line_, std::string(1, c));
      balance.pop_back();
    }
    tokens_.push_back({TokenType::Operator, std::string(1, c), line_});
    return i + 1;
  }

  std::string s_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) {
  // Newlines are normalized to "\n" and a single trailing newline is dropped (keep_trailing_newline=False).
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      src += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      src += source[i];
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

}  // namespace pocketllm::chat::jinja
