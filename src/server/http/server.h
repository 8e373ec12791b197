// The HTTP/1.1 server: one event-loop thread accepts connections and reads
// requests from all of them without blocking (so slow or idle clients cost no
// thread), enforcing the parser's limits, a deadline per request and a cap on
// open connections; complete requests go to worker threads, which run the
// handler and write the answer with a send timeout, then give keep-alive
// connections back to the loop.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/http/exchange.h"
#include "server/http/request_parser.h"

namespace pocketllm::server::http {

struct ServerLimits {
  ParserLimits parser;
  std::chrono::milliseconds request_timeout{10000};  // first byte of a request -> its last (else 408)
  std::chrono::milliseconds idle_timeout{5000};      // an open connection with no request under way
  std::chrono::milliseconds write_timeout{10000};    // a client that reads nothing for this long is dropped
  std::chrono::milliseconds linger{1000};            // reading what a refused client still sends before closing
  size_t max_connections = 256;                      // beyond: 503 and close
  size_t max_workers = 64;                           // requests handled at once
  std::chrono::milliseconds stop_grace{2000};        // on stop(), time for requests under way to finish
};

struct LogEntry {
  std::string_view method, path;  // "-" when the request line was never read
  int status = 0;
  int64_t tokens = 0;
  double ms = 0;
};

struct ServerHooks {
  std::function<void(Exchange&)> handle;                         // runs on a worker
  std::function<Response(int status, const std::string& message)> error;  // errors the layer answers itself
  std::function<void(const LogEntry&)> log;                      // one call per request answered
};

class Server {
 public:
  Server(ServerLimits limits, ServerHooks hooks);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (0: any free port); returns the port. Throws Error.
  int bind(const std::string& host, int port);
  // Serves until stop(); then lets requests under way finish (up to stop_grace).
  void run();
  // Async-signal-safe: may be called from a signal handler, before or during run().
  void stop();
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pocketllm::server::http
