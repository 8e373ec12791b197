// Watching the TCP connection a request arrived on, so a handler that runs for
// a long time (a non-streamed generation) notices when its client hangs up.
// cpp-httplib 0.11 does not hand the socket to handlers, so it is found by its
// address pair among this process's descriptors (the handler runs while
// httplib keeps that descriptor open, so it cannot be closed or reused).
#pragma once
#include <string>

namespace pocketllm::server {

class ClientConnection {
 public:
  // Finds the server-side socket of local_addr:local_port <- remote_addr:remote_port.
  ClientConnection(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);
  bool found() const { return fd_ >= 0; }
  // True once the peer has closed (or reset) the connection. A client that only
  // shut down its sending side counts as gone too: HTTP/1.1 clients do not do that.
  // Pipelined request bytes waiting to be read do not count. Never blocks.
  bool closed() const;

 private:
  int fd_ = -1;
};

}  // namespace pocketllm::server
