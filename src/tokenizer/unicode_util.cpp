#include "tokenizer/unicode_util.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

namespace pocketllm::tok {

size_t utf8_scan(std::string_view s, size_t pos, bool& valid) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  size_t left = s.size() - pos;
  unsigned char c = p[0];
  valid = true;
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    valid = false;
    return 1;
  }
  size_t i = 1;
  for (; i < need; ++i) {
    if (i >= left) break;
    unsigned char b = p[i];
    bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
  }
  if (i == need) return need;
  valid = false;
  return i;  // lead byte plus the valid continuation bytes seen
}

uint32_t utf8_code_point(std::string_view s, size_t pos, size_t& len) {
  bool valid;
  len = utf8_scan(s, pos, valid);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  if (!valid) {
    len = 1;
    return 0x80000000u | p[0];
  }
  switch (len) {
    case 1: return p[0];
    case 2: return ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    case 3: return ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    default: return ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  }
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    bool valid;
    i += utf8_scan(s, i, valid);
    if (!valid) return false;
  }
  return true;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool valid;
    size_t n = utf8_scan(s, i, valid);
    if (valid)
      out.append(s.substr(i, n));
    else
      out += "\xEF\xBF\xBD";
    i += n;
  }
  return out;
}

size_t utf8_incomplete_tail(std::string_view s) {
  // Look at the last up to 3 bytes for a lead byte whose char runs past the end.
  for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
    size_t pos = s.size() - back;
    auto c = static_cast<unsigned char>(s[pos]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking back
    bool valid;
    size_t n = utf8_scan(s, pos, valid);
    // Incomplete but so far valid: the scan consumed everything up to the end.
    return (!valid && pos + n == s.size()) ? back : 0;
  }
  return 0;
}

namespace {
// Printable bytes map to themselves; the others (controls, space, 0x7F-0xA0,
// 0xAD) get code points 256, 257, ... in byte order.
struct ByteMap {
  std::array<std::string, 256> to_text;
  std::array<int, 512> from_cp;
  ByteMap() {
    from_cp.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      append_utf8(to_text[b], cp);
      from_cp[cp] = b;
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}
}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return byte_map().to_text[b]; }

int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_map().from_cp[cp] : -1; }

bool byte_level_decode(std::string_view piece, std::string& out) {
  size_t start = out.size();
  for (size_t i = 0; i < piece.size();) {
    utf8proc_int32_t cp;
    auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(piece.data()) + i,
                              static_cast<utf8proc_ssize_t>(piece.size() - i), &cp);
    int b = n > 0 ? unicode_to_byte(static_cast<uint32_t>(cp)) : -1;
    if (b < 0) {
      out.resize(start);
      return false;
    }
    out += static_cast<char>(b);
    i += static_cast<size_t>(n);
  }
  return true;
}

std::string nfc(std::string_view s) {
  bool ascii = true;
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii || !is_valid_utf8(s)) return std::string(s);
  utf8proc_uint8_t* res = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                        &res, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(s);
  std::string out(reinterpret_cast<char*>(res), static_cast<size_t>(n));
  std::free(res);
  return out;
}

bool is_unicode_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t skip_spaces(std::string_view s, size_t from, size_t to) {
  size_t len = 0;
  while (from < to && is_unicode_space(utf8_code_point(s, from, len))) from += len;
  return from;
}

size_t trim_spaces_end(std::string_view s, size_t from, size_t to) {
  size_t end = from, len = 0;  // just past the last char that is not whitespace
  for (size_t i = from; i < to; i += len)
    if (!is_unicode_space(utf8_code_point(s, i, len))) end = i + len;
  return std::min(end, to);
}

}  // namespace pocketllm::tok
