#include "model/context.h"

#include <algorithm>

#include "core/error.h"
#include "model/ops.h"

namespace pocketllm {

namespace {
int64_t resolve_ctx(const Model& m, int64_t n_ctx) {
  if (n_ctx <= 0) return std::min<int64_t>(m.cfg.context_length, 4096);
  return n_ctx;
}
}  // namespace

Context::Context(const Model& m, const ContextParams& p)
    : m_(m),
      n_ctx_(resolve_ctx(m, p.n_ctx)),
      n_batch_(std::clamp<int64_t>(p.n_batch, 1, 4096)),
      pool_(std::make_unique<ThreadPool>(p.n_threads > 0 ? p.n_threads : physical_core_count())),
      kv_(m.cfg.n_layers, n_ctx_, m.cfg.kv_dim(), p.kv_type) {
  const ModelConfig& c = m.cfg;
  if (n_ctx_ > (int64_t{1} << 20)) fail("context size {} is too large", n_ctx_);
  const auto B = static_cast<size_t>(n_batch_);
  buf_.x.resize(B * c.dim);
  buf_.xb.resize(B * c.dim);
  buf_.q.resize(B * c.q_dim());
  buf_.att.resize(B * c.q_dim());
  buf_.k.resize(B * c.kv_dim());
  buf_.v.resize(B * c.kv_dim());
  buf_.hb.resize(B * c.hidden_dim);
  buf_.hb2.resize(B * c.hidden_dim);
  buf_.scores.resize(static_cast<size_t>(pool_->size()) * n_ctx_);
  inv_freq_ = ops::rope_inv_freq(c, m.w.rope_freq_factors);
}

void Context::truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

const float* Context::eval(const int32_t* tokens, int64_t n, bool all_logits) {
  const ModelConfig& c = m_.cfg;
  if (n <= 0) fail("eval needs at least one token");
  if (n_past_ + n > n_ctx_) fail("context full: {} + {} tokens exceed the context size {}", n_past_, n, n_ctx_);
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab) fail("token id {} is outside the vocabulary (0..{})", tokens[i], c.n_vocab - 1);
  logits_.resize(static_cast<size_t>((all_logits ? n : 1) * c.n_vocab));
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(n_batch_, n - done);
    const bool last = done + k == n;
    float* out = all_logits ? &logits_[static_cast<size_t>(done * c.n_vocab)] : (last ? logits_.data() : nullptr);
    forward_batch(tokens + done, k, out, all_logits);
    done += k;
  }
  return logits_.data();
}

void Context::forward_batch(const int32_t* tokens, int64_t n, float* logits_out, bool all_logits) {
  const ModelConfig& c = m_.cfg;
  const ModelWeights& w = m_.w;
  for (int64_t t = 0; t < n; ++t) matrix_row(w.token_embd, tokens[t], &buf_.x[t * c.dim]);
  for (int64_t l = 0; l < c.n_layers; ++l)
    llama_block_forward(c, w.layers[l], l, buf_, kv_, n_past_, n, inv_freq_.data(), *pool_);
  n_past_ += n;
  if (!logits_out) return;
  // Only the rows whose logits are wanted go through the final norm and the head.
  const int64_t first = all_logits ? 0 : n - 1, rows = n - first;
  for (int64_t t = first; t < n; ++t)
    ops::rmsnorm(&buf_.xb[(t - first) * c.dim], &buf_.x[t * c.dim], w.output_norm.data(), c.dim, c.norm_eps);
  linear(w.output, buf_.xb.data(), c.dim, rows, logits_out, c.n_vocab, *pool_);
}

}  // namespace pocketllm
