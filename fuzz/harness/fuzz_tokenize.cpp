// encode / decode / streaming decode on arbitrary bytes with real tokenizers:
// byte 0 picks the tokenizer and flags, the rest is text (and, reread, token ids).
#include <cstring>

#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

using pocketllm::Tokenizer;

static const std::vector<std::unique_ptr<Tokenizer>>& tokenizers() {
  static const auto toks = [] {
    std::vector<std::unique_ptr<Tokenizer>> v;
    v.push_back(Tokenizer::from_llama2c(fuzzutil::shared_data("models/stories260K/tok512.bin")));
    v.push_back(Tokenizer::from_hf(fuzzutil::shared_data("tokenizers/hf/lenml-llama2_mistral-7b-vocab")));
    v.push_back(Tokenizer::from_hf(fuzzutil::shared_data("tokenizers/hf/llama3")));
    v.push_back(Tokenizer::from_hf(fuzzutil::shared_data("tokenizers/hf/qwen3")));
    return v;
  }();
  return toks;
}

// Loading the big tokenizer.json files under ASan takes a while: do it before the
// per-input timeout starts counting.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& toks = tokenizers();
  const Tokenizer& tok = *toks[data[0] % toks.size()];
  const bool add_special = data[0] & 4, parse_special = data[0] & 8, skip_special = data[0] & 16;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto ids = tok.encode(text, add_special, parse_special);
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab()) __builtin_trap();  // encode must give valid ids
  (void)tok.decode(ids, skip_special);

  // The same bytes as token ids, out-of-range ones included: a clean error or text.
  std::vector<int32_t> raw((size - 1) / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data + 1, raw.size() * 4);
  fuzzutil::expect_clean([&] { (void)tok.decode(raw, skip_special); });
  int32_t prev = tok.bos();
  for (int32_t id : raw) {
    fuzzutil::expect_clean([&] { (void)tok.decode_piece(prev, id); });
    prev = id;
  }
  pocketllm::StreamDecoder sd(tok, skip_special);
  std::string streamed;
  for (int32_t id : ids) streamed += sd.push(id);
  streamed += sd.flush();
  if (streamed != tok.decode(ids, skip_special)) __builtin_trap();  // documented invariant
  return 0;
}
