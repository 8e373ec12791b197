// -hf in a build without the network (POCKETLLM_NETWORK=OFF, e.g. the static phone
// build): the options stay, so commands parse as documented, and say why they cannot pull.
#include "cli/hub_model.h"

#include "core/error.h"

namespace pocketllm::cli {

void add_hf_options(CLI::App& app, std::string& repo, std::vector<std::string>& files) {
  auto* r = app.add_option("--hf-repo", repo, "Not in this build (no network): pull on another machine, pass -m FILE");
  app.add_option("--hf-file", files, "Not in this build (no network)")->needs(r);
}

void resolve_hf_model(std::string& model, const std::string& repo, const std::vector<std::string>&) {
  if (!repo.empty())
    fail("-hf {}: this pocketllm was built without the network (POCKETLLM_NETWORK=OFF); download the model "
         "elsewhere (pocketllm pull) and pass its file with -m",
         repo);
  if (model.empty()) fail("no model given: pass -m FILE (a GGUF file, Hugging Face folder or llama2.c checkpoint)");
}

}  // namespace pocketllm::cli
