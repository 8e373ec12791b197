// pocketllm pull: download a model from the Hugging Face Hub into the cache
// huggingface_hub uses (nothing is fetched twice, by either tool). stdout gets
// only the local path of the model, so `pocketllm run -m "$(pocketllm pull X)"` works.
#include <cstdio>

#include "cli/command.h"
#include "cli/hub_model.h"
#include "hub/progress.h"

namespace pocketllm::cli {
namespace {

struct PullOptions {
  std::string model;
  std::vector<std::string> include;
  std::string revision = "main";
};

int run(const PullOptions& o) {
  const hub::HubConfig cfg = hub::HubConfig::from_env();
  hub::PullRequest req{hub::parse_model_ref(o.model), o.include, o.revision};
  const hub::PullResult r = pull_with_interrupt(req, cfg);
  std::fprintf(stderr, "%s: %zu file%s of commit %s, %s downloaded%s\n", req.ref.str().c_str(), r.files.size(),
               r.files.size() == 1 ? "" : "s", r.commit.c_str(),
               hub::human_bytes(static_cast<double>(r.bytes_received)).c_str(),
               r.from_cache ? " (from the cache only)" : "");
  std::printf("%s\n", r.model_path.c_str());
  return 0;
}

const char* kFooter =
    "\n:QUANT picks the GGUF file whose name contains QUANT (case-insensitive; of several, the one where it is a\n"
    "whole tag: Q4_K, not Q4_K_M); a split model (-00001-of-0000N) comes whole. Without :QUANT or --include, a\n"
    "safetensors repo gives config.json, the tokenizer files and the weights (all shards), a GGUF repo its only\n"
    "GGUF file or its Q4_K_M.\n\n"
    "Environment (as huggingface_hub reads it): HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (else the\n"
    "token file of `hf auth login`, $HF_HOME/token), HF_HUB_CACHE (default $HF_HOME/hub, HF_HOME default\n"
    "~/.cache/huggingface), HF_HUB_OFFLINE=1 (the cache only), HF_HUB_DOWNLOAD_TIMEOUT (seconds, default 10),\n"
    "HTTPS_PROXY / NO_PROXY, SSL_CERT_FILE. Ctrl-C keeps the partial download; run the command again to resume.";

RegisterCommand register_pull({"pull", "Download a model from the Hugging Face Hub (OWNER/REPO[:QUANT]) into its shared cache", 5,
                     [](CLI::App& sub) {
                       auto o = std::make_shared<PullOptions>();
                       sub.add_option("model", o->model, "OWNER/REPO or OWNER/REPO:QUANT, e.g. "
                                                         "bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M")
                           ->required();
                       sub.add_option("--include", o->include, "Exactly this file of the repo (repeatable)");
                       sub.add_option("--revision", o->revision, "Branch, tag or commit")->capture_default_str();
                       sub.footer(kFooter);
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
