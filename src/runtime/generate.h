// The prefill/decode loop: the whole prompt is evaluated as one batch, the
// first new token is drawn from the logits after the LAST prompt token, then
// one token per step until an end-of-generation token, n_predict or the context end.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/context.h"
#include "sampling/sampler.h"

namespace pocketllm {

class Tokenizer;

struct GenerateStats {
  int64_t n_prompt = 0;   // tokens prefilled (excluding reused cache)
  int64_t n_gen = 0;      // tokens generated
  double prefill_ms = 0, decode_ms = 0;
  enum class Stop { Eog, Length, Context, Callback } stop = Stop::Length;
  double prefill_tps() const { return prefill_ms > 0 ? n_prompt * 1000.0 / prefill_ms : 0; }
  // Decode speed counts the forward passes of generated tokens only (the first
  // token comes from the prefill's logits).
  double decode_tps() const { return decode_ms > 0 && n_gen > 1 ? (n_gen - 1) * 1000.0 / decode_ms : 0; }
};

struct GenerateOptions {
  int64_t n_predict = -1;  // < 0: until the context is full
  // Called with each generated token; return false to stop (the token counts).
  std::function<bool(int32_t)> on_token;
  // End-of-generation test; default: the tokenizer's set (none without one).
  std::function<bool(int32_t)> is_eog;
};

// Appends `prompt` to the context (which may already hold a cached prefix) and generates.
GenerateStats generate(Context& ctx, Sampler& sampler, const std::vector<int32_t>& prompt, const GenerateOptions& opt);

}  // namespace pocketllm
