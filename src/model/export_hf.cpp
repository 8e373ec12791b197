#include "model/export_hf.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "model/export_gguf.h"
#include "model/qk_layout.h"

namespace pocketllm {

namespace {
std::string hf_name(const std::string& g) {
  static const std::pair<const char*, const char*> fixed[] = {
      {"token_embd.weight", "model.embed_tokens.weight"}, {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  for (auto& [a, b] : fixed)
    if (g == a) return b;
  static const std::regex blk(R"(blk\.(\d+)\.(.+))");
  static const std::pair<const char*, const char*> per_layer[] = {
      {"attn_norm.weight", "input_layernorm.weight"},     {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},       {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},  {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},           {"attn_v.bias", "self_attn.v_proj.bias"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"}, {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},            {"ffn_down.weight", "mlp.down_proj.weight"}};
  std::smatch m;
  if (std::regex_match(g, m, blk))
    for (auto& [a, b] : per_layer)
      if (m[2] == a) return "model.layers." + m[1].str() + "." + b;
  return "";
}
}  // namespace

void export_hf(const Model& m, const std::string& dir, DType dtype) {
  const ModelConfig& c = m.cfg;
  if (m.w.rope_freq_factors.size() && !c.rope_llama3.enabled)
    fail("{}: per-pair rope frequency factors cannot be expressed in config.json", m.path);
  std::filesystem::create_directories(dir);
  nlohmann::json cfg = {
      {"architectures", {c.arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
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
  std::vector<ExportedTensor> store;
  std::vector<std::string> names;
  std::vector<std::vector<uint64_t>> shapes;
  for (auto& [name, t] : m.tensors) {
    std::string hn = hf_name(name);
    if (hn.empty()) continue;
    int64_t rows, cols;
    std::vector<float> f = tensor_as_f32(m, name, rows, cols);  // GGUF layout (interleaved Q/K for llama)
    const bool is_q = name.ends_with("attn_q.weight"), is_k = name.ends_with("attn_k.weight");
    if (c.arch == "llama" && (is_q || is_k)) {  // back to HF's half-split order
      auto p = permute_qk_rows(reinterpret_cast<const uint8_t*>(f.data()), is_q ? c.n_heads : c.n_kv_heads,
                               c.head_dim, static_cast<size_t>(cols) * 4, false);
      std::memcpy(f.data(), p.data(), p.size());
    }
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
