// The OpenAI-compatible HTTP front end (cpp-httplib): routes, API key check,
// errors, SSE streaming and one log line per request. The model is attached
// after the socket is bound, so /health answers 503 while it loads.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "runtime/chat_format.h"
#include "sampling/sampler.h"
#include "server/scheduler.h"

namespace httplib {
class Server;
}

namespace pocketllm::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  std::string api_key;  // empty: no authentication
  std::string model_id;  // name shown by /v1/models
  size_t max_body_bytes = 4u << 20;
  int http_threads = 32;  // concurrent connections served
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
  void stop();
  bool running() const;
  // Makes the API ready (before it, everything but /health answers 503).
  void attach(Backend b);

 private:
  void install_routes();
  ServerOptions opt_;
  std::unique_ptr<httplib::Server> svr_;
  Backend backend_;
  std::atomic<bool> ready_{false};
  int listen_fd_ = -1;  // the listening socket (httplib owns it)
};

}  // namespace pocketllm::server
