// Binds named tensors to the block layout shared by every family: the llama block
// plus optional Q/K/V biases, Q/K norms, post-norms, and fused QKV / gate-up
// matrices (phi3), which are bound as row views of the fused tensor.
#include <fmt/ranges.h>

#include "core/error.h"
#include "kernels/int_weights.h"
#include "kernels/table.h"
#include "model/arch/arch.h"
#include "model/loader_internal.h"
#include "weights/row_codec.h"

namespace pocketllm::detail {

namespace {
std::string shape_str(const std::vector<uint64_t>& ne) { return fmt::format("[{}]", fmt::join(ne, ", ")); }

const TensorRef& need(Model& m, const std::string& name, std::vector<uint64_t> ne) {
  auto it = m.tensors.find(name);
  if (it == m.tensors.end()) fail("{}: missing tensor '{}'", m.path, name);
  if (it->second.ne != ne)
    fail("{}: tensor '{}' has shape {}, the model's config expects {}", m.path, name, shape_str(it->second.ne),
         shape_str(ne));
  return it->second;
}

// The mapped file a matrix's stored rows lie in, if any.
const MappedFile* mapped_source(const Model& m, const Matrix& mat) {
  const size_t n = mat.row_bytes * static_cast<size_t>(mat.rows);
  for (const auto& f : m.files)
    if (f->is_mapped() && mat.data >= f->data() && mat.data + n <= f->data() + f->size()) return f.get();
  return nullptr;
}

// Once a matrix has been repacked into memory of its own, its pages in the mapped
// file are dropped from the resident set (they are re-read from the file if touched
// again), so a repacked model does not hold two copies of its weights.
void release_source(const Model& m, const Matrix& mat) {
  if (mat.packed_bytes == 0) return;
  if (const MappedFile* f = mapped_source(m, mat)) f->release(mat.data - f->data(), mat.row_bytes * static_cast<size_t>(mat.rows));
}

// Streamed matrices (every one decode reads whole per token) go to the model's
// huge-page arena, unless they already sit in memory read from the file (--no-mmap)
// and need no repacking. The token embedding is only row-read unless it is tied to
// the output, so it stays in the file: its untouched rows never become resident.
void prepare_bound(const Model& m, Matrix& mat, bool streamed) {
  if (!can_multiply(mat.type))
    fail("weights of type {} are not supported (docs/FORMAT.md lists the types pocketllm reads)", dtype_name(mat.type));
  const auto f = int_weight_format(mat.type);
  const bool kquant_tiles = kquant_tile_kernel(active_kernels(), mat.type) && mat.act == ActPrecision::Int8;
  const bool to_arena = m.arena && streamed && ((f && (!f->tiled || mapped_source(m, mat))) || kquant_tiles);
  const MappedFile* file = mapped_source(m, mat);
  SourceDone done;  // drop the file's pages chunk by chunk as they are repacked
  if (file) done = [file](const uint8_t* p, size_t n) { file->release(p - file->data(), n); };
  prepare_matrix(mat, active_kernels(), to_arena ? m.arena : nullptr, done);
  release_source(m, mat);
}

float static_act_scale(const Model& m, const std::string& name) {
  auto it = m.act_scales.find(name);
  return it == m.act_scales.end() ? 0.0f : it->second;
}

Matrix matrix(Model& m, const std::string& name, int64_t rows, int64_t cols, bool streamed = true) {
  const TensorRef& t = need(m, name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
  try {
    Matrix mat = make_matrix(t.type, rows, cols, t.data);
    mat.act = m.act;
    mat.act_scale = static_act_scale(m, name);
    prepare_bound(m, mat, streamed);
    return mat;
  } catch (const Error& e) {
    fail("{}: tensor '{}': {}", m.path, name, e.what());
  }
}

std::vector<float> vec(Model& m, const std::string& name, int64_t n) {
  const TensorRef& t = need(m, name, {static_cast<uint64_t>(n)});
  if (t.type != DType::F32 && t.type != DType::F16 && t.type != DType::BF16)
    fail("{}: tensor '{}' must be F32, F16 or BF16, not {}", m.path, name, dtype_name(t.type));
  std::vector<float> v(static_cast<size_t>(n));
  ggml_row_to_f32(t.type, t.data, v.data(), n);
  return v;
}

// Row blocks [r0, r0 + n) of a fused [rows][cols] tensor, each as its own Matrix.
std::vector<Matrix> split_rows(Model& m, const std::string& name, const std::vector<int64_t>& parts, int64_t cols) {
  int64_t rows = 0;
  for (auto p : parts) rows += p;
  const TensorRef& t = need(m, name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)});
  std::vector<Matrix> out;
  try {
    const size_t row_bytes = make_matrix(t.type, rows, cols, t.data).row_bytes;
    int64_t r0 = 0;
    for (auto p : parts) {
      Matrix mat = make_matrix(t.type, p, cols, t.data + static_cast<size_t>(r0) * row_bytes);
      mat.act = m.act;
      mat.act_scale = static_act_scale(m, name);
      prepare_bound(m, mat, true);
      out.push_back(std::move(mat));
      r0 += p;
    }
  } catch (const Error& e) {
    fail("{}: tensor '{}': {}", m.path, name, e.what());
  }
  return out;
}

std::vector<float> optional_vec(Model& m, const std::string& name, int64_t n) {
  return m.tensors.count(name) ? vec(m, name, n) : std::vector<float>{};
}
}  // namespace

