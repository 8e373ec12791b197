// pocketllm list: the models in the Hugging Face cache (pocketllm's and huggingface_hub's).
#include <algorithm>
#include <array>
#include <cstdio>

#include <fmt/format.h>

#include "cli/command.h"
#include "hub/cache_admin.h"
#include "hub/config.h"
#include "hub/progress.h"

namespace pocketllm::cli {
namespace {

int run() {
  const hub::HubConfig cfg = hub::HubConfig::from_env();
  const auto files = hub::list_cache(cfg.cache_dir);
  if (files.empty()) {
    std::fprintf(stderr, "no models in the cache (%s); `pocketllm pull OWNER/REPO[:QUANT]` adds one\n",
                 cfg.cache_dir.c_str());
    return 0;
  }
  std::vector<std::array<std::string, 5>> rows{{"REPO", "FILE", "SIZE", "TYPE", "REVISION"}};
  uint64_t total = 0;
  for (auto& f : files) {
    std::string rev = f.commit.substr(0, 12);
    for (auto& r : f.refs) rev = r + " (" + f.commit.substr(0, 12) + ")";
    rows.push_back({f.repo, f.file, hub::human_bytes(static_cast<double>(f.size)), f.kind, rev});
    total += f.size;
  }
  std::array<size_t, 5> w{};
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (auto& r : rows)
    std::printf("%s\n", fmt::format("{:<{}}  {:<{}}  {:>{}}  {:<{}}  {}", r[0], w[0], r[1], w[1], r[2], w[2], r[3], w[3],
                                    r[4]).c_str());
  std::fprintf(stderr, "cache: %s (%s in these files)\n", cfg.cache_dir.c_str(),
               hub::human_bytes(static_cast<double>(total)).c_str());
  return 0;
}

RegisterCommand register_list({"list", "List the models in the Hugging Face cache: repo, file, size, type", 6, [](CLI::App& sub) {
                       sub.footer("\nThe cache is HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default ~/.cache/huggingface), "
                                  "shared with huggingface_hub.");
                       return std::function<int()>([] { return run(); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
