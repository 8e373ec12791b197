// What a loaded model's family adds to the plain llama block, in words (for
// `pocketllm info`), and which stored tensors fuse several output blocks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "model/model.h"

namespace pocketllm {

// "qwen2: Q/K/V biases, tied embeddings", "gemma2: GeGLU (tanh GELU), ...".
std::string describe_family(const Model& m);

// The row blocks of a fused tensor (GGUF name), e.g. phi3's attn_qkv -> {q, k, v}
// rows and its ffn_up -> {gate, up} rows; empty when `name` is not fused. Each
// block is a separate projection: quantizers must not mix rows across blocks
// (bind_weights views each block on its own).
std::vector<int64_t> fused_row_blocks(const ModelConfig& c, const std::string& name, int64_t rows);

// For writers of model files (quantizer/export_*, runtime's synthetic models), what
// model/arch knows of each family; `source` names the model in errors.
// config.json's "architectures" class of the family ("Qwen2ForCausalLM").
std::string hf_class_name(const std::string& arch, const std::string& source);
// Whether HF stores the family's RMSNorm gains as w of (1 + w) (gemma), GGUF as 1 + w.
bool hf_norms_store_w(const std::string& arch, const std::string& source);
// A GGUF tensor name as Hugging Face names it in that family; empty when it has none.
std::string hf_tensor_name(const std::string& arch, const std::string& gguf_name, const std::string& source);
// The family's config.json keys beyond the common ones (HF export).
void write_family_hf_config(const ModelConfig& c, nlohmann::json& cfg, const std::string& source);
// The family's GGUF metadata beyond the common keys.
void write_family_gguf_metadata(const ModelConfig& c, gguf::Writer& w);
// How the family's GGUF files store RoPE pairs.
RopeStyle gguf_rope_style(const std::string& arch, const std::string& source);
// The tensors llama.cpp's converter writes for the family beyond llama's (synthetic models).
struct FamilyTensors {
  bool fused_qkv = false;      // attn_qkv instead of attn_q/k/v
  bool fused_gate_up = false;  // ffn_up holds [gate; up], no ffn_gate
  bool qkv_bias = false;       // attn_q/k/v.bias
};
FamilyTensors family_tensors(const std::string& arch, const std::string& source);
// Every `pattern`-th layer full attention, the rest sliding (0: none sliding).
std::vector<bool> sliding_layers_every(int64_t n_layers, int64_t pattern);
// Binds m.w to m.tensors (a model assembled in memory, e.g. over transformed float weights).
void bind_model_weights(Model& m);

}  // namespace pocketllm
