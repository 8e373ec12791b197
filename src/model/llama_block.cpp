// The forward pass of one Llama block, for a batch of n tokens:
//   h   = x + Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
//   out = h + Wdown · (silu(Wgate·norm(h)) * Wup·norm(h))
// Every matrix product goes through linear() (Q/K/V and gate/up, which read the
// same input, through linear_shared_input()), whatever the weight format.
// The other families are this block with config switches:
//   qwen2: Q/K/V biases;  qwen3 (and gemma3): per-head RMSNorm of Q and K before RoPE;
//   gemma2/3: GELU-tanh gate, RMSNorm of the attention and FFN outputs before each
//   residual add (post-norms), score scale query_pre_attn_scalar^-1/2, sliding-window
//   layers, gemma2's tanh soft-capping of scores;  phi3: fused weights, split at load.
#include <span>

#include "model/attention.h"
#include "model/block.h"
#include "model/model.h"
#include "model/ops.h"

namespace pocketllm {

namespace {
void add_bias(float* y, const std::vector<float>& b, int64_t dim) {
  for (int64_t i = 0; i < static_cast<int64_t>(b.size()) && i < dim; ++i) y[i] += b[i];
}

// f(t) for every token t of the batch, split across the pool for prefill batches
// (each token's arithmetic is the same whichever thread runs it).
template <class F>
void per_token(ThreadPool& pool, int64_t n, F&& f) {
  if (n < 4) {
    for (int64_t t = 0; t < n; ++t) f(t);
    return;
  }
  pool.parallel_for(n, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) f(t);
  });
}

// Shows the observer (calibration) each product's weights and input, then runs them.
void observed_linears(const LinearObserver* observe, std::span<const LinearOut> outs, const float* x, int64_t ldx,
                      int64_t n, ThreadPool& pool) {
  if (observe)
    for (const auto& o : outs) (*observe)(*o.w, x, ldx, n);
  if (outs.size() == 1) return linear(*outs[0].w, x, ldx, n, outs[0].y, outs[0].ldy, pool);
  linear_shared_input(outs, x, ldx, n, pool);
}

}  // namespace

void llama_block_forward(const ModelConfig& c, const LayerWeights& w, int64_t layer, BlockBuffers& b,
                         const std::vector<BatchRow>& rows, ThreadPool& pool, const LinearObserver* observe) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t dim = c.dim, qd = c.q_dim(), kvd = c.kv_dim(), hid = c.hidden_dim, hd = c.head_dim;

  // Attention
  per_token(pool, n, [&](int64_t t) { ops::rmsnorm(&b.xb[t * dim], &b.x[t * dim], w.attn_norm.data(), dim, c.norm_eps); });
  const LinearOut qkv[] = {{&w.wq, b.q.data(), qd}, {&w.wk, b.k.data(), kvd}, {&w.wv, b.v.data(), kvd}};
  observed_linears(observe, qkv, b.xb.data(), dim, n, pool);
  const float mscale = c.rope_longrope.enabled ? c.rope_longrope.attn_factor : 1.0f;
  per_token(pool, n, [&](int64_t t) {
    float* q = &b.q[t * qd];
    float* k = &b.k[t * kvd];
    add_bias(q, w.bq, qd);
    add_bias(k, w.bk, kvd);
    add_bias(&b.v[t * kvd], w.bv, kvd);
    if (c.qk_norm) {
      for (int64_t h = 0; h < c.n_heads; ++h) ops::rmsnorm(q + h * hd, q + h * hd, w.q_norm.data(), hd, c.norm_eps);
      for (int64_t h = 0; h < c.n_kv_heads; ++h) ops::rmsnorm(k + h * hd, k + h * hd, w.k_norm.data(), hd, c.norm_eps);
    }
    const float* inv_freq = rows[t].rope->for_layer(c.is_sliding(layer));
    ops::rope(q, c.n_heads, hd, rows[t].pos, inv_freq, c.rope_style, c.rot_dim(), mscale);
    ops::rope(k, c.n_kv_heads, hd, rows[t].pos, inv_freq, c.rope_style, c.rot_dim(), mscale);
    rows[t].kv->store(layer, rows[t].pos, k, &b.v[t * kvd]);  // distinct (cache, position) per row
  });
  attention(c, layer, rows, b.q.data(), b.att.data(), pool);
  const LinearOut wo[] = {{&w.wo, b.xb.data(), dim}};
  observed_linears(observe, wo, b.att.data(), qd, n, pool);
  per_token(pool, n, [&](int64_t t) {
    float* xb = &b.xb[t * dim];
    if (c.post_norms) ops::rmsnorm(xb, xb, w.post_attn_norm.data(), dim, c.norm_eps);
    float* x = &b.x[t * dim];
    for (int64_t i = 0; i < dim; ++i) x[i] += xb[i];
    // Feed-forward input (SwiGLU, or GeGLU for gemma)
    ops::rmsnorm(xb, x, w.ffn_norm.data(), dim, c.norm_eps);
  });
  const LinearOut gate_up[] = {{&w.w_gate, b.hb.data(), hid}, {&w.w_up, b.hb2.data(), hid}};
  observed_linears(observe, gate_up, b.xb.data(), dim, n, pool);
  per_token(pool, n, [&](int64_t t) {
    if (c.act == Activation::GeluTanh) ops::geglu_tanh(&b.hb[t * hid], &b.hb2[t * hid], hid);
    else ops::swiglu(&b.hb[t * hid], &b.hb2[t * hid], hid);
  });
  if (c.online_down_rotation) w.down_rotation->apply_transposed_rows(b.hb.data(), n, hid);  // quant/rotate.h
  const LinearOut down[] = {{&w.w_down, b.xb.data(), dim}};
  observed_linears(observe, down, b.hb.data(), hid, n, pool);
  per_token(pool, n, [&](int64_t t) {
    float* xb = &b.xb[t * dim];
    if (c.post_norms) ops::rmsnorm(xb, xb, w.post_ffn_norm.data(), dim, c.norm_eps);
    float* x = &b.x[t * dim];
    for (int64_t i = 0; i < dim; ++i) x[i] += xb[i];
  });
}

}  // namespace pocketllm
