// Where the Hugging Face Hub is, who we are to it, and where its cache lives:
// read from the environment variables huggingface_hub reads, with its defaults,
// so pocketllm and huggingface_hub share one cache and one login.
#pragma once
#include <filesystem>
#include <string>

namespace pocketllm::hub {

struct HubConfig {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, no trailing '/'
  std::string token;                                 // HF_TOKEN, else the token file
  std::string token_source;                          // where the token came from (for messages)
  std::filesystem::path cache_dir;                   // HF_HUB_CACHE
  bool offline = false;                              // HF_HUB_OFFLINE: the cache only, no network
  std::string https_proxy, http_proxy, no_proxy;     // HTTPS_PROXY, HTTP_PROXY, NO_PROXY (or lower case)
  int timeout_s = 10;                                // HF_HUB_DOWNLOAD_TIMEOUT: connect and between bytes

  // HF_ENDPOINT, HF_TOKEN / HUGGING_FACE_HUB_TOKEN / HF_TOKEN_PATH / $HF_HOME/token,
  // HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / $HF_HOME/hub (HF_HOME defaults to
  // $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface), HF_HUB_OFFLINE, proxies.
  static HubConfig from_env();
};

// huggingface_hub's reading of a boolean variable: 1, ON, YES or TRUE (any case).
bool env_flag_true(const char* name);

}  // namespace pocketllm::hub
