// Reads tokenizer.json without building JSON nodes for model.vocab and
// model.merges (hundreds of thousands of entries): they go straight into
// vectors, which makes loading a Llama 3 / Qwen tokenizer several times faster.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pocketllm::tok {

struct HfModelTables {
  bool vocab_is_object = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // "a b" and ["a", "b"] forms
};

// The rest of the document is returned as JSON (model.vocab / model.merges left empty).
nlohmann::json read_tokenizer_json(const std::string& path, HfModelTables& tables);

}  // namespace pocketllm::tok
