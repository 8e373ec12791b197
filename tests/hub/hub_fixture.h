// The fake Hub (tests/hub/fake_hub.py) as a test fixture, and `pocketllm` runs
// pointed at it with a private cache and a clean environment.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace hubtest {

namespace fs = std::filesystem;

// Starts fake_hub.py with `config` (see its docstring) and the extra flags
// (--tls CERT KEY, --cdn other, --proxy); stops it on destruction.
class FakeHub {
 public:
  FakeHub(const nlohmann::json& config, const std::vector<std::string>& flags = {});
  ~FakeHub();
  FakeHub(const FakeHub&) = delete;
  FakeHub& operator=(const FakeHub&) = delete;

  bool ok() const { return hub_port_ > 0; }
  std::string endpoint() const { return scheme_ + "://127.0.0.1:" + std::to_string(hub_port_); }
  int cdn_port() const { return cdn_port_; }
  int proxy_port() const { return proxy_port_; }

  nlohmann::json log() const;  // the requests served so far
  void clear_log() const;
  void set_faults(const nlohmann::json& faults) const;
  // The logged requests whose path contains `part` (and of `method` unless empty).
  std::vector<nlohmann::json> requests(const std::string& part, const std::string& method = "") const;

 private:
  std::string control(const std::string& method, const std::string& path, const std::string& body) const;
  pid_t pid_ = -1;
  int hub_port_ = 0, cdn_port_ = 0, proxy_port_ = 0;
  std::string scheme_ = "http";
};

// A repo file served by the fake hub.
nlohmann::json file_from(const fs::path& src, bool lfs);
nlohmann::json file_text(const std::string& text);
std::string fake_sha(char c);  // a 40-hex commit id

// The environment of a pocketllm run against `endpoint` with `cache` as HF_HUB_CACHE:
// no token, no proxy, not offline, no token file from the real home; then `extra`.
std::vector<std::string> hub_env(const std::string& endpoint, const fs::path& cache,
                                 const std::vector<std::string>& extra = {});
testsupport::CmdResult run_pocketllm(const std::vector<std::string>& args, const std::vector<std::string>& env);

// The shared test models.
fs::path family_gguf(const std::string& name);  // ../shared/data/families/<name>.gguf
fs::path stories_dir();                         // ../shared/data/models/stories260K

std::string sha256_of(const fs::path& p);  // by `sha256sum`, not pocketllm's code

}  // namespace hubtest
