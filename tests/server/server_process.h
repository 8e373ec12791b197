// Runs the real `pocketllm serve` binary on a free loopback port (--port 0,
// port read from its "listening on" line) and talks to it over HTTP.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace servertest {

class ServerProcess {
 public:
  // Starts `pocketllm serve` on stories260K with a file chat template plus `extra`
  // flags, and waits until /health answers 200. Fails the test (ADD_FAILURE) and
  // leaves port() == 0 when it does not come up.
  explicit ServerProcess(const std::vector<std::string>& extra);
  // Starts `pocketllm serve` on the model that `model_args` name (e.g. {"-m", FILE},
  // plus its chat template flags), then the same.
  ServerProcess(const std::vector<std::string>& model_args, const std::vector<std::string>& extra);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const;  // the server's stderr so far
  bool alive();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::filesystem::path dir_;
};

// A fixture whose tests share one server, started with Suite::flags() before the
// suite's first test; its tests skip when it did not come up.
template <class Suite>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(Suite::flags()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_->port() == 0) GTEST_SKIP() << "server did not start";
  }
  int port() const { return server_->port(); }
  static inline ServerProcess* server_ = nullptr;
};

struct HttpResult {
  int status = 0;  // 0: no response (connection failed)
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

HttpResult http_get(int port, const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers = {});
HttpResult http_post(int port, const std::string& path, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

// A streamed response, split into SSE events (the payloads after "data: ").
struct StreamResult {
  int status = 0;
  std::vector<std::string> events;
  bool aborted = false;  // the client hung up on purpose
};
// Posts with stream: true; when abort_after_events > 0 the client hangs up after that many events.
StreamResult http_stream(int port, const std::string& path, const std::string& body, int abort_after_events = 0);

// Concatenated delta contents (chat) or texts (completions) of a stream; the
// last JSON chunk goes to *last.
std::string stream_text(const StreamResult& r, nlohmann::json* last = nullptr);

// Waits (up to ~10 s) until the server reports every slot idle and nothing queued.
bool wait_all_idle(int port, int n_slots);

}  // namespace servertest
