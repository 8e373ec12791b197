#include "server/http/exchange.h"

#include <fmt/format.h>
#include <poll.h>

#include "server/http/socket_io.h"

namespace pocketllm::server::http {

bool Exchange::put(std::string_view data) {
  if (ok_ && !send_all(fd_, data, write_timeout_)) ok_ = false;
  return ok_;
}

bool Exchange::head(int status, std::string_view content_type, const std::vector<Header>& extra,
                    std::string_view length_or_te, std::string_view body) {
  status_ = status;
  keep_alive_ = keep_alive_ && req_.keep_alive;
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  if (!content_type.empty()) out += fmt::format("Content-Type: {}\r\n", content_type);
  out += length_or_te;
  for (const Header& h : extra) out += fmt::format("{}: {}\r\n", h.name, h.value);
  if (!keep_alive_) out += "Connection: close\r\n";
  else if (req_.minor_version == 0) out += "Connection: keep-alive\r\n";
  out += "\r\n";
  if (req_.method != "HEAD") out += body;
  return put(out);
}

bool Exchange::send(const Response& r) {
  if (responded()) return false;
  return head(r.status, r.content_type, r.headers, fmt::format("Content-Length: {}\r\n", r.body.size()), r.body);
}

bool Exchange::begin_stream(int status, std::string_view content_type, const std::vector<Header>& extra,
                            std::string probe) {
  if (responded()) return false;
  streaming_ = true;
  probe_ = std::move(probe);
  chunked_ = req_.minor_version == 1;
  if (!chunked_) keep_alive_ = false;  // an HTTP/1.0 stream ends when the connection closes
  return head(status, content_type, extra, chunked_ ? "Transfer-Encoding: chunked\r\n" : "", "");
}

bool Exchange::write(std::string_view data) {
  if (!streaming_ || data.empty() || req_.method == "HEAD") return ok_;
  if (!chunked_) return put(data);
  std::string chunk = fmt::format("{:x}\r\n", data.size());
  chunk.append(data);
  chunk += "\r\n";
  return put(chunk);
}

bool Exchange::end_stream() {
  if (!streaming_) return false;
  const bool sent = !chunked_ || req_.method == "HEAD" || put("0\r\n\r\n");
  streaming_ = false;
  return sent;
}

bool Exchange::client_gone() {
  if (!ok_) return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
    ok_ = false;
    return true;
  }
  if (p.revents & POLLRDHUP) peer_eof_ = true;  // bytes pipelined behind the request alone do not count
  if (peer_eof_ && !probed_) {
    probed_ = true;
    if (!responded() && req_.minor_version == 1) put("HTTP/1.1 100 Continue\r\n\r\n");  // RFC 9110 15.2
    else if (streaming_ && !probe_.empty()) write(probe_);
    else ok_ = false;  // nothing can be sent to tell: take the FIN as a hang-up
  }
  return !ok_;
}

void Exchange::abandon(int status) {
  if (!responded()) status_ = status;
  ok_ = false;
}

}  // namespace pocketllm::server::http
