#include "quantizer/export_hf.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "model/arch/family.h"
#include "quantizer/export_gguf.h"
#include "model/qk_layout.h"

namespace pocketllm {

namespace {
// The config.json keys of the features every family may have, then the family's own
// (model/arch: what load_hf and arch/ read back).
void family_config(const ModelConfig& c, nlohmann::json& cfg, const std::string& source) {
  if (c.rope_linear_factor != 1.0f) cfg["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_linear_factor}};
  if (c.sliding_window > 0) {
    cfg["sliding_window"] = c.sliding_window;
    nlohmann::json types = nlohmann::json::array();
    for (int64_t i = 0; i < c.n_layers; ++i) types.push_back(c.is_sliding(i) ? "sliding_attention" : "full_attention");
    cfg["layer_types"] = types;
  }
  if (c.rope_longrope.enabled)
    cfg["original_max_position_embeddings"] = c.rope_longrope.original_context;
  write_family_hf_config(c, cfg, source);
}
}  // namespace

void export_hf(const Model& m, const std::string& dir, DType dtype) {
  const ModelConfig& c = m.cfg;
  if (c.online_down_rotation)  // Hugging Face has no place for the online ffn_down transform
    fail("{}: this model needs pocketllm's online ffn_down rotation and cannot be exported to Hugging Face", m.path);
  if (m.w.rope_freq_factors.size() && !c.rope_llama3.enabled)
    fail("{}: per-pair rope frequency factors cannot be expressed in config.json", m.path);
  std::filesystem::create_directories(dir);
  nlohmann::json cfg = {
      {"architectures", {hf_class_name(c.arch, m.path)}},
      {"model_type", c.arch},
      {"hidden_size", c.dim},
      {"intermediate_size", c.hidden_dim},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"vocab_size", c.n_vocab},
      {"max_position_embeddings", c.context_length},
      {"rms_norm_eps", c.norm_eps},
      {"rope_theta", c.rope_theta},
      {"tie_word_embeddings", c.tied_embeddings},
      {"hidden_act", "silu"},
      {"torch_dtype", dtype == DType::F32 ? "float32" : dtype == DType::F16 ? "float16" : "bfloat16"}};
  if (c.rope_llama3.enabled)
    cfg["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", c.rope_llama3.factor},
                           {"low_freq_factor", c.rope_llama3.low_freq_factor},
                           {"high_freq_factor", c.rope_llama3.high_freq_factor},
                           {"original_max_position_embeddings", c.rope_llama3.original_context}};
  family_config(c, cfg, m.path);
  if (c.rope_longrope.enabled)
    cfg["rope_scaling"] = {{"rope_type", "longrope"},
                           {"attention_factor", c.rope_longrope.attn_factor},
                           {"short_factor", m.w.rope_factors_short},
                           {"long_factor", m.w.rope_factors_long}};
  const bool norms_store_w = hf_norms_store_w(c.arch, m.path);
  const bool interleaved = gguf_rope_style(c.arch, m.path) == RopeStyle::Interleaved;  // llama
  std::vector<ExportedTensor> store;
  std::vector<std::string> names;
  std::vector<std::vector<uint64_t>> shapes;
  for (auto& [name, t] : m.tensors) {
    std::string hn = hf_tensor_name(c.arch, name, m.path);
    if (hn.empty()) continue;
    int64_t rows, cols;
    std::vector<float> f = tensor_as_f32(m, name, rows, cols);  // GGUF layout (interleaved Q/K for llama)
    const bool is_q = name.ends_with("attn_q.weight"), is_k = name.ends_with("attn_k.weight");
    if (interleaved && (is_q || is_k)) {  // back to HF's half-split order
      auto p = permute_qk_rows(reinterpret_cast<const uint8_t*>(f.data()), is_q ? c.n_heads : c.n_kv_heads,
                               c.head_dim, static_cast<size_t>(cols) * 4, false);
      std::memcpy(f.data(), p.data(), p.size());
    }
    if (norms_store_w && name.ends_with("norm.weight") && t.ne.size() == 1)
      for (auto& v : f) v -= 1.0f;  // GGUF's 1 + w back to HF's w
    store.push_back(store_float(t.ne.size() == 1 ? DType::F32 : dtype, f.data(), f.size()));
    names.push_back(hn);
    shapes.push_back(std::vector<uint64_t>(t.ne.rbegin(), t.ne.rend()));
  }
  std::vector<safetensors::WriteTensor> wt;
  for (size_t i = 0; i < store.size(); ++i)
    wt.push_back({names[i], dtype_name(store[i].type), shapes[i], store[i].bytes.data(), store[i].bytes.size()});
  safetensors::write(dir + "/model.safetensors", wt, {{"format", "pt"}});
  write_file_atomic(dir + "/config.json", cfg.dump(2));
}

}  // namespace pocketllm
