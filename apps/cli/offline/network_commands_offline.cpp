// serve, pull, list and rm in a build without the network (POCKETLLM_NETWORK=OFF, e.g.
// the static phone build): they stay in --help and say why they cannot run, instead of
// CLI11's "A subcommand is required".
#include "cli/command.h"
#include "core/error.h"

namespace pocketllm::cli {
namespace {

Command offline(const char* name, int order) {
  return {name, "Not in this build (built without the network)", order, [name](CLI::App& sub) {
            sub.allow_extras();
            return std::function<int()>([name]() -> int {
              fail("'{}' is not in this build of pocketllm (POCKETLLM_NETWORK=OFF, as the static phone build): run it "
                   "from a full build; here, pass a model file with -m",
                   name);
            });
          }};
}

RegisterCommand pull_reg(offline("pull", 5)), list_reg(offline("list", 6)), rm_reg(offline("rm", 7)),
    serve_reg(offline("serve", 40));

}  // namespace
}  // namespace pocketllm::cli
