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
#include "model/attention.h"
#include "model/context.h"
#include "model/ops.h"

namespace pocketllm {

namespace {
void add_bias(float* y, const std::vector<float>& b, int64_t n_tokens, int64_t dim) {
  if (b.empty()) return;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t i = 0; i < dim; ++i) y[t * dim + i] += b[i];
}

}  // namespace

void llama_block_forward(const ModelConfig& c, const LayerWeights& w, int64_t layer, BlockBuffers& b,
                         const std::vector<BatchRow>& rows, const float* inv_freq, ThreadPool& pool) {
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t dim = c.dim, qd = c.q_dim(), kvd = c.kv_dim(), hid = c.hidden_dim;

  // Attention
  for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&b.xb[t * dim], &b.x[t * dim], w.attn_norm.data(), dim, c.norm_eps);
  const LinearOut qkv[] = {{&w.wq, b.q.data(), qd}, {&w.wk, b.k.data(), kvd}, {&w.wv, b.v.data(), kvd}};
  linear_shared_input(qkv, b.xb.data(), dim, n, pool);
  add_bias(b.q.data(), w.bq, n, qd);
  add_bias(b.k.data(), w.bk, n, kvd);
  add_bias(b.v.data(), w.bv, n, kvd);
  if (c.qk_norm) {
    const int64_t hd = c.head_dim;
    for (int64_t r = 0; r < n * c.n_heads; ++r) ops::rmsnorm(&b.q[r * hd], &b.q[r * hd], w.q_norm.data(), hd, c.norm_eps);
    for (int64_t r = 0; r < n * c.n_kv_heads; ++r) ops::rmsnorm(&b.k[r * hd], &b.k[r * hd], w.k_norm.data(), hd, c.norm_eps);
  }
  const float mscale = c.rope_longrope.enabled ? c.rope_longrope.attn_factor : 1.0f;
  for (int64_t t = 0; t < n; ++t) {
    ops::rope(&b.q[t * qd], c.n_heads, c.head_dim, rows[t].pos, inv_freq, c.rope_style, c.rot_dim(), mscale);
    ops::rope(&b.k[t * kvd], c.n_kv_heads, c.head_dim, rows[t].pos, inv_freq, c.rope_style, c.rot_dim(), mscale);
    rows[t].kv->store(layer, rows[t].pos, &b.k[t * kvd], &b.v[t * kvd]);
  }
  attention(c, layer, rows, b.q.data(), b.att.data(), pool);
  linear(w.wo, b.att.data(), qd, n, b.xb.data(), dim, pool);
  if (c.post_norms)
    for (int64_t t = 0; t < n; ++t)
      ops::rmsnorm(&b.xb[t * dim], &b.xb[t * dim], w.post_attn_norm.data(), dim, c.norm_eps);
  for (int64_t i = 0; i < n * dim; ++i) b.x[i] += b.xb[i];

  // Feed-forward (SwiGLU, or GeGLU for gemma)
  for (int64_t t = 0; t < n; ++t) ops::rmsnorm(&b.xb[t * dim], &b.x[t * dim], w.ffn_norm.data(), dim, c.norm_eps);
  const LinearOut gate_up[] = {{&w.w_gate, b.hb.data(), hid}, {&w.w_up, b.hb2.data(), hid}};
  linear_shared_input(gate_up, b.xb.data(), dim, n, pool);
  if (c.act == Activation::GeluTanh) ops::geglu_tanh(b.hb.data(), b.hb2.data(), n * hid);
  else ops::swiglu(b.hb.data(), b.hb2.data(), n * hid);
  if (c.online_down_rotation) w.down_rotation->apply_transposed_rows(b.hb.data(), n, hid);  // quant/rotate.h
  linear(w.w_down, b.hb.data(), hid, n, b.xb.data(), dim, pool);
  if (c.post_norms)
    for (int64_t t = 0; t < n; ++t)
      ops::rmsnorm(&b.xb[t * dim], &b.xb[t * dim], w.post_ffn_norm.data(), dim, c.norm_eps);
  for (int64_t i = 0; i < n * dim; ++i) b.x[i] += b.xb[i];
}

}  // namespace pocketllm
