#include "server/http/request_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace pocketllm::server::http {
namespace {

// RFC 9110 token characters (methods, field names).
bool is_tchar(unsigned char c) {
  return std::isalnum(c) || (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences decoded; malformed ones kept as they are.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Comma-separated list elements, trimmed and lower-cased, empty ones dropped.
template <class F>
void for_each_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view e = trim_ows(list.substr(0, comma));
    if (!e.empty()) f(to_lower(e));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

RequestParser::State RequestParser::feed(std::string_view bytes) {
  if (state_ != State::Incomplete) return state_;
  buf_.append(bytes);
  return parse();
}

bool RequestParser::take_continue_request() {
  const bool c = continue_pending_;
  continue_pending_ = false;
  return c;
}

Request RequestParser::take() {
  Request r = std::move(req_);
  req_ = Request{};
  phase_ = Phase::Head;
  state_ = State::Incomplete;
  started_ = have_request_line_ = continue_pending_ = false;
  head_bytes_ = trailer_bytes_ = 0;
  remaining_ = 0;
  return r;
}

RequestParser::State RequestParser::fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  state_ = State::Failed;
  return state_;
}

// The next line (without its CRLF or bare LF) when complete. Counts its bytes
// into `counter` and fails with `status` and `message` once that passes max_len,
// also while the line is still incomplete.
bool RequestParser::next_line(std::string_view& line, size_t max_len, size_t& counter, int status,
                              const std::string& message) {
  const size_t nl = buf_.find('\n', pos_);
  const size_t len = (nl == std::string::npos ? buf_.size() : nl + 1) - pos_;
  if (counter + len > max_len) {
    fail(status, message);
    return false;
  }
  if (nl == std::string::npos) return false;
  line = std::string_view(buf_).substr(pos_, nl - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  counter += len;
  pos_ = nl + 1;
  return true;
}

RequestParser::State RequestParser::parse() {
  while (state_ == State::Incomplete) {
    std::string_view line;
    switch (phase_) {
      case Phase::Head: {
        if (!have_request_line_) {
          // RFC 9112 2.2: blank lines before the request line are ignored.
          while (pos_ < buf_.size() && (buf_[pos_] == '\r' || buf_[pos_] == '\n')) ++pos_;
          if (pos_ < buf_.size()) started_ = true;
        }
        if (!next_line(line, limits_.max_header_bytes, head_bytes_, 431,
                       fmt::format("the request headers are larger than {} bytes", limits_.max_header_bytes)))
          goto out;
        if (line.find('\r') != std::string_view::npos) return fail(400, "malformed HTTP request: a bare CR in the headers");
        if (!have_request_line_) {
          if (!parse_request_line(line)) return state_;
        } else if (line.empty()) {
          if (!finish_head()) return state_;
        } else if (!parse_field(line)) {
          return state_;
        }
        break;
      }
      case Phase::Body:
      case Phase::ChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size() - pos_));
        if (n == 0) goto out;
        req_.body.append(buf_, pos_, n);
        pos_ += n;
        remaining_ -= n;
        if (remaining_ == 0) phase_ = phase_ == Phase::Body ? Phase::Done : Phase::ChunkDataEnd;
        break;
      }
      case Phase::ChunkSize: {
        size_t counter = 0;  // a chunk-size line (with its extensions) of at most 1 KiB
        if (!next_line(line, 1024, counter, 400, "malformed HTTP request: a chunk size line longer than 1024 bytes"))
          goto out;
        if (!parse_chunk_size(line)) return state_;
        break;
      }
      case Phase::ChunkDataEnd: {
        size_t counter = 0;
        const std::string bad = "malformed HTTP request: chunk data longer than its size";
        if (!next_line(line, 2, counter, 400, bad)) goto out;
        if (!line.empty()) return fail(400, bad);
        phase_ = Phase::ChunkSize;
        break;
      }
      case Phase::Trailers:
        if (!next_line(line, limits_.max_header_bytes, trailer_bytes_, 431,
                       fmt::format("the chunked trailer fields are larger than {} bytes", limits_.max_header_bytes)))
          goto out;
        if (line.empty()) phase_ = Phase::Done;  // trailer fields are read and dropped
        break;
      case Phase::Done:
        state_ = State::Complete;
        break;
    }
  }
out:
  // Parsed bytes are dropped at once: the body lives in req_.body only.
  buf_.erase(0, pos_);
  pos_ = 0;
  return state_;
}

