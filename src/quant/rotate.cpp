#include "quant/rotate.h"

#include "core/error.h"
#include "kernels/hadamard.h"

namespace pocketllm {

namespace {
FloatTensor& need(FloatTensors& t, const std::string& name) {
  auto it = t.find(name);
  if (it == t.end()) fail("rotate: missing tensor '{}'", name);
  return it->second;
}

// Rows w_r <- Rᵀ (g ∘ w_r): W diag(g) R.
void fold_reader(FloatTensor& w, const std::vector<float>& g, const OrthoTransform& r) {
  if (w.cols() != r.n) fail("rotate: a reader of the residual has {} columns, expected {}", w.cols(), r.n);
  for (int64_t i = 0; i < w.rows(); ++i) {
    float* row = w.row(i);
    if (!g.empty())
      for (int64_t c = 0; c < w.cols(); ++c) row[c] *= g[c];
    r.apply_transposed(row);
  }
}

// Rᵀ W: Rᵀ applied to every column.
void fold_writer(FloatTensor& w, const OrthoTransform& r) {
  const int64_t rows = w.rows(), cols = w.cols();
  if (rows != r.n) fail("rotate: a writer of the residual has {} rows, expected {}", rows, r.n);
  std::vector<float> col(static_cast<size_t>(rows));
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t i = 0; i < rows; ++i) col[i] = w.data[i * cols + c];
    r.apply_transposed(col.data());
    for (int64_t i = 0; i < rows; ++i) w.data[i * cols + c] = col[i];
  }
}

// Returns the norm's gain and sets it to ones.
std::vector<float> take_gain(FloatTensors& t, const std::string& name) {
  FloatTensor& n = need(t, name);
  std::vector<float> g = n.data;
  for (auto& v : n.data) v = 1.0f;
  return g;
}
}  // namespace

void rotate_model(FloatTensors& t, int64_t n_layers, const RotateOptions& o) {
  for (auto& [name, x] : t)
    if (name.ends_with("post_attention_norm.weight") || name.ends_with("post_ffw_norm.weight") ||
        name.ends_with("attn_output.bias") || name.ends_with("ffn_down.bias"))
      fail("rotate: tensor '{}' cannot be rotated exactly (post-norms or residual biases)", name);
  FloatTensor& emb = need(t, "token_embd.weight");
  const int64_t dim = emb.cols();
  const OrthoTransform r = OrthoTransform::make(dim, o.seed, true);
  if (!t.count("output.weight")) t["output.weight"] = emb;  // untie: head and embedding now differ
  for (int64_t i = 0; i < emb.rows(); ++i) r.apply_transposed(emb.row(i));
  fold_reader(need(t, "output.weight"), take_gain(t, "output_norm.weight"), r);

  int64_t hidden = 0;
  for (int64_t l = 0; l < n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const std::vector<float> ga = take_gain(t, p + "attn_norm.weight");
    for (const char* s : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_qkv.weight"})
      if (t.count(p + s)) fold_reader(t[p + s], ga, r);
    fold_writer(need(t, p + "attn_output.weight"), r);
    const std::vector<float> gf = take_gain(t, p + "ffn_norm.weight");
    for (const char* s : {"ffn_gate.weight", "ffn_up.weight"})
      if (t.count(p + s)) fold_reader(t[p + s], gf, r);
    FloatTensor& down = need(t, p + "ffn_down.weight");
    fold_writer(down, r);
    hidden = down.cols();
  }
  if (o.online_down && n_layers > 0) {
    const OrthoTransform d = OrthoTransform::make(hidden, o.seed + 1, false);
    for (int64_t l = 0; l < n_layers; ++l) {
      FloatTensor& down = need(t, "blk." + std::to_string(l) + ".ffn_down.weight");
      d.apply_transposed_rows(down.data.data(), down.rows(), down.cols());  // W T
    }
    t[kDownRotationTensor] = FloatTensor{{static_cast<uint64_t>(d.m), static_cast<uint64_t>(d.m)}, d.q};
  }
}

}  // namespace pocketllm
