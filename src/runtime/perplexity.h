// llama-perplexity's method: the token stream is cut into chunks of n_ctx; each
// chunk starts with BOS (when the vocab adds BOS) and the second half of its
// positions is scored. Optional KL divergence against a base model on the same chunks.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/context.h"

namespace pocketllm {

struct PerplexityResult {
  double ppl = 0, ppl_err = 0;        // exp(mean NLL) and its uncertainty
  std::vector<double> running_ppl;    // after each chunk
  int64_t n_chunks = 0, n_scored = 0;
  // With a base model:
  bool has_kl = false;
  double base_ppl = 0, base_ppl_err = 0;
  double mean_ln_ratio = 0, mean_ln_ratio_err = 0;
  double kld_mean = 0, kld_err = 0;
  double kld_p999 = 0, kld_p99 = 0, kld_p90 = 0, kld_median = 0, kld_p10 = 0, kld_p1 = 0, kld_max = 0, kld_min = 0;
  double rms_dp = 0, rms_dp_err = 0;
  double same_top = 0, same_top_err = 0;  // fraction
};

struct PerplexityOptions {
  int64_t n_ctx = 512;
  bool add_bos = true;
  int32_t bos = 1;
  int64_t max_chunks = -1;
  // Called after each chunk with (chunk index, running ppl).
  std::function<void(int64_t, double)> on_chunk;
};

PerplexityResult perplexity(Context& ctx, const std::vector<int32_t>& tokens, const PerplexityOptions& opt,
                            Context* base = nullptr);

}  // namespace pocketllm
