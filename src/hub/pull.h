// `pocketllm pull` and `-hf`: the files a model needs, from the cache when they
// are there, else from the Hub (listing, selection, downloads), recorded in
// huggingface_hub's cache layout.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/config.h"
#include "hub/model_ref.h"

namespace pocketllm::hub {

struct PullRequest {
  ModelRef ref;
  std::vector<std::string> include;  // exact file names (--include / --hf-file)
  std::string revision = "main";
};

struct PullResult {
  std::filesystem::path model_path;  // the GGUF file (a split model's first part) or the snapshot folder
  std::string commit;
  std::vector<std::filesystem::path> files;
  uint64_t bytes_received = 0;
  bool from_cache = false;  // the Hub was not asked (HF_HUB_OFFLINE, or unreachable)
};

// HF_HUB_OFFLINE: the cache only. Otherwise the Hub; when it cannot be reached
// (network down, 5xx), a complete cached snapshot of the revision is used instead.
// cancel (Ctrl-C) stops a download, leaving its .incomplete file for the next run.
PullResult pull(const PullRequest& req, const HubConfig& cfg, const std::atomic<bool>* cancel = nullptr);

}  // namespace pocketllm::hub