bool RequestParser::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "malformed HTTP request: the request line is not 'METHOD TARGET HTTP/1.1'");
    return false;
  }
  const std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                         version = line.substr(sp2 + 1);
  if (!is_token(method)) {
    fail(400, "malformed HTTP request: bad method");
    return false;
  }
  if (version == "HTTP/1.1" || version == "HTTP/1.0") {
    req_.minor_version = version.back() - '0';
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(static_cast<unsigned char>(version[5])) &&
             version[6] == '.' && std::isdigit(static_cast<unsigned char>(version[7]))) {
    fail(505, fmt::format("HTTP version {} is not supported (use HTTP/1.1)", version));
    return false;
  } else {
    fail(400, "malformed HTTP request: bad HTTP version");
    return false;
  }
  if (target.empty() || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x21 || c == 0x7f;
      })) {
    fail(400, "malformed HTTP request: bad request target");
    return false;
  }
  // origin-form "/path?query"; absolute-form "http://host/path?query" (RFC 9112 3.2.2); "*".
  std::string_view rest = target;
  const size_t scheme = rest.find("://");
  if (rest.front() != '/' && rest != "*") {
    if (scheme == std::string_view::npos || !is_token(rest.substr(0, scheme))) {
      fail(400, "malformed HTTP request: bad request target");
      return false;
    }
    rest.remove_prefix(scheme + 3);
    const size_t slash = rest.find_first_of("/?");
    rest = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
  }
  const size_t q = rest.find('?');
  req_.method = method;
  req_.target = target;
  req_.path = percent_decode(rest.substr(0, q));
  if (req_.path.empty()) req_.path.push_back('/');  // "http://host?q"
  if (q != std::string_view::npos) req_.query = rest.substr(q + 1);
  have_request_line_ = true;
  return true;
}

bool RequestParser::parse_field(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    fail(400, "malformed HTTP request: folded header lines are not allowed");
    return false;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    fail(400, "malformed HTTP request: bad header field");
    return false;
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (std::any_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
      })) {
    fail(400, "malformed HTTP request: a control character in a header value");
    return false;
  }
  if (req_.headers.size() >= limits_.max_header_fields) {
    fail(431, fmt::format("the request has more than {} header fields", limits_.max_header_fields));
    return false;
  }
  req_.headers.push_back({to_lower(line.substr(0, colon)), std::string(value)});
  return true;
}

// Framing (RFC 9112 6): chunked, or Content-Length, or no body; keep-alive; Expect.
bool RequestParser::finish_head() {
  bool chunked = false, has_length = false, close = false, keep_alive = false;
  uint64_t length = 0;
  for (const Header& h : req_.headers) {
    if (h.name == "transfer-encoding") {
      bool ok = true;
      for_each_element(h.value, [&](const std::string& coding) {
        ok = ok && coding == "chunked" && !chunked;
        chunked = true;
      });
      if (!ok) {
        fail(501, fmt::format("transfer coding '{}' is not supported (only chunked)", h.value));
        return false;
      }
    } else if (h.name == "content-length") {
      bool ok = !h.value.empty();
      for_each_element(h.value, [&](const std::string& v) {
        uint64_t n = 0;
        for (char c : v) {
          // 20 digits would overflow; anything past the body limit is answered 413 below.
          ok = ok && std::isdigit(static_cast<unsigned char>(c)) && n < (uint64_t{1} << 60);
          n = n * 10 + static_cast<uint64_t>(c - '0');
        }
        ok = ok && (!has_length || n == length);  // repeated values must agree (RFC 9110 8.6)
        has_length = true;
        length = n;
      });
      if (!ok) {
        fail(400, "malformed HTTP request: invalid or conflicting Content-Length headers");
        return false;
      }
    } else if (h.name == "connection") {
      for_each_element(h.value, [&](const std::string& t) {
        close = close || t == "close";
        keep_alive = keep_alive || t == "keep-alive";
      });
    } else if (h.name == "expect" && req_.minor_version == 1) {
      if (to_lower(h.value) != "100-continue") {
        fail(417, fmt::format("unsupported Expect: {}", h.value));
        return false;
      }
      continue_pending_ = true;
    }
  }
  req_.keep_alive = !close && (req_.minor_version == 1 || keep_alive);
  if (chunked && (has_length || req_.minor_version == 0)) {
    // Both framings at once is how requests get smuggled past proxies (RFC 9112 6.1).
    fail(400, "malformed HTTP request: Transfer-Encoding with Content-Length or in HTTP/1.0");
    return false;
  }
  if (has_length && length > limits_.max_body_bytes) {
    fail(413, fmt::format("the request body is larger than {} bytes", limits_.max_body_bytes));
    return false;
  }
  if (chunked) {
    phase_ = Phase::ChunkSize;
  } else if (length > 0) {
    phase_ = Phase::Body;
    remaining_ = length;
    req_.body.reserve(static_cast<size_t>(std::min<uint64_t>(length, 64u << 10)));  // grows as bytes arrive
  } else {
    phase_ = Phase::Done;
  }
  if (phase_ == Phase::Done) continue_pending_ = false;
  return true;
}

bool RequestParser::parse_chunk_size(std::string_view line) {
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
    if (i == 15) {
      fail(400, "malformed HTTP request: chunk size too long");
      return false;
    }
    size = size * 16 + static_cast<uint64_t>(hex_value(line[i]));
  }
  // chunk-ext after BWS ";" is allowed and ignored.
  const std::string_view ext = trim_ows(line.substr(i));
  if (i == 0 || (!ext.empty() && ext.front() != ';')) {
    fail(400, "malformed HTTP request: bad chunk size");
    return false;
  }
  if (size > limits_.max_body_bytes - req_.body.size()) {
    fail(413, fmt::format("the request body is larger than {} bytes", limits_.max_body_bytes));
    return false;
  }
  remaining_ = size;
  phase_ = size == 0 ? Phase::Trailers : Phase::ChunkData;
  return true;
}

}  // namespace pocketllm::server::http
