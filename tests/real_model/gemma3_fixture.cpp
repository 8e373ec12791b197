#include "gemma3_fixture.h"

#include <map>
#include <mutex>

namespace gemma3 {

const pocketllm::Model& load_variant(const std::string& variant) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<pocketllm::Model>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& m = cache[variant];
  if (!m) m = pocketllm::load_model(variant_path(variant).string());
  return *m;
}

}  // namespace gemma3
