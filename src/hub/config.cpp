#include "hub/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace pocketllm::hub {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Expands a leading "~/" (huggingface_hub applies expanduser to these paths).
fs::path expand_home(const std::string& p) {
  if (p == "~" || p.starts_with("~/")) return fs::path(env("HOME")) / p.substr(std::min<size_t>(2, p.size()));
  return p;
}

std::string trim(std::string s) {
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), blank));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), blank).base(), s.end());
  return s;
}

std::string first_env(std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (auto v = env(n); !v.empty()) return v;
  return "";
}

}  // namespace

bool env_flag_true(const char* name) {
  std::string v = env(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

HubConfig HubConfig::from_env() {
  HubConfig c;
  if (auto e = trim(env("HF_ENDPOINT")); !e.empty()) c.endpoint = e;
  while (c.endpoint.ends_with('/')) c.endpoint.pop_back();

  const fs::path xdg = env("XDG_CACHE_HOME").empty() ? expand_home("~/.cache") : fs::path(env("XDG_CACHE_HOME"));
  const fs::path hf_home = env("HF_HOME").empty() ? xdg / "huggingface" : expand_home(env("HF_HOME"));
  const std::string cache = first_env({"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"});
  c.cache_dir = cache.empty() ? hf_home / "hub" : expand_home(cache);

  if (auto t = trim(env("HF_TOKEN")); !t.empty()) {
    c.token = t;
    c.token_source = "HF_TOKEN";
  } else if (auto t2 = trim(env("HUGGING_FACE_HUB_TOKEN")); !t2.empty()) {
    c.token = t2;
    c.token_source = "HUGGING_FACE_HUB_TOKEN";
  } else {
    const fs::path file = env("HF_TOKEN_PATH").empty() ? hf_home / "token" : expand_home(env("HF_TOKEN_PATH"));
    std::ifstream in(file);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      c.token = trim(ss.str());
      if (!c.token.empty()) c.token_source = file.string();
    }
  }

  c.offline = env_flag_true("HF_HUB_OFFLINE") || env_flag_true("TRANSFORMERS_OFFLINE");
  c.https_proxy = first_env({"HTTPS_PROXY", "https_proxy"});
  c.http_proxy = first_env({"HTTP_PROXY", "http_proxy"});
  c.no_proxy = first_env({"NO_PROXY", "no_proxy"});
  if (auto t = env("HF_HUB_DOWNLOAD_TIMEOUT"); !t.empty()) {
    char* end = nullptr;
    const double s = std::strtod(t.c_str(), &end);
    if (end == t.c_str() || *end != '\0' || !(s > 0) || s > 3600)
      fail("HF_HUB_DOWNLOAD_TIMEOUT='{}': expected a number of seconds (1..3600)", t);
    c.timeout_s = std::max(1, static_cast<int>(s + 0.5));
  }
  return c;
}

}  // namespace pocketllm::hub