void bind_weights(Model& m) {
  const ModelConfig& c = m.cfg;
  c.validate(m.path);
  check_architecture(c.arch, m.path);
  const bool fused_gate_up = architecture(c.arch, m.path).fused_gate_up;
  ModelWeights& w = m.w;
  const bool tied = !m.tensors.count("output.weight");
  w.token_embd = matrix(m, "token_embd.weight", c.n_vocab, c.dim, tied);
  w.output_norm = vec(m, "output_norm.weight", c.dim);
  if (!tied) {
    w.output = matrix(m, "output.weight", c.n_vocab, c.dim);
  } else {
    w.output = w.token_embd;  // tied embeddings
  }
  if (m.tensors.count("rope_freqs.weight")) w.rope_freq_factors = vec(m, "rope_freqs.weight", c.rot_dim() / 2);
  if (m.tensors.count("rope_factors_short.weight")) {
    w.rope_factors_short = vec(m, "rope_factors_short.weight", c.rot_dim() / 2);
    w.rope_factors_long = vec(m, "rope_factors_long.weight", c.rot_dim() / 2);
  }
  if (!w.rope_factors_short.empty() &&
      (w.rope_factors_short.size() != static_cast<size_t>(c.rot_dim() / 2) ||
       w.rope_factors_long.size() != w.rope_factors_short.size()))
    fail("{}: LongRoPE factor lists need {} values each", m.path, c.rot_dim() / 2);
  w.layers.resize(static_cast<size_t>(c.n_layers));
  std::shared_ptr<const OrthoTransform> down_rotation;
  if (c.online_down_rotation) {  // the m x m block of the online transform (quant/rotate.h)
    const int64_t k = odd_factor(c.hidden_dim);
    const TensorRef& t = need(m, "ffn_down_rotation.weight", {static_cast<uint64_t>(k), static_cast<uint64_t>(k)});
    if (t.type != DType::F32) fail("{}: tensor 'ffn_down_rotation.weight' must be F32", m.path);
    std::vector<float> q(static_cast<size_t>(k * k));
    ggml_row_to_f32(t.type, t.data, q.data(), k * k);
    down_rotation = std::make_shared<const OrthoTransform>(OrthoTransform::from_block(c.hidden_dim, std::move(q)));
  }
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    l.attn_norm = vec(m, p + "attn_norm.weight", c.dim);
    if (m.tensors.count(p + "attn_qkv.weight")) {
      auto qkv = split_rows(m, p + "attn_qkv.weight", {c.q_dim(), c.kv_dim(), c.kv_dim()}, c.dim);
      l.wq = qkv[0], l.wk = qkv[1], l.wv = qkv[2];
    } else {
      l.wq = matrix(m, p + "attn_q.weight", c.q_dim(), c.dim);
      l.wk = matrix(m, p + "attn_k.weight", c.kv_dim(), c.dim);
      l.wv = matrix(m, p + "attn_v.weight", c.kv_dim(), c.dim);
    }
    l.wo = matrix(m, p + "attn_output.weight", c.dim, c.q_dim());
    l.bq = optional_vec(m, p + "attn_q.bias", c.q_dim());
    l.bk = optional_vec(m, p + "attn_k.bias", c.kv_dim());
    l.bv = optional_vec(m, p + "attn_v.bias", c.kv_dim());
    if (c.qk_norm) {
      l.q_norm = vec(m, p + "attn_q_norm.weight", c.head_dim);
      l.k_norm = vec(m, p + "attn_k_norm.weight", c.head_dim);
    }
    if (c.post_norms) {
      l.post_attn_norm = vec(m, p + "post_attention_norm.weight", c.dim);
      l.post_ffn_norm = vec(m, p + "post_ffw_norm.weight", c.dim);
    }
    l.ffn_norm = vec(m, p + "ffn_norm.weight", c.dim);
    if (fused_gate_up && !m.tensors.count(p + "ffn_gate.weight")) {  // phi3 stores ffn_up as [gate; up]
      auto gate_up = split_rows(m, p + "ffn_up.weight", {c.hidden_dim, c.hidden_dim}, c.dim);
      l.w_gate = gate_up[0], l.w_up = gate_up[1];
    } else {
      l.w_gate = matrix(m, p + "ffn_gate.weight", c.hidden_dim, c.dim);
      l.w_up = matrix(m, p + "ffn_up.weight", c.hidden_dim, c.dim);
    }
    l.w_down = matrix(m, p + "ffn_down.weight", c.dim, c.hidden_dim);
    l.down_rotation = down_rotation;
  }
}

}  // namespace pocketllm::detail
