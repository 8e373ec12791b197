#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "formats/llama2c.h"
#include "model/arch/arch.h"
#include "model/loader_internal.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace pocketllm {

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for (auto& [name, t] : tensors) {
    uint64_t k = 1;
    for (auto d : t.ne) k *= d;
    n += k;
  }
  return n;
}

int32_t Model::n_sampleable() const {
  const int64_t n = tokenizer ? std::min<int64_t>(cfg.n_vocab, tokenizer->n_vocab()) : cfg.n_vocab;
  return static_cast<int32_t>(n);
}

namespace detail {
const std::vector<std::string>& supported_architectures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto& a : architectures()) v.push_back(a.name);
    return v;
  }();
  return names;
}

void check_architecture(const std::string& arch, const std::string& source) { architecture(arch, source); }
}  // namespace detail

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& opt) {
  auto m = std::make_unique<Model>();
  m->path = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    m->format = ModelFormat::HuggingFace;
    detail::load_hf(*m, path, opt);
  } else {
    if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
    auto head = MappedFile::open(path, true);
    if (head->size() >= 4 && std::memcmp(head->data(), "GGUF", 4) == 0) {
      m->format = ModelFormat::GGUF;
      detail::load_gguf(*m, path, opt);
    } else if (llama2c::looks_like_checkpoint(*head)) {
      m->format = ModelFormat::Llama2c;
      detail::load_llama2c(*m, path, opt);
    } else if (path.ends_with(".safetensors") || path.ends_with(".json")) {
      fail("{}: pass the Hugging Face model folder (with config.json), not a file inside it", path);
    } else {
      fail("{}: unknown model format (expected a GGUF file, a Hugging Face folder or a llama2.c checkpoint)", path);
    }
  }
  if (opt.load_tokenizer && !opt.tokenizer_path.empty()) {
    // --tokenizer replaces the model's own, whatever the model's format.
    m->tokenizer = Tokenizer::load(opt.tokenizer_path);
    if (m->tokenizer->n_vocab() > m->cfg.n_vocab)
      fail("{}: the tokenizer {} has {} tokens, more than the model's {} embedding rows", path, opt.tokenizer_path,
           m->tokenizer->n_vocab(), m->cfg.n_vocab);
  }
  for (auto& f : m->files) m->file_bytes += f->size();
  if (opt.huge_pages && transparent_huge_pages_enabled()) m->arena = std::make_shared<HugeArena>();
  detail::bind_weights(*m);
  return m;
}

}  // namespace pocketllm
