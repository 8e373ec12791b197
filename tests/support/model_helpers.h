// Small model fixtures shared by tests: the stories260K model from ../shared, the
// logits of every position of a prompt, and stories260K with a padded embedding.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "model/context.h"
#include "quantizer/export_gguf.h"
#include "model/model.h"
#include "test_support.h"

namespace testsupport {

// A model file's weights alone (no tokenizer), for comparing logits.
inline std::unique_ptr<pocketllm::Model> load_weights(const std::filesystem::path& p) {
  pocketllm::LoadOptions lo;
  lo.load_tokenizer = false;
  return pocketllm::load_model(p.string(), lo);
}

// The largest |a - b|; infinite when the sizes differ or a holds a NaN or an infinity.
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return d;
}

inline std::unique_ptr<pocketllm::Model> stories_model() {
  pocketllm::LoadOptions lo;
  lo.tokenizer_path = (shared_data() / "models/stories260K/tok512.bin").string();
  return pocketllm::load_model((shared_data() / "models/stories260K/stories260K.bin").string(), lo);
}

// Logits [ids.size()][n_vocab] of one prefill of `ids` (one thread: deterministic).
inline std::vector<float> all_logits(const pocketllm::Model& m, const std::vector<int32_t>& ids, int64_t n_ctx = 256) {
  pocketllm::ContextParams p;
  p.n_ctx = n_ctx;
  p.n_threads = 1;
  pocketllm::Context ctx(m, p);
  const float* l = ctx.eval(ids.data(), static_cast<int64_t>(ids.size()), true);
  return std::vector<float>(l, l + ids.size() * m.cfg.n_vocab);
}

// stories260K as a GGUF whose tokenizer keeps only its first n_tokens pieces while the
// embedding keeps all 512 rows, as real models pad theirs past the tokenizer (Qwen2.5:
// 151,936 rows for 151,665 tokens). Ids from n_tokens up have no text.
inline std::string padded_vocab_stories(const std::filesystem::path& dir, size_t n_tokens = 400) {
  namespace gguf = pocketllm::gguf;
  const std::string full = (dir / "stories-f32.gguf").string(), padded = (dir / "stories-padded.gguf").string();
  pocketllm::ExportOptions eo;
  eo.progress = false;
  pocketllm::export_gguf(*stories_model(), full, eo);
  auto f = gguf::File::open(full);
  gguf::Writer w;
  for (auto [k, v] : f->metadata()) {
    if (k == "tokenizer.ggml.tokens" || k == "tokenizer.ggml.scores" || k == "tokenizer.ggml.token_type")
      v.arr_resize(n_tokens);
    w.set(k, v);
  }
  for (auto& t : f->tensors()) w.add_tensor(t.name, t.type, t.ne, t.data, t.nbytes);
  w.write(padded);
  return padded;
}

}  // namespace testsupport
