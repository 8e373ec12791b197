#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace pocketllm {

namespace {
// log-softmax of row (double precision accumulation), returned as a vector.
void log_softmax(const float* logits, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  double mx = logits[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(logits[i] - mx);
  const double lse = mx + std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[i] = logits[i] - lse;
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = static_cast<size_t>(std::ceil(pos));
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Mean and standard error of the mean.
std::pair<double, double> mean_err(double sum, double sum2, int64_t n) {
  const double m = sum / static_cast<double>(n);
  const double var = sum2 / static_cast<double>(n) - m * m;
  return {m, n > 1 && var > 0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0};
}
}  // namespace

PerplexityResult perplexity(Context& ctx, const std::vector<int32_t>& tokens, const PerplexityOptions& opt, Context* base) {
  const int64_t n_ctx = opt.n_ctx;
  if (n_ctx < 4) fail("perplexity needs a context of at least 4 tokens");
  if (n_ctx > ctx.n_ctx()) fail("context {} is larger than the model context {}", n_ctx, ctx.n_ctx());
  if (static_cast<int64_t>(tokens.size()) < 2 * n_ctx)
    fail("you need at least {} tokens to evaluate perplexity with a context of {} (the text has {})", 2 * n_ctx, n_ctx,
         tokens.size());
  const int64_t n_vocab = ctx.model().cfg.n_vocab;
  if (base && base->model().cfg.n_vocab != n_vocab) fail("the base model's vocabulary differs from the model's");
  int64_t n_chunk = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (opt.max_chunks > 0) n_chunk = std::min(n_chunk, opt.max_chunks);
  const int64_t first = n_ctx / 2;

  PerplexityResult r;
  r.n_chunks = n_chunk;
  double nll = 0, nll2 = 0, bnll = 0, bnll2 = 0, lr = 0, lr2 = 0, kl = 0, kl2 = 0, dp2 = 0, dp4 = 0;
  int64_t count = 0, same = 0;
  std::vector<double> kls, lq, lb;
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  for (int64_t ci = 0; ci < n_chunk; ++ci) {
    std::copy_n(tokens.begin() + ci * n_ctx, n_ctx, chunk.begin());
    if (opt.add_bos) chunk[0] = opt.bos;
    ctx.truncate(0);
    const float* logits = ctx.eval(chunk.data(), n_ctx, true);
    const float* blogits = nullptr;
    if (base) {
      base->truncate(0);
      blogits = base->eval(chunk.data(), n_ctx, true);
    }
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const int32_t next = chunk[j + 1];
      log_softmax(logits + j * n_vocab, n_vocab, lq);
      const double v = -lq[next];
      nll += v;
      nll2 += v * v;
      ++count;
      if (base) {
        log_softmax(blogits + j * n_vocab, n_vocab, lb);
        const double bv = -lb[next];
        bnll += bv;
        bnll2 += bv * bv;
        const double d = v - bv;  // ln PPL(Q) - ln PPL(base) contribution of this token
        lr += d;
        lr2 += d * d;
        double k = 0;
        int32_t top_q = 0, top_b = 0;
        for (int64_t i = 0; i < n_vocab; ++i) {
          k += std::exp(lb[i]) * (lb[i] - lq[i]);
          if (lq[i] > lq[top_q]) top_q = static_cast<int32_t>(i);
          if (lb[i] > lb[top_b]) top_b = static_cast<int32_t>(i);
        }
        kl += k;
        kl2 += k * k;
        kls.push_back(k);
        const double dp = std::exp(lq[next]) - std::exp(lb[next]);
        dp2 += dp * dp;
        dp4 += dp * dp * dp * dp;
        same += top_q == top_b;
      }
    }
    const double running = std::exp(nll / static_cast<double>(count));
    r.running_ppl.push_back(running);
    if (opt.on_chunk) opt.on_chunk(ci, running);
  }
  r.n_scored = count;
  auto [m, e] = mean_err(nll, nll2, count);
  r.ppl = std::exp(m);
  r.ppl_err = e * r.ppl;
  if (base) {
    r.has_kl = true;
    auto [bm, be] = mean_err(bnll, bnll2, count);
    r.base_ppl = std::exp(bm);
    r.base_ppl_err = be * r.base_ppl;
    std::tie(r.mean_ln_ratio, r.mean_ln_ratio_err) = mean_err(lr, lr2, count);
    std::tie(r.kld_mean, r.kld_err) = mean_err(kl, kl2, count);
    auto [d2, d2e] = mean_err(dp2, dp4, count);
    r.rms_dp = std::sqrt(d2);
    r.rms_dp_err = d2 > 0 ? d2e / (2 * r.rms_dp) : 0;
    const double f = static_cast<double>(same) / static_cast<double>(count);
    r.same_top = f;
    r.same_top_err = std::sqrt(f * (1 - f) / static_cast<double>(std::max<int64_t>(count - 1, 1)));
    r.kld_max = percentile(kls, 1.0);
    r.kld_p999 = percentile(kls, 0.999);
    r.kld_p99 = percentile(kls, 0.99);
    r.kld_p90 = percentile(kls, 0.90);
    r.kld_median = percentile(kls, 0.5);
    r.kld_p10 = percentile(kls, 0.10);
    r.kld_p1 = percentile(kls, 0.01);
    r.kld_min = percentile(kls, 0.0);
  }
  return r;
}

}  // namespace pocketllm
