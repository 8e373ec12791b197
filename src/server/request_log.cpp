#include "server/request_log.h"

#include <fmt/format.h>

namespace pocketllm::server {

std::string escape_log_field(std::string_view s) {
  constexpr size_t kMaxLogged = 256;
  const std::string_view shown = s.substr(0, kMaxLogged);
  std::string out;
  out.reserve(shown.size());
  for (char ch : shown) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f && c != '\\') out += ch;
    else out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > shown.size()) out += fmt::format("...[+{} bytes]", s.size() - shown.size());
  return out;
}

std::string request_log_line(std::string_view method, std::string_view path, int status, int64_t tokens, double ms) {
  return fmt::format("{} {} {} tokens={} ms={:.1f}\n", escape_log_field(method), escape_log_field(path), status, tokens,
                     ms);
}

}  // namespace pocketllm::server
