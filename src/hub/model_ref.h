// What the user names on the command line (OWNER/REPO[:QUANT], as llama.cpp's -hf
// and Ollama's hf.co/ names spell it) and the checks that keep names the Hub sends
// (files, commits, ETags) from escaping the cache folder.
#pragma once
#include <string>
#include <string_view>

namespace pocketllm::hub {

struct ModelRef {
  std::string repo;   // "owner/name"
  std::string quant;  // "Q4_K_M", or "" when not given
  std::string str() const { return quant.empty() ? repo : repo + ":" + quant; }
};

// Accepts "owner/name", "owner/name:QUANT", and the same after "hf.co/",
// "huggingface.co/" or "https://huggingface.co/". Throws Error with the expected
// form otherwise.
ModelRef parse_model_ref(std::string_view text);

// huggingface_hub's folder name for a model repo: "models--owner--name".
std::string repo_folder_name(const std::string& repo);

// A repo file path the cache may hold: relative, '/'-separated, no empty, "." or
// ".." component, no backslash or control character. Throws Error naming `what`.
void check_repo_path(const std::string& path, const std::string& what);
// A single name used as a file name (commit hash, ETag, revision): the characters
// [A-Za-z0-9._-], not "." or "..", at most 128 of them. Throws Error naming `what`.
void check_plain_name(const std::string& name, const std::string& what);

}  // namespace pocketllm::hub
