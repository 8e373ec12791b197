// Connections at the socket level: a non-streamed request whose client hangs
// up gives its slot back at once, and a second server cannot take a port that
// is already in use.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "server_process.h"
#include "support/test_support.h"

using nlohmann::json;
using namespace servertest;
using namespace std::chrono_literals;

namespace {

// Sends one HTTP POST on a raw socket and closes it without reading the answer.
bool post_and_hang_up(int port, const std::string& path, const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  const std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t sent = 0; ok && sent < req.size();) {
    const ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    ok = n > 0;
    sent += ok ? static_cast<size_t>(n) : 0;
  }
  close(fd);
  return ok;
}

// The server's log line for a request: "POST /v1/completions 499 tokens=N ms=...".
std::smatch wait_log_line(const ServerProcess& s, const std::regex& re, std::string& text) {
  std::smatch m;
  for (int i = 0; i < 600; ++i) {
    text = s.log();
    if (std::regex_search(text, m, re)) return m;
    std::this_thread::sleep_for(100ms);
  }
  return m;
}

TEST(Disconnect, NonStreamedClientThatHangsUpFreesItsSlot) {
  ServerProcess server({"-np", "1", "-c", "4096"});
  ASSERT_NE(server.port(), 0);
  // A long prompt makes every decode step attend over a thousand positions, so
  // the 2,000 tokens asked for take far longer than noticing the hang-up (at the
  // handler's first look, as this client hangs up at once) does.
  std::string prompt;
  for (int i = 0; i < 100; ++i) prompt += "Once upon a time there was a little girl. ";
  const int max_tokens = 2000;
  const json req = {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
  ASSERT_TRUE(post_and_hang_up(server.port(), "/v1/completions", req.dump()));
  std::string log;
  const std::regex line(R"(POST /v1/completions (\d+) tokens=(\d+))");
  const std::smatch m = wait_log_line(server, line, log);
  ASSERT_FALSE(m.empty()) << "no log line for the request; log:\n" << log;
  EXPECT_EQ(m[1].str(), "499") << "the server did not notice the hang-up; log:\n" << log;
  EXPECT_LT(std::stoi(m[2].str()), max_tokens) << log;
  EXPECT_TRUE(wait_all_idle(server.port(), 1));
  // The slot serves the next client.
  const auto again = http_post(server.port(), "/v1/completions", json({{"prompt", "Tim"}, {"max_tokens", 4}}).dump());
  EXPECT_EQ(again.status, 200) << again.body;
}

// httplib's default socket options set SO_REUSEPORT, with which a second server
// binds a busy port and silently shares its connections: it must fail instead.
TEST(Disconnect, SecondServerOnABusyPortFails) {
  ServerProcess first({});
  ASSERT_NE(first.port(), 0);
  const auto dir = testsupport::temp_dir("busy-port");
  const auto models = testsupport::shared_data() / "models" / "stories260K";
  std::vector<std::string> args = {testsupport::pocketllm_binary(), "serve", "-m", (models / "stories260K.bin").string(),
                                   "--tokenizer", (models / "tok512.bin").string(), "--port",
                                   std::to_string(first.port()), "-t", "1"};
  const auto err = dir / "stderr.txt";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 600 && !exited; ++i) {
    exited = waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) std::this_thread::sleep_for(100ms);
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  const std::string text = testsupport::read_file(err);
  ASSERT_TRUE(exited) << "the second server kept running on a busy port; its stderr:\n" << text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << text;
  EXPECT_NE(text.find("cannot bind"), std::string::npos) << text;
  EXPECT_EQ(http_get(first.port(), "/health").status, 200);
}

}  // namespace
