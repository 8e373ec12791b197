// The OpenAI-compatible HTTP front end on the server's own HTTP/1.1 layer
// (server/http/): routes, API key check, errors, SSE streaming and one log line
// per request. The model is attached after the socket is bound, so /health
// answers 503 while it loads.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "runtime/chat_format.h"
#include "sampling/sampler.h"
#include "server/http/router.h"
#include "server/http/server.h"
#include "server/scheduler.h"

namespace pocketllm::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::string api_key;  // empty: no authentication
  std::string model_id;  // name shown by /v1/models
  size_t max_body_bytes = 4u << 20;
  size_t max_header_bytes = 32u << 10;
  size_t max_connections = 256;
  int http_threads = 32;  // requests handled at once (worker threads, started on demand)
  double request_timeout_s = 10;  // to receive a whole request, from its first byte
  bool log_requests = true;
};

// Everything the API needs once the model is loaded.
struct Backend {
  const Model* model = nullptr;
  const ChatFormatter* fmt = nullptr;
  Scheduler* scheduler = nullptr;
  SamplingParams defaults;
};

class HttpApi {
 public:
  explicit HttpApi(ServerOptions o);
  ~HttpApi();
  // Binds the socket; returns the port (throws Error when binding fails).
  int bind();
  // Serves until stop() (blocks).
  void listen();
  // Async-signal-safe; may come before listen().
  void stop();
  bool running() const;
  // Makes the API ready (before it, everything but /health answers 503).
  void attach(Backend b);

 private:
  void install_routes();
  void handle(http::Exchange& ex);
  void generate(http::Exchange& ex, bool chat);
  ServerOptions opt_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  Backend backend_;
  std::atomic<bool> ready_{false};
};

}  // namespace pocketllm::server
