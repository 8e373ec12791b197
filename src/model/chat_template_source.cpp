#include "model/chat_template_source.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/bounded_json.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"

namespace fs = std::filesystem;

namespace pocketllm {

namespace {
std::string from_tokenizer_config(const fs::path& p) {
  auto mf = MappedFile::open(p.string(), false);
  nlohmann::json tc;
  try {
    tc = parse_json_bounded(std::string_view(reinterpret_cast<const char*>(mf->data()), mf->size()), p.string());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", p.string(), e.what());
  }
  if (!tc.is_object() || !tc.contains("chat_template")) return "";
  const auto& ct = tc["chat_template"];
  if (ct.is_string()) return ct.get<std::string>();
  if (!ct.is_array()) fail("{}: chat_template must be a string or a list of {{name, template}}", p.string());
  std::string first;
  for (auto& e : ct) {
    if (!e.is_object() || !e.contains("template") || !e["template"].is_string()) continue;
    if (e.contains("name") && e["name"].is_string() && e["name"].get<std::string>() == "default")
      return e["template"].get<std::string>();
    if (first.empty()) first = e["template"].get<std::string>();
  }
  return first;
}
}  // namespace

std::string read_model_chat_template(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    std::string t;
    if (fs::exists(dir / "tokenizer_config.json")) t = from_tokenizer_config(dir / "tokenizer_config.json");
    if (t.empty() && fs::exists(dir / "chat_template.jinja")) {
      auto mf = MappedFile::open((dir / "chat_template.jinja").string(), false);
      t.assign(reinterpret_cast<const char*>(mf->data()), mf->size());
    }
    return t;
  }
  auto mf = MappedFile::open(path, true);
  if (mf->size() >= 4 && std::memcmp(mf->data(), "GGUF", 4) == 0)
    return gguf::File::parse(mf)->get_string("tokenizer.chat_template").value_or("");
  if (path.ends_with("tokenizer_config.json")) return from_tokenizer_config(path);
  return "";
}

}  // namespace pocketllm
