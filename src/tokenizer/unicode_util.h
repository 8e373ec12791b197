// UTF-8 helpers for the tokenizers: char boundaries that tolerate invalid
// bytes, lossy repair (U+FFFD per maximal subpart, as WHATWG TextDecoder and
// Rust's from_utf8_lossy do), the GPT-2 byte<->unicode map, NFC via utf8proc.
#pragma once
#include "core/utf8.h"
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pocketllm::tok {

// Scans one char at s[pos]. Returns its byte length and sets valid. For invalid
// input, the length is that of the maximal subpart (>= 1) to replace.
size_t utf8_scan(std::string_view s, size_t pos, bool& valid);
// Length of the char at s[pos]; an invalid byte counts as a 1-byte char.
inline size_t utf8_char_len(std::string_view s, size_t pos) {
  bool valid;
  size_t n = utf8_scan(s, pos, valid);
  return valid ? n : 1;
}
bool is_valid_utf8(std::string_view s);
// Code point of the char at s[pos] and its length; an invalid byte b gives
// 0x80000000 | b with length 1 (never equal to a real code point).
uint32_t utf8_code_point(std::string_view s, size_t pos, size_t& len);
std::string utf8_lossy(std::string_view s);
// Bytes at the end of s that begin a valid but incomplete UTF-8 char (0..3).
size_t utf8_incomplete_tail(std::string_view s);
using pocketllm::append_utf8;  // core/utf8.h

// GPT-2 byte-level map: every byte as a printable unicode char ("Ġ" for ' ').
const std::string& byte_to_unicode(uint8_t b);
// Inverse for one code point; -1 when cp is not in the map.
int unicode_to_byte(uint32_t cp);
// Maps a byte-level token text back to bytes; false when some char is unmapped.
bool byte_level_decode(std::string_view piece, std::string& out);

// Unicode White_Space, as Rust's char::is_whitespace (what Hugging Face's tokenizers trim).
bool is_unicode_space(uint32_t cp);
// s[from, to) without its leading / trailing whitespace: the new from / to.
size_t skip_spaces(std::string_view s, size_t from, size_t to);
size_t trim_spaces_end(std::string_view s, size_t from, size_t to);

// NFC; invalid UTF-8 is left unchanged (normalization needs valid text).
std::string nfc(std::string_view s);

}  // namespace pocketllm::tok
