// The supported architectures: what each reads beyond the common llama-style
// hyperparameters, and how its Hugging Face tensor names map to GGUF names.
// One file per family (arch/<family>.cpp) fills an Architecture; the loaders,
// bind_weights and the block stay family-agnostic.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf.h"
#include "model/config.h"

namespace pocketllm::detail {

// config.json reading with clear errors (source = the config.json path).
struct HfConfig {
  const nlohmann::json& j;
  std::string source;
  bool has(const std::string& key) const { return j.contains(key) && !j[key].is_null(); }
  int64_t integer(const std::string& key, std::optional<int64_t> dflt = {}) const;
  double number(const std::string& key, double dflt) const;
  std::string string(const std::string& key, const std::string& dflt) const;
  bool boolean(const std::string& key, bool dflt) const;
};

// GGUF <arch>.* keys (source = the file path).
struct GgufKeys {
  const gguf::File& f;
  std::string prefix;  // "<arch>."
  std::string source;
  std::optional<int64_t> integer(const std::string& key) const { return f.get_int(prefix + key); }
  std::optional<double> number(const std::string& key) const { return f.get_float(prefix + key); }
};

struct Architecture {
  std::string name;                    // GGUF general.architecture
  std::vector<std::string> hf_types;   // config.json model_type values
  std::string hf_class;                // config.json "architectures" entry (HF export)
  RopeStyle gguf_rope = RopeStyle::Neox;
  bool hf_norms_store_w = false;       // HF stores RMSNorm weights as w of (1 + w) (gemma)
  bool fused_gate_up = false;          // ffn_up may hold [gate; up] with no ffn_gate (phi3)
  bool fused_qkv = false;              // llama.cpp's converter writes attn_qkv ([q; k; v] rows) (phi3)
  bool qkv_bias = false;               // attn_q/k/v carry biases (qwen2)
  bool hf_longrope = false;            // config.json's rope_scaling may be longrope / su (phi3)
  // HF per-layer tensor names (after "model.layers.N.") that differ from llama's.
  std::vector<std::pair<std::string, std::string>> hf_layer_names;
  // Family hyperparameters, after the common ones are read.
  void (*from_gguf)(ModelConfig& c, const GgufKeys& k) = nullptr;
  void (*from_hf)(ModelConfig& c, const HfConfig& k) = nullptr;
  // GGUF metadata beyond the common keys, for export.
  void (*to_gguf)(const ModelConfig& c, gguf::Writer& w) = nullptr;
  // config.json keys beyond the common ones, for HF export (what from_hf reads back).
  void (*to_hf)(const ModelConfig& c, nlohmann::json& cfg) = nullptr;
};

const std::vector<Architecture>& architectures();
// Throws Error naming the architecture and listing the supported ones.
const Architecture& architecture(const std::string& name, const std::string& source);
// By config.json model_type; nullptr when unknown.
const Architecture* architecture_for_hf_type(const std::string& model_type);

// HF tensor name -> GGUF name for `a`; empty when the tensor is not used.
std::string hf_to_gguf_name(const Architecture& a, const std::string& hf);
// The inverse (for HF export); empty when there is none.
std::string gguf_to_hf_name(const Architecture& a, const std::string& gguf);

// Per-layer attention kinds from HF's layer_types list ("sliding_attention" /
// "full_attention"), or every `pattern`-th layer full and the rest sliding.
std::vector<bool> sliding_layers_from_hf(const HfConfig& k, int64_t n_layers, int64_t pattern);
std::vector<bool> sliding_layers_by_pattern(int64_t n_layers, int64_t pattern);

// Writes the family's GGUF metadata (export_gguf calls this after the common keys).
void write_arch_gguf_metadata(const ModelConfig& c, gguf::Writer& w);

// The family architectures (arch/<family>.cpp).
Architecture llama_architecture();
Architecture qwen2_architecture();
Architecture qwen3_architecture();
Architecture gemma2_architecture();
Architecture gemma3_architecture();
Architecture phi3_architecture();

}  // namespace pocketllm::detail
