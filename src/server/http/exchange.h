// One request and its answer, handed to a route handler on a worker thread:
// a whole response, or a stream (chunked, e.g. server-sent events), plus a way
// to notice, without blocking, that the client has gone.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/message.h"

namespace pocketllm::server::http {

class Exchange {
 public:
  // `peer_eof`: the client already shut down its sending side (seen while reading the request).
  Exchange(int fd, Request req, bool peer_eof, std::chrono::milliseconds write_timeout)
      : fd_(fd), req_(std::move(req)), peer_eof_(peer_eof), write_timeout_(write_timeout) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const Request& request() const { return req_; }

  // Sends a whole response (for HEAD without its body). False when the client is gone.
  bool send(const Response& r);
  // Starts a streamed response: chunked for HTTP/1.1, until the connection closes for 1.0.
  // `probe`, written as stream data, must be something the client ignores (an SSE comment):
  // it tells a client that only half-closed from one that is gone (see client_gone()).
  bool begin_stream(int status, std::string_view content_type, const std::vector<Header>& extra,
                    std::string probe = "");
  bool write(std::string_view data);
  bool end_stream();

  // Never blocks; true once the client is gone. A reset connection is gone. A FIN alone
  // may be a client that half-closed and still reads, so the first FIN is answered with
  // a probe the client must accept (before the response head, an interim
  // "100 Continue", which HTTP/1.1 clients skip; in a stream, `probe`): a client that
  // closed for good answers it with a reset, seen by a later call.
  bool client_gone();
  // The client is gone: nothing more is sent and the connection closes; `status`
  // is what the log shows (499).
  void abandon(int status);

  // Completion tokens for the log line.
  void set_log_tokens(int64_t n) { tokens_ = n; }

  // For the server after the handler returns.
  bool responded() const { return status_ != 0; }
  int status() const { return status_; }
  int64_t log_tokens() const { return tokens_; }
  bool peer_eof() const { return peer_eof_; }
  // The connection can serve another request.
  bool reusable() const { return ok_ && keep_alive_ && !streaming_; }

 private:
  bool head(int status, std::string_view content_type, const std::vector<Header>& extra, std::string_view length_or_te,
            std::string_view body);
  bool put(std::string_view data);

  int fd_;
  Request req_;
  bool peer_eof_;
  std::chrono::milliseconds write_timeout_;
  int status_ = 0;
  int64_t tokens_ = 0;
  bool ok_ = true;          // no write failed
  bool keep_alive_ = true;  // after this response
  bool streaming_ = false, chunked_ = false;
  bool probed_ = false, gone_ = false;
  std::string probe_;
};

}  // namespace pocketllm::server::http
