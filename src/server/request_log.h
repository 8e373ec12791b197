// The server's request log: one line per request, "METHOD PATH STATUS tokens=N ms=X".
// Every field from the client is escaped, so a request cannot forge or split lines.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pocketllm::server {

// Bytes outside printable ASCII, spaces and backslashes become \xHH; fields longer
// than 256 bytes are cut with a "...[+N bytes]" mark.
std::string escape_log_field(std::string_view s);

// The whole line, with its newline.
std::string request_log_line(std::string_view method, std::string_view path, int status, int64_t tokens, double ms);

}  // namespace pocketllm::server
