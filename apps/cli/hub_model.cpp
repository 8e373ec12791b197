#include "cli/hub_model.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "hub/http_client.h"

namespace pocketllm::cli {

namespace {

std::atomic<bool> g_cancel{false};

// First Ctrl-C: stop the download cleanly (the partial file stays for a resume).
// A second one: the default action, at once.
void on_sigint(int) {
  g_cancel.store(true);
  std::signal(SIGINT, SIG_DFL);
}

}  // namespace

void add_hf_options(CLI::App& app, std::string& repo, std::vector<std::string>& files) {
  auto* r = app.add_option("--hf-repo", repo,
                           "Model on the Hugging Face Hub, OWNER/REPO[:QUANT] (also -hf): downloaded into (or found in) "
                           "the Hugging Face cache; see `pocketllm pull --help`");
  app.add_option("--hf-file", files, "With -hf: this file of the repo instead of the :QUANT choice (also -hff)")
      ->needs(r);
}

hub::PullResult pull_with_interrupt(const hub::PullRequest& req, const hub::HubConfig& cfg) {
  g_cancel.store(false);
  auto previous = std::signal(SIGINT, on_sigint);
  try {
    hub::PullResult r = hub::pull(req, cfg, &g_cancel);
    std::signal(SIGINT, previous);
    return r;
  } catch (const hub::Interrupted& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "\n%s\n", e.what());
    std::exit(130);
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
}

void resolve_hf_model(std::string& model, const std::string& repo, const std::vector<std::string>& files) {
  if (repo.empty()) {
    if (model.empty())
      fail("no model given: pass -m FILE (a GGUF file, Hugging Face folder or llama2.c checkpoint) or "
           "-hf OWNER/REPO[:QUANT]");
    return;
  }
  hub::PullRequest req{hub::parse_model_ref(repo), files, "main"};
  model = pull_with_interrupt(req, hub::HubConfig::from_env()).model_path.string();
}

}  // namespace pocketllm::cli
