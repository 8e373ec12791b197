// Hugging Face tokenizer.json (+ tokenizer_config.json, generation_config.json).
#include <filesystem>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer_data.h"

namespace pocketllm {

std::unique_ptr<Tokenizer> Tokenizer::from_hf(const std::string& path) {
  fail("{}: tokenizer.json loading is not implemented yet", path);
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "tokenizer.json", ec)) return from_hf(path);
    fail("{}: folder without tokenizer.json", path);
  }
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
  if (fs::path(path).extension() == ".gguf") return from_gguf(*gguf::File::open(path));
  if (fs::path(path).filename() == "tokenizer.json" || fs::path(path).extension() == ".json") return from_hf(path);
  fail("{}: not a tokenizer source (expected a .gguf, a tokenizer.json or a folder with one; "
       "a llama2.c tokenizer .bin must be given with --tokenizer)", path);
}

}  // namespace pocketllm
