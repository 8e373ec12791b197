#include "raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <functional>

namespace servertest {

using Clock = std::chrono::steady_clock;

RawConnection::RawConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::send(std::string_view bytes) {
  while (fd_ >= 0 && !bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

void RawConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool RawConnection::readable(std::chrono::milliseconds wait) {
  pollfd p{fd_, POLLIN, 0};
  return fd_ >= 0 && poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

std::string RawConnection::read_all(std::chrono::milliseconds timeout) {
  std::string out;
  read_until(out, timeout, [](const std::string&) { return false; });
  return out;
}

RawResponse RawConnection::read_response(std::chrono::milliseconds timeout) {
  std::string out;
  read_until(out, timeout, [](const std::string& s) { return parse_response(s).complete; });
  return parse_response(out);
}

void RawConnection::read_until(std::string& out, std::chrono::milliseconds timeout,
                               const std::function<bool(const std::string&)>& done) {
  const auto end = Clock::now() + timeout;
  char buf[16384];
  while (fd_ >= 0 && !done(out)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0 || !readable(left)) break;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
}

namespace {

// One response head at `pos`: status and headers; pos moves past its blank line.
bool read_head(const std::string& s, size_t& pos, int& status, std::map<std::string, std::string>& headers) {
  const size_t end = s.find("\r\n\r\n", pos);
  if (end == std::string::npos || s.compare(pos, 9, "HTTP/1.1 ") != 0) return false;
  status = std::atoi(s.c_str() + pos + 9);
  headers.clear();
  for (size_t line = s.find("\r\n", pos) + 2; line < end + 2;) {
    const size_t eol = s.find("\r\n", line);
    const size_t colon = s.find(':', line);
    if (colon != std::string::npos && colon < eol) {
      std::string name = s.substr(line, colon - line);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = colon + 1;
      while (v < eol && s[v] == ' ') ++v;
      headers[name] = s.substr(v, eol - v);
    }
    line = eol + 2;
  }
  pos = end + 4;
  return true;
}

}  // namespace

RawResponse parse_response(const std::string& bytes) {
  RawResponse r;
  size_t pos = 0;
  int status = 0;
  while (read_head(bytes, pos, status, r.headers)) {
    if (status >= 100 && status < 200) {
      ++r.interim;
      continue;
    }
    r.status = status;
    if (r.headers.count("content-length")) {
      const size_t n = std::stoul(r.headers["content-length"]);
      r.body = bytes.substr(pos, n);
      r.complete = r.body.size() == n;
    } else if (r.headers["transfer-encoding"] == "chunked") {
      for (;;) {
        const size_t eol = bytes.find("\r\n", pos);
        if (eol == std::string::npos) break;
        const size_t n = std::stoul(bytes.substr(pos, eol - pos), nullptr, 16);
        if (n == 0) {
          r.complete = bytes.find("\r\n", eol + 2) != std::string::npos;
          break;
        }
        if (bytes.size() < eol + 2 + n + 2) break;
        r.body += bytes.substr(eol + 2, n);
        pos = eol + 2 + n + 2;
      }
    } else {
      r.body = bytes.substr(pos);  // until the connection closes
    }
    break;
  }
  return r;
}

RawResponse raw_request(int port, const std::string& request, std::chrono::milliseconds timeout) {
  RawConnection c(port);
  if (!c.send(request)) return {};
  return c.read_response(timeout);
}

}  // namespace servertest
