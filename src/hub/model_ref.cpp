#include "hub/model_ref.h"

#include <cctype>

#include "core/error.h"

namespace pocketllm::hub {

namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool name_char(char c) { return word_char(c) || c == '-' || c == '.'; }

// One part of a repo id as huggingface_hub validates it: [\w.-]{1,96}, starting and
// ending with a word character, no "--" or "..".
bool valid_part(std::string_view s) {
  if (s.empty() || s.size() > 96 || !word_char(s.front()) || !word_char(s.back())) return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return s.find("--") == std::string_view::npos && s.find("..") == std::string_view::npos;
}

}  // namespace

ModelRef parse_model_ref(std::string_view text) {
  const std::string_view original = text;
  for (std::string_view prefix : {"https://huggingface.co/", "http://huggingface.co/", "https://hf.co/", "huggingface.co/", "hf.co/"})
    if (text.starts_with(prefix)) {
      text.remove_prefix(prefix.size());
      break;
    }
  ModelRef r;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    r.quant = std::string(text.substr(colon + 1));
    text = text.substr(0, colon);
    bool ok = !r.quant.empty() && r.quant.size() <= 64;
    for (char c : r.quant) ok = ok && name_char(c);
    if (!ok)
      fail("'{}': the part after ':' should be a quantization tag such as Q4_K_M (letters, digits, '_', '-', '.')",
           original);
  }
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || !valid_part(text.substr(0, slash)) || !valid_part(text.substr(slash + 1)) ||
      text.ends_with(".git"))
    fail("'{}' is not a Hugging Face model name: expected OWNER/REPO or OWNER/REPO:QUANT, e.g. "
         "bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
         original);
  r.repo = std::string(text);
  return r;
}

std::string repo_folder_name(const std::string& repo) {
  std::string out = "models";
  size_t start = 0;
  while (true) {
    const size_t slash = repo.find('/', start);
    out += "--" + repo.substr(start, slash - start);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

void check_repo_path(const std::string& path, const std::string& what) {
  bool ok = !path.empty() && path.size() <= 1024 && path.front() != '/';
  size_t start = 0;
  while (ok) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash - start);
    ok = !part.empty() && part != "." && part != "..";
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (char c : path) ok = ok && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  if (!ok) fail("{} '{}' is not a safe relative file path; refusing to write it", what, path);
}

void check_plain_name(const std::string& name, const std::string& what) {
  bool ok = !name.empty() && name.size() <= 128 && name != "." && name != "..";
  for (char c : name) ok = ok && name_char(c);
  if (!ok) fail("{} '{}' is not a plain name ([A-Za-z0-9._-]); refusing to use it as a file name", what, name);
}

}  // namespace pocketllm::hub
