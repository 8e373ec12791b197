#include "quantizer/export_gguf.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "core/timer.h"
#include "kernels/int_weights.h"
#include "model/arch/family.h"
#include "model/ops.h"
#include "model/qk_layout.h"
#include "quant/quantize.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

ExportedTensor store_float(DType type, const float* data, size_t n) {
  ExportedTensor t{type, {}};
  switch (type) {
    case DType::F32:
      t.bytes.resize(n * 4);
      std::memcpy(t.bytes.data(), data, n * 4);
      break;
    case DType::F16: {
      t.bytes.resize(n * 2);
      auto* h = reinterpret_cast<uint16_t*>(t.bytes.data());
      for (size_t i = 0; i < n; ++i) h[i] = f32_to_f16(data[i]);
      break;
    }
    case DType::BF16: {
      t.bytes.resize(n * 2);
      auto* h = reinterpret_cast<uint16_t*>(t.bytes.data());
      for (size_t i = 0; i < n; ++i) h[i] = f32_to_bf16(data[i]);
      break;
    }
    default:
      fail("store_float: {} is not a float type", dtype_name(type));
  }
  return t;
}

std::vector<float> tensor_as_f32(const Model& m, const std::string& name, int64_t& rows, int64_t& cols) {
  auto it = m.tensors.find(name);
  if (it == m.tensors.end()) fail("{}: missing tensor '{}'", m.path, name);
  const TensorRef& t = it->second;
  cols = static_cast<int64_t>(t.ne[0]);
  rows = 1;
  for (size_t i = 1; i < t.ne.size(); ++i) rows *= static_cast<int64_t>(t.ne[i]);
  std::vector<float> out;
  if (const auto f = int_weight_format(t.type); f && f->tiled) {
    // Tiles have no row access: each row block is a whole tiled matrix (a fused tensor such
    // as phi3's attn_qkv is tiled block by block, docs/FORMAT.md), dequantized as one.
    std::vector<int64_t> blocks = fused_row_blocks(m.cfg, name, rows);
    if (blocks.empty()) blocks = {rows};
    const size_t row_bytes = *dtype_row_bytes(t.type, static_cast<uint64_t>(cols));
    out.reserve(static_cast<size_t>(rows * cols));
    int64_t r0 = 0;
    for (int64_t b : blocks) {
      const size_t off = static_cast<size_t>(r0) * row_bytes, n = static_cast<size_t>(b) * row_bytes;
      if (off + n > t.nbytes) fail("{}: tensor '{}' is shorter than {} rows", m.path, name, rows);
      const std::vector<float> part = dequantize(t.type, t.data + off, n, b, cols);
      out.insert(out.end(), part.begin(), part.end());
      r0 += b;
    }
  } else {
    out.resize(static_cast<size_t>(rows * cols));
    Matrix mat = make_matrix(t.type, rows, cols, t.data);
    for (int64_t r = 0; r < rows; ++r) matrix_row(mat, r, &out[static_cast<size_t>(r * cols)]);
  }
  const bool is_q = name.ends_with("attn_q.weight"), is_k = name.ends_with("attn_k.weight");
  if (m.format == ModelFormat::HuggingFace && m.cfg.rope_style == RopeStyle::Neox &&
      gguf_rope_style(m.cfg.arch, m.path) == RopeStyle::Interleaved &&
      (is_q || is_k)) {
    const int64_t heads = is_q ? m.cfg.n_heads : m.cfg.n_kv_heads;
    auto p = permute_qk_rows(reinterpret_cast<const uint8_t*>(out.data()), heads, m.cfg.head_dim,
                             static_cast<size_t>(cols) * 4, true);
    std::memcpy(out.data(), p.data(), p.size());
  }
  return out;
}

