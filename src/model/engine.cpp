#include "model/engine.h"

#include <algorithm>

#include "core/error.h"
#include "model/ops.h"

namespace pocketllm {

namespace {
RopeTables rope_tables(const Model& m, bool long_ctx) {
  const ModelConfig& c = m.cfg;
  const ModelWeights& w = m.w;
  const auto& factors = !w.rope_factors_short.empty() ? (long_ctx ? w.rope_factors_long : w.rope_factors_short)
                                                      : w.rope_freq_factors;
  RopeTables t;
  t.global = ops::rope_inv_freq(c, factors);
  t.local = c.rope_theta_local > 0.0f ? ops::rope_inv_freq(c, {}, true) : t.global;
  return t;
}
}  // namespace

Engine::Engine(const Model& m, const EngineParams& p)
    : m_(m),
      n_batch_(std::clamp<int64_t>(p.n_batch, 1, 4096)),
      own_pool_(p.shared_pool ? nullptr
                              : std::make_unique<ThreadPool>(p.n_threads > 0 ? p.n_threads : default_thread_count())),
      pool_(p.shared_pool ? p.shared_pool : own_pool_.get()),
      rope_short_(rope_tables(m, false)),
      rope_long_(rope_tables(m, true)) {
  const ModelConfig& c = m.cfg;
  const auto B = static_cast<size_t>(n_batch_);
  buf_.x.resize(B * c.dim);
  buf_.xb.resize(B * c.dim);
  buf_.q.resize(B * c.q_dim());
  buf_.att.resize(B * c.q_dim());
  buf_.k.resize(B * c.kv_dim());
  buf_.v.resize(B * c.kv_dim());
  buf_.hb.resize(B * c.hidden_dim);
  buf_.hb2.resize(B * c.hidden_dim);
}

Sequence Engine::new_sequence(int64_t n_ctx, KvType kv_type) const {
  const int64_t n = resolve_n_ctx(m_, n_ctx);
  const bool long_ctx = n > m_.cfg.rope_longrope.original_context;
  return Sequence(m_, n, kv_type, long_ctx ? rope_long_ : rope_short_);
}

const float* Engine::forward(std::span<const Row> rows) {
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n == 0) fail("forward needs at least one row");
  if (n > n_batch_) fail("a batch of {} rows exceeds the engine's batch size {}", n, n_batch_);
  const int64_t n_vocab = m_.cfg.n_vocab;
  // Validate everything before any sequence changes: positions follow each
  // sequence's n_past in row order, and rows of one sequence are consecutive.
  std::vector<BatchRow> br;
  std::vector<int32_t> tokens;
  std::vector<int64_t> out_rows;
  br.reserve(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    const Row& r = rows[static_cast<size_t>(t)];
    if (!r.seq) fail("forward: row {} has no sequence", t);
    if (&r.seq->model() != &m_) fail("forward: row {} belongs to another model's sequence", t);
    if (r.token < 0 || r.token >= n_vocab) fail("token id {} is outside the vocabulary (0..{})", r.token, n_vocab - 1);
    const bool continues = t > 0 && rows[static_cast<size_t>(t - 1)].seq == r.seq;
    if (!continues)
      for (int64_t u = 0; u < t; ++u)
        if (rows[static_cast<size_t>(u)].seq == r.seq) fail("forward: the rows of one sequence must be consecutive");
    const int64_t pos = continues ? br.back().pos + 1 : r.seq->n_past();
    if (pos >= r.seq->n_ctx())
      fail("context full: {} + {} tokens exceed the context size {}", r.seq->n_past(), pos - r.seq->n_past() + 1,
           r.seq->n_ctx());
    br.push_back({&r.seq->kv(), pos, &r.seq->rope()});
    tokens.push_back(r.token);
    if (r.logits) out_rows.push_back(t);
  }
  logits_.resize(static_cast<size_t>(std::max<int64_t>(1, static_cast<int64_t>(out_rows.size())) * n_vocab));
  run_rows(tokens.data(), br, out_rows, logits_.data());
  for (int64_t t = 0; t < n; ++t)
    if (t + 1 == n || rows[static_cast<size_t>(t + 1)].seq != rows[static_cast<size_t>(t)].seq)
      rows[static_cast<size_t>(t)].seq->advance(br[static_cast<size_t>(t)].pos + 1 - rows[static_cast<size_t>(t)].seq->n_past());
  return logits_.data();
}

const float* Engine::eval(Sequence& seq, const int32_t* tokens, int64_t n, bool all_logits) {
  if (n <= 0) fail("eval needs at least one token");
  if (seq.n_past() + n > seq.n_ctx())
    fail("context full: {} + {} tokens exceed the context size {}", seq.n_past(), n, seq.n_ctx());
  const int64_t n_vocab = m_.cfg.n_vocab;
  std::vector<float> all;
  if (all_logits) all.resize(static_cast<size_t>(n * n_vocab));
  std::vector<Row> rows;
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(n_batch_, n - done);
    rows.clear();
    for (int64_t t = 0; t < k; ++t) rows.push_back({&seq, tokens[done + t], all_logits || done + t == n - 1});
    const float* out = forward(rows);
    if (all_logits) std::copy(out, out + k * n_vocab, all.begin() + done * n_vocab);
    done += k;
  }
  if (all_logits) logits_.swap(all);
  return logits_.data();
}

void Engine::run_rows(const int32_t* tokens, const std::vector<BatchRow>& rows, const std::vector<int64_t>& out_rows,
                      float* logits_out) {
  const ModelConfig& c = m_.cfg;
  const ModelWeights& w = m_.w;
  const int64_t n = static_cast<int64_t>(rows.size());
  for (int64_t t = 0; t < n; ++t) matrix_row(w.token_embd, tokens[t], &buf_.x[t * c.dim]);
  if (c.embed_scale != 1.0f)
    for (int64_t i = 0; i < n * c.dim; ++i) buf_.x[i] *= c.embed_scale;
  for (int64_t l = 0; l < c.n_layers; ++l) llama_block_forward(c, w.layers[l], l, buf_, rows, *pool_, observer_ ? &observer_ : nullptr);
  const auto n_out = static_cast<int64_t>(out_rows.size());
  if (n_out == 0) return;
  // Only the rows whose logits are wanted go through the final norm and the head.
  for (int64_t i = 0; i < n_out; ++i)
    ops::rmsnorm(&buf_.xb[i * c.dim], &buf_.x[out_rows[static_cast<size_t>(i)] * c.dim], w.output_norm.data(), c.dim,
                 c.norm_eps);
  if (observer_) observer_(w.output, buf_.xb.data(), c.dim, n_out);
  linear(w.output, buf_.xb.data(), c.dim, n_out, logits_out, c.n_vocab, *pool_);
  if (c.final_softcap > 0.0f) ops::softcap(logits_out, n_out * c.n_vocab, c.final_softcap);
}

}  // namespace pocketllm
