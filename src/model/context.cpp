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
      pool_(std::make_unique<ThreadPool>(p.n_threads > 0 ? p.n_threads : default_thread_count())),
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
  // LongRoPE picks its factors by the context size (as llama.cpp does), so the KV
  // cache never mixes two RoPE tables.
  const bool long_ctx = n_ctx_ > c.rope_longrope.original_context;
  const auto& factors = !m.w.rope_factors_short.empty() ? (long_ctx ? m.w.rope_factors_long : m.w.rope_factors_short)
                                                        : m.w.rope_freq_factors;
  inv_freq_ = ops::rope_inv_freq(c, factors);
  inv_freq_local_ = c.rope_theta_local > 0.0f ? ops::rope_inv_freq(c, {}, true) : inv_freq_;
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
    std::vector<BatchRow> rows;
    for (int64_t t = 0; t < k; ++t) rows.push_back({&kv_, n_past_ + t});
    forward_rows(tokens + done, rows, out, out ? (all_logits ? k : 1) : 0);
    n_past_ += k;
    done += k;
  }
  return logits_.data();
}

void Context::forward_rows(const int32_t* tokens, const std::vector<BatchRow>& rows, float* logits_out, int64_t n_out) {
  const ModelConfig& c = m_.cfg;
  const ModelWeights& w = m_.w;
  const int64_t n = static_cast<int64_t>(rows.size());
  for (int64_t t = 0; t < n; ++t) matrix_row(w.token_embd, tokens[t], &buf_.x[t * c.dim]);
  if (c.embed_scale != 1.0f)
    for (int64_t i = 0; i < n * c.dim; ++i) buf_.x[i] *= c.embed_scale;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const float* inv_freq = c.is_sliding(l) ? inv_freq_local_.data() : inv_freq_.data();
    llama_block_forward(c, w.layers[l], l, buf_, rows, inv_freq, *pool_);
  }
  if (n_out <= 0) return;
  // Only the rows whose logits are wanted go through the final norm and the head.
  const int64_t first = n - n_out;
  for (int64_t t = first; t < n; ++t)
    ops::rmsnorm(&buf_.xb[(t - first) * c.dim], &buf_.x[t * c.dim], w.output_norm.data(), c.dim, c.norm_eps);
  linear(w.output, buf_.xb.data(), c.dim, n_out, logits_out, c.n_vocab, *pool_);
  if (c.final_softcap > 0.0f) ops::softcap(logits_out, n_out * c.n_vocab, c.final_softcap);
}

const float* decode_batch(const std::vector<Context*>& ctxs, const std::vector<int32_t>& tokens) {
  if (ctxs.empty() || ctxs.size() != tokens.size()) fail("decode_batch: one token per context is needed");
  Context& lead = *ctxs[0];
  const int64_t n = static_cast<int64_t>(ctxs.size());
  if (n > lead.n_batch_) fail("decode_batch: {} sequences exceed the batch size {}", n, lead.n_batch_);
  std::vector<BatchRow> rows;
  for (int64_t i = 0; i < n; ++i) {
    Context& c = *ctxs[i];
    if (&c.m_ != &lead.m_) fail("decode_batch: all contexts must share one model");
    if (c.n_past_ >= c.n_ctx_) fail("context full: {} tokens", c.n_ctx_);
    if (tokens[i] < 0 || tokens[i] >= lead.m_.cfg.n_vocab) fail("token id {} is outside the vocabulary", tokens[i]);
    rows.push_back({&c.kv_, c.n_past_});
  }
  lead.logits_.resize(static_cast<size_t>(n * lead.m_.cfg.n_vocab));
  lead.forward_rows(tokens.data(), rows, lead.logits_.data(), n);
  for (auto* c : ctxs) c->n_past_ += 1;
  return lead.logits_.data();
}

}  // namespace pocketllm