void export_gguf(const Model& m, const std::string& path, const ExportOptions& opt) {
  const ModelConfig& c = m.cfg;
  gguf::Writer w;
  const std::string a = c.arch + ".";
  w.set("general.architecture", gguf::Value::str(c.arch));
  if (!c.name.empty()) w.set("general.name", gguf::Value::str(c.name));
  w.set(a + "context_length", gguf::Value::u32(static_cast<uint32_t>(c.context_length)));
  w.set(a + "embedding_length", gguf::Value::u32(static_cast<uint32_t>(c.dim)));
  w.set(a + "feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(c.hidden_dim)));
  w.set(a + "block_count", gguf::Value::u32(static_cast<uint32_t>(c.n_layers)));
  w.set(a + "attention.head_count", gguf::Value::u32(static_cast<uint32_t>(c.n_heads)));
  w.set(a + "attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(c.n_kv_heads)));
  w.set(a + "attention.layer_norm_rms_epsilon", gguf::Value::f32(c.norm_eps));
  w.set(a + "rope.freq_base", gguf::Value::f32(c.rope_theta));
  w.set(a + "rope.dimension_count", gguf::Value::u32(static_cast<uint32_t>(c.rot_dim())));
  if (c.head_dim * c.n_heads != c.dim) {
    w.set(a + "attention.key_length", gguf::Value::u32(static_cast<uint32_t>(c.head_dim)));
    w.set(a + "attention.value_length", gguf::Value::u32(static_cast<uint32_t>(c.head_dim)));
  }
  w.set(a + "vocab_size", gguf::Value::u32(static_cast<uint32_t>(c.n_vocab)));
  write_family_gguf_metadata(c, w);  // family keys (model/arch/)
  if (m.tokenizer) m.tokenizer->write_gguf(w);
  if (!m.chat_template.empty()) w.set("tokenizer.chat_template", gguf::Value::str(m.chat_template));
  if (c.online_down_rotation) w.set("pocketllm.online_rotation", gguf::Value::str("ffn_down"));
  for (auto& [k, v] : opt.extra) w.set(k, v);

  std::vector<std::string> names;
  for (auto& [name, t] : m.tensors) names.push_back(name);
  // Llama 3 rope scaling travels as per-pair frequency divisors, as llama.cpp expects.
  std::vector<float> rope_factors;
  if (c.rope_llama3.enabled && !m.tensors.count("rope_freqs.weight")) {
    ModelConfig plain = c;
    plain.rope_llama3.enabled = false;
    auto base = ops::rope_inv_freq(plain, {}), scaled = ops::rope_inv_freq(c, {});
    for (size_t i = 0; i < base.size(); ++i) rope_factors.push_back(base[i] / scaled[i]);
  }
  Timer t;
  size_t done = 0;
  const size_t total = names.size() + (rope_factors.empty() ? 0 : 1);
  const bool tty = isatty(fileno(stderr));
  auto report = [&](const std::string& name) {
    ++done;
    if (!opt.progress) return;
    const double el = t.ms() / 1000.0, eta = el / static_cast<double>(done) * static_cast<double>(total - done);
    // A terminal gets one line redrawn; a log gets a line per ~10% (not one per tensor).
    if (tty) {
      std::fprintf(stderr, "\r[%zu/%zu] %-40s %5.1fs elapsed, ETA %5.1fs", done, total, name.c_str(), el, eta);
      if (done == total) std::fprintf(stderr, "\n");
    } else if (done == total || done * 10 / total != (done - 1) * 10 / total) {
      std::fprintf(stderr, "[%zu/%zu] %5.1fs elapsed, ETA %5.1fs\n", done, total, el, eta);
    }
  };
  for (auto& name : names) {
    const TensorRef& src = m.tensors.at(name);
    int64_t rows, cols;
    std::vector<float> f = tensor_as_f32(m, name, rows, cols);
    ExportedTensor e;
    if (opt.convert) e = opt.convert(name, rows, cols, f.data());
    else e = store_float(src.ne.size() == 1 ? DType::F32 : opt.type, f.data(), f.size());
    w.add_tensor_owned(name, e.type, src.ne, std::move(e.bytes));
    report(name);
  }
  if (!rope_factors.empty()) {
    auto e = store_float(DType::F32, rope_factors.data(), rope_factors.size());
    w.add_tensor_owned("rope_freqs.weight", DType::F32, {rope_factors.size()}, std::move(e.bytes));
    report("rope_freqs.weight");
  }
  if (opt.finish) opt.finish(w);
  w.write(path);
}

}  // namespace pocketllm
