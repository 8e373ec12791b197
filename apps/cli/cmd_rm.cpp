// pocketllm rm: remove a model from the Hugging Face cache, keeping every blob
// that another snapshot entry still links to.
#include <cstdio>

#include "cli/command.h"
#include "hub/cache_admin.h"
#include "hub/progress.h"

namespace pocketllm::cli {
namespace {

struct RmOptions {
  std::string model;
  std::vector<std::string> include;
};

int run(const RmOptions& o) {
  const hub::HubConfig cfg = hub::HubConfig::from_env();
  const hub::PullRequest what{hub::parse_model_ref(o.model), o.include, "main"};
  const hub::RemoveReport r = hub::remove_from_cache(cfg.cache_dir, what);
  for (auto& e : r.entries) std::printf("removed %s/%s\n", what.ref.repo.c_str(), e.c_str());
  std::fprintf(stderr, "%s: %zu file%s removed, %zu blob%s deleted, %s freed%s\n", what.ref.str().c_str(),
               r.entries.size(), r.entries.size() == 1 ? "" : "s", r.blobs, r.blobs == 1 ? "" : "s",
               hub::human_bytes(static_cast<double>(r.bytes)).c_str(),
               r.whole_repo ? " (the repo is gone from the cache)" : "");
  return 0;
}

RegisterCommand register_rm({"rm", "Remove a model (OWNER/REPO[:QUANT]) from the Hugging Face cache", 7, [](CLI::App& sub) {
                       auto o = std::make_shared<RmOptions>();
                       sub.add_option("model", o->model,
                                      "OWNER/REPO (all of it) or OWNER/REPO:QUANT (the GGUF files :QUANT picks)")
                           ->required();
                       sub.add_option("--include", o->include, "Exactly this file of the repo (repeatable)");
                       sub.footer("\nBlobs still linked from another snapshot or file stay. The cache is HF_HUB_CACHE "
                                  "(default ~/.cache/huggingface/hub).");
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
