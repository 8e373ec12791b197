#include "hub/hub_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>

namespace hubtest {

FakeHub::FakeHub(const nlohmann::json& config, const std::vector<std::string>& flags) {
  const fs::path dir = testsupport::temp_dir("fakehub");
  testsupport::write_file(dir / "config.json", config.dump());
  if (std::find(flags.begin(), flags.end(), "--tls") != flags.end()) scheme_ = "https";
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return;
  std::vector<std::string> argv{"/usr/bin/python3", (fs::path(POCKETLLM_SOURCE_DIR) / "tests/hub/fake_hub.py").string(),
                                (dir / "config.json").string()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  pid_ = testsupport::spawn_command(argv, {}, -1, out[1]);
  close(out[1]);
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[256];
    const ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) {
    ADD_FAILURE() << "the fake hub did not start: '" << line << "'";
    return;
  }
  hub_port_ = j["hub"];
  cdn_port_ = j["cdn"];
  proxy_port_ = j["proxy"];
}

FakeHub::~FakeHub() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::string FakeHub::control(const std::string& method, const std::string& path, const std::string& body) const {
  httplib::Client cli(endpoint());
  cli.enable_server_certificate_verification(false);  // the control channel of our own test server
  cli.set_read_timeout(10);
  auto r = method == "GET" ? cli.Get(path) : cli.Post(path, body, "application/json");
  EXPECT_TRUE(r && r->status == 200) << method << " " << path;
  return r ? r->body : "";
}

nlohmann::json FakeHub::log() const { return nlohmann::json::parse(control("GET", "/_log", "")); }
void FakeHub::clear_log() const { control("POST", "/_log/clear", ""); }
void FakeHub::set_faults(const nlohmann::json& faults) const { control("POST", "/_faults", faults.dump()); }

std::vector<nlohmann::json> FakeHub::requests(const std::string& part, const std::string& method) const {
  std::vector<nlohmann::json> out;
  for (auto& r : log())
    if (r["path"].get<std::string>().find(part) != std::string::npos && (method.empty() || r["method"] == method))
      out.push_back(r);
  return out;
}

nlohmann::json file_from(const fs::path& src, bool lfs) { return {{"src", src.string()}, {"lfs", lfs}}; }
nlohmann::json file_text(const std::string& text) { return {{"text", text}, {"lfs", false}}; }
std::string fake_sha(char c) { return std::string(40, c); }

std::vector<std::string> hub_env(const std::string& endpoint, const fs::path& cache, const std::vector<std::string>& extra) {
  std::vector<std::string> env{"HF_ENDPOINT=" + endpoint,
                               "HF_HUB_CACHE=" + cache.string(),
                               "HF_HOME=" + (cache.parent_path() / "hf_home").string(),
                               "HF_HUB_DOWNLOAD_TIMEOUT=5",
                               "HF_TOKEN",
                               "HUGGING_FACE_HUB_TOKEN",
                               "HF_TOKEN_PATH",
                               "HF_HUB_OFFLINE",
                               "TRANSFORMERS_OFFLINE",
                               "HUGGINGFACE_HUB_CACHE",
                               "HTTPS_PROXY",
                               "https_proxy",
                               "HTTP_PROXY",
                               "http_proxy",
                               "NO_PROXY",
                               "no_proxy",
                               "POCKETLLM_MODEL"};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

testsupport::CmdResult run_pocketllm(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<std::string> argv{POCKETLLM_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return testsupport::run_command(argv, "", env);
}

fs::path family_gguf(const std::string& name) { return testsupport::shared_data() / "families" / (name + ".gguf"); }
fs::path stories_dir() { return testsupport::shared_data() / "models/stories260K"; }

std::string sha256_of(const fs::path& p) {
  auto r = testsupport::run_command({"sha256sum", p.string()});
  return r.out.substr(0, 64);
}

}  // namespace hubtest
