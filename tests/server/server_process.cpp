#include "server_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "support/test_support.h"

namespace servertest {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
// stories260K with its tokenizer and a file chat template written into `dir`.
std::vector<std::string> stories_args(const fs::path& dir) {
  const fs::path models = testsupport::shared_data() / "models" / "stories260K";
  const fs::path tmpl = dir / "template.jinja";
  testsupport::write_file(tmpl, "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
  return {"-m", (models / "stories260K.bin").string(), "--tokenizer", (models / "tok512.bin").string(),
          "--chat-template-file", tmpl.string()};
}
}  // namespace

ServerProcess::ServerProcess(const std::vector<std::string>& extra)
    : ServerProcess(stories_args(testsupport::temp_dir("server-model")), extra) {}

ServerProcess::ServerProcess(const std::vector<std::string>& model_args, const std::vector<std::string>& extra) {
  dir_ = testsupport::temp_dir("server");
  std::vector<std::string> args = {testsupport::pocketllm_binary(), "serve"};
  args.insert(args.end(), model_args.begin(), model_args.end());
  for (const char* a : {"--port", "0", "-t", "1"}) args.push_back(a);
  args.insert(args.end(), extra.begin(), extra.end());
  const fs::path err = dir_ / "stderr.txt";
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const std::string mark = "listening on http://127.0.0.1:";
  for (int i = 0; i < 300 && port_ == 0; ++i) {
    const std::string text = log();
    auto pos = text.find(mark);
    if (pos != std::string::npos && text.find('\n', pos) != std::string::npos)
      port_ = std::stoi(text.substr(pos + mark.size()));
    else
      std::this_thread::sleep_for(100ms);
    if (!alive()) break;
  }
  for (int i = 0; i < 600 && port_ != 0; ++i) {
    if (http_get(port_, "/health").status == 200) return;
    if (!alive()) break;
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "the server did not come up; its stderr:\n" << log();
  port_ = 0;
}

ServerProcess::~ServerProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(50ms);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

std::string ServerProcess::log() const {
  std::error_code ec;
  if (!fs::exists(dir_ / "stderr.txt", ec)) return "";
  return testsupport::read_file(dir_ / "stderr.txt");
}

bool ServerProcess::alive() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

static httplib::Headers to_headers(const std::vector<std::pair<std::string, std::string>>& h) {
  httplib::Headers out;
  for (auto& [k, v] : h) out.emplace(k, v);
  return out;
}

HttpResult http_get(int port, const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  auto res = cli.Get(path, to_headers(headers));
  if (!res) return {0, "no response: " + httplib::to_string(res.error())};
  return {res->status, res->body};
}

HttpResult http_post(int port, const std::string& path, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  auto res = cli.Post(path, to_headers(headers), body, "application/json");
  if (!res) return {0, "no response: " + httplib::to_string(res.error())};
  return {res->status, res->body};
}

StreamResult http_stream(int port, const std::string& path, const std::string& body, int abort_after_events) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  StreamResult out;
  std::string buf;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buf.append(data, n);
    for (size_t pos; (pos = buf.find("\n\n")) != std::string::npos;) {
      std::string ev = buf.substr(0, pos);
      buf.erase(0, pos + 2);
      if (ev.rfind("data: ", 0) == 0) out.events.push_back(ev.substr(6));
      else out.events.push_back("?" + ev);  // malformed: the test will see it
    }
    if (abort_after_events > 0 && static_cast<int>(out.events.size()) >= abort_after_events) {
      out.aborted = true;
      return false;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err;
  cli.send(req, res, err);
  out.status = res.status > 0 ? res.status : 0;
  if (!buf.empty()) out.events.push_back("?" + buf);
  return out;
}

std::string stream_text(const StreamResult& r, nlohmann::json* last) {
  std::string text;
  for (auto& e : r.events) {
    if (e == "[DONE]") continue;
    auto j = nlohmann::json::parse(e, nullptr, false);
    if (!j.is_object() || !j.contains("choices") || j["choices"].empty()) continue;
    auto& c = j["choices"][0];
    if (c.contains("delta") && c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
    if (c.contains("text")) text += c["text"].get<std::string>();
    if (last) *last = j;
  }
  return text;
}

bool wait_all_idle(int port, int n_slots) {
  for (int i = 0; i < 100; ++i) {
    auto h = http_get(port, "/health").json();
    if (h.is_object() && h.value("slots_idle", -1) == n_slots && h.value("queued", -1) == 0) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace servertest
